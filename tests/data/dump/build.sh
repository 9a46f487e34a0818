#!/usr/bin/env bash
# Rebuild the `corepy btf dump` test inputs and bpftool's expected outputs.
#
# Needs: clang-19, llvm-strip-19, bpftool (Debian's 7.1 made the committed outputs), python3.
# Outputs (committed, in this directory):
#   kinds.bpfel.o, kinds.bpfeb.o       src/kinds.c for both byte orders (.BTF kept, DWARF stripped)
#   crafted.{le,be}.btf                hand-made raw BTF (make_crafted.py)
#   split_base.{le,be}.btf, split.{le,be}.btf   split BTF on a small base
#   expected/NAME.txt, expected/NAME.json       `bpftool btf dump` / `bpftool -j btf dump`
#                                               (split: `bpftool btf dump -B base file split`)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
CLANG=${CLANG:-clang-19}
STRIP=${STRIP:-llvm-strip-19}
BPFTOOL=${BPFTOOL:-bpftool}

for arch in bpfel bpfeb; do
	"$CLANG" -target "$arch" -O2 -g -fdebug-compilation-dir=. -Wall -Werror \
		-c src/kinds.c -o "kinds.$arch.o"
	"$STRIP" --strip-debug "kinds.$arch.o"
done
python3 make_crafted.py .

rm -rf expected
mkdir expected
for f in kinds.bpfel.o kinds.bpfeb.o crafted.le.btf crafted.be.btf \
	split_base.le.btf split_base.be.btf; do
	"$BPFTOOL" btf dump file "$f" > "expected/$f.txt"
	"$BPFTOOL" -j btf dump file "$f" > "expected/$f.json"
done
for o in le be; do
	"$BPFTOOL" btf dump -B "split_base.$o.btf" file "split.$o.btf" > "expected/split.$o.btf.txt"
	"$BPFTOOL" -j btf dump -B "split_base.$o.btf" file "split.$o.btf" > "expected/split.$o.btf.json"
done
# Real kernels (fixtures/kernels, if present): too big to commit bpftool's dumps, so keep
# their sha256 (text and JSON; module BTF dumped with -B on its vmlinux).
KDIR=../../../fixtures/kernels
if [[ -f $KDIR/manifest.json ]]; then
	python3 - "$KDIR" "$BPFTOOL" > expected/kernels.sha256 <<'PY'
import hashlib, json, lzma, os, subprocess, sys, tempfile
kdir, bpftool = sys.argv[1:]
with tempfile.TemporaryDirectory() as tmp:
    entries = json.load(open(os.path.join(kdir, "manifest.json")))
    for e in entries:
        with open(os.path.join(tmp, e["name"]), "wb") as f:
            f.write(lzma.decompress(open(os.path.join(kdir, e["file"]), "rb").read()))
    for e in entries:
        base = ["-B", os.path.join(tmp, e["base"])] if e.get("base") else []
        for fmt, opts in (("txt", []), ("json", ["-j"])):
            out = subprocess.run([bpftool, *opts, "btf", "dump", *base, "file",
                                  os.path.join(tmp, e["name"])], check=True,
                                 capture_output=True).stdout
            print(f"{hashlib.sha256(out).hexdigest()}  {e['name']}.{fmt}")
PY
fi
"$BPFTOOL" version | head -1 > expected/BPFTOOL_VERSION
sha256sum ./*.o ./*.btf expected/* > SHA256SUMS
