#!/bin/sh
# Rebuild the committed engine test objects (bpfel + bpfeb). Run from anywhere; compiles
# in this directory with relative paths so the DWARF does not depend on the checkout.
# Needs clang-19 and libbpf-dev (/usr/include/bpf); host.bpf.c also needs
# fixtures/include/vmlinux.h (the host 6.18 kernel's types).
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
FLAGS="-O2 -g -mcpu=v3 -fdebug-compilation-dir=. -Wall -Wno-unused-variable"
for t in bpfel bpfeb; do
	$CLANG $FLAGS -target $t -c engine.bpf.c -o engine.$t.o
	$CLANG $FLAGS -target $t -c engine_target.bpf.c -o engine_target.$t.o
	$CLANG $FLAGS -target $t -DENG_BIG -c engine_target.bpf.c -o engine_target_big.$t.o
	$CLANG $FLAGS -target $t -I../../../fixtures/include -c host.bpf.c -o host.$t.o
	$CLANG $FLAGS -target $t -I/usr/include/$(gcc -print-multiarch) -c modtest.bpf.c -o modtest.$t.o
done
