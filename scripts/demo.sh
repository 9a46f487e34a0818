#!/usr/bin/env bash
# The main job on a fresh machine: install corepy, then relocate one CO-RE object for three
# kernels (the running one, Debian 6.1 and Debian 6.12, whose BTF ships in fixtures/) and
# explain what changed between them.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -e . --config-settings editable_mode=compat >/dev/null
OBJ=fixtures/core/bpfel/prog__trace_task_file.o
OUT=${OUT:-build/demo}
mkdir -p "$OUT"
for k in debian-6.1-cloud-amd64 debian-6.12-cloud-amd64; do
    corepy relocate "$OBJ" --target "fixtures/kernels/$k.btf.xz" -o "$OUT/trace_task_file.$k.o" \
        --report "$OUT/trace_task_file.$k.json"
done
if [ -r /sys/kernel/btf/vmlinux ]; then
    corepy relocate "$OBJ" -o "$OUT/trace_task_file.host.o" --report "$OUT/trace_task_file.host.json"
fi
echo
echo "== why task_struct.pid moves: explain for Debian 6.1"
corepy explain "$OBJ" --target fixtures/kernels/debian-6.1-cloud-amd64.btf.xz | head -40
echo
echo "relocated objects and JSON reports are in $OUT/"
