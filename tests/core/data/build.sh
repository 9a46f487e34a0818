#!/usr/bin/env bash
# Rebuild the calculation-layer test objects (committed, so tests run without clang).
#   tests/core/data/<arch>/local.o, errors.o          programs (bpfel, bpfeb)
#   tests/core/data/<arch>/target_<variant>.o          target BTF variants
#   tests/core/data/<arch>/target_t32.o                V_same for a 32-bit CPU (pahole -J)
# Usage: build.sh [OUTDIR]  (default: tests/core/data). Needs clang-19; pahole for t32.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE}
CLANG=${CLANG:-clang-19}
PAHOLE=${PAHOLE:-pahole}
cd "$HERE/src"
COMMON=(-g -O2 -fdebug-compilation-dir=. -Wall -Werror -Wno-unused-variable)
declare -A T32=([bpfel]=i386-linux-gnu [bpfeb]=powerpc-linux-gnu)
for arch in bpfel bpfeb; do
	mkdir -p "$OUT/$arch"
	for p in local errors; do
		"$CLANG" -target "$arch" "${COMMON[@]}" -mcpu=v3 -I/usr/include -c "$p.c" \
			-o "$OUT/$arch/$p.o"
	done
	for v in same diff missing errs; do
		"$CLANG" -target "$arch" "${COMMON[@]}" -DV_"$v" -c target.c \
			-o "$OUT/$arch/target_$v.o"
	done
	if command -v "$PAHOLE" >/dev/null; then
		"$CLANG" -target "${T32[$arch]}" "${COMMON[@]}" -DV_same -c target.c \
			-o "$OUT/$arch/target_t32.o"
		"$PAHOLE" -J "$OUT/$arch/target_t32.o"
	fi
done
