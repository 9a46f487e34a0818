#!/bin/sh
# Rebuild the committed test objects (needs clang-19; bpftool for the oracle dumps).
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
for t in bpfel bpfeb; do
	$CLANG -g -O2 --target=$t -c kinds.bpf.c -o kinds.$t.o
	if command -v bpftool >/dev/null; then
		bpftool btf dump file kinds.$t.o > kinds.$t.btf.txt
	fi
done
