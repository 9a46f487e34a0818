#!/usr/bin/env bash
# The test command (README): the whole suite, including root/bpf()/QEMU tests where possible.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m pytest -q -p no:cacheprovider "$@"
