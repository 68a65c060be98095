#!/usr/bin/env bash
# tests/bench/run.sh [bench.py options]  --  `make bench`
#
# korch against plain parallel OpenSSH on the test bed's light hosts, side by
# side, at N = 16, 64 and 256 (and 64 behind a bastion).  Prints one line per
# measurement:
#
#   bench name=<floor|floor-default-kex|korch-converge|korch-noop|...> hosts=N
#         wall_s=... cpu_s=... rss_mb=...
#
# then the ratios korch/floor, and writes docs/bench/RESULTS.md (table with
# the machine and versions), docs/bench/results.json and docs/bench/wall.png.
# Needs root (the test bed).  Options: tests/bench/bench.py --help.
# Environment: BUILD (default build), BENCH_SIZES (e.g. "16 64"),
# BENCH_RUNS (default 3), BENCH_OUT (default docs/bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ $(id -u) == 0 ]] || { echo "bench: must run as root (the test bed needs it)" >&2; exit 1; }
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
exec "$PY" "$ROOT/tests/bench/bench.py" --root "$ROOT" "$@"
