#!/bin/sh
# tests/fuzz/run.sh SECONDS - build the wire-format fuzz target with
# libFuzzer + ASan + UBSan into build/fuzz/ and run it for SECONDS.
#
# Seeds: the kept corpus in tests/fuzz/corpus/ (crashers found earlier go
# there too, as regression inputs) plus one seed per message type that
# gen_seeds writes with the real encoders.  New inputs the fuzzer finds
# stay in build/fuzz/corpus/, never in the source tree.
set -eu

secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/fuzz
CC=${FUZZ_CC:-clang}
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -I$top/proto"
# All of proto/, as the agent and the controller link it (no list kept here).
src=$(echo "$top"/proto/*.c)

mkdir -p "$out/corpus" "$out/seeds" "$out/artifacts"
# shellcheck disable=SC2086
$CC $cflags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -o "$out/fuzz_wire" "$here/fuzz_wire.c" $src
# shellcheck disable=SC2086
$CC $cflags -o "$out/gen_seeds" "$here/gen_seeds.c" $src
"$out/gen_seeds" "$out/seeds"

echo "fuzz_wire: running ${secs}s" >&2
if "$out/fuzz_wire" -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" \
    "$out/corpus" "$out/seeds" "$here/corpus"; then
	echo "ok - fuzz_wire ran ${secs}s without a finding"
else
	echo "not ok - fuzz_wire found a crash; input in $out/artifacts/" \
	    "(add it to tests/fuzz/corpus/ once fixed)"
	exit 1
fi
