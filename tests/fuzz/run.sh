#!/bin/sh
# tests/fuzz/run.sh SECONDS [TARGET...] - build the libFuzzer targets with
# ASan + UBSan into build/fuzz/ and run each for SECONDS (every target
# when none is named).  Prints one TAP line per target:
#     ok - fuzz TARGET: N execs in S s
#     not ok - fuzz TARGET: crash after N execs (input: build/fuzz/artifacts/...)
#
# The product's code is built by the top Makefile (make fuzz-objs with
# BUILD=build/fuzz CC=clang SANITIZE=fuzzer-no-link,address,undefined), so
# only what changed is rebuilt.  Seeds per target: the kept corpus in
# tests/fuzz/corpus/TARGET/ (crashers found earlier go there too, as
# regression inputs), what gen_seeds writes with the real encoders, and the
# repository's own files of that kind (playbooks, inventories, templates).
# New inputs the fuzzer finds stay in build/fuzz/corpus/TARGET/, never in
# the source tree.
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/fuzz
CC=${FUZZ_CC:-clang}
all="wire agent controller greeting known_hosts inventory playbook bundle
    template lines"
targets=${*:-$all}
# The largest frame (proto/wire.h KP_MAX_FRAME, 8 MiB) with its header,
# and a greeting line before it.
frame_max=$(( (8 << 20) + 64 + 256 ))
san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror
    -Wno-unused-parameter -iquote $top/proto -iquote $top/state
    -iquote $top/controller -iquote $top/agent -I$here"
pkglibs=$(pkg-config --libs libssh2 libevent yaml-0.1 sqlite3 libcrypto)

cd "$top"
make -s -j2 BUILD=build/fuzz CC="$CC" OPT="-O1 -g" \
    SANITIZE=fuzzer-no-link,address,undefined fuzz-objs
# As archives, so a target pulls in only what it uses (agent_image.o wants
# the embedded agent, which the fuzz build does not make).  The controller
# target leaves out the SSH transport (but known_hosts.c), the agent target
# the module handlers: each brings its own stand-ins (see those files).
objs() { find "$@" -name '*.o' | sort; }
lib() {		# lib NAME OBJS...
	n=$1; shift
	rm -f "$out/lib$n.a"
	ar rcs "$out/lib$n.a" "$@"
}
# shellcheck disable=SC2046
lib proto $(objs "$out/obj/proto")
# shellcheck disable=SC2046
lib ctl $(objs "$out/obj/proto" "$out/obj/state" "$out/obj/controller")
# shellcheck disable=SC2046
lib ctlnossh $(objs "$out/obj/proto" "$out/obj/state" "$out/obj/controller" |
    grep -v '/controller/ssh/' ) "$out/obj/controller/ssh/known_hosts.o"
# shellcheck disable=SC2046
lib ctlnoboot $(objs "$out/obj/proto" "$out/obj/state" "$out/obj/controller" |
    grep -v '/controller/ssh/boot.o')
# shellcheck disable=SC2046
lib agent $(objs "$out/aobj")
# shellcheck disable=SC2046
lib agentnomod $(objs "$out/aobj" | grep -v '/agent/mod_')

link() {	# link TARGET OBJS...
	t=$1; shift
	# shellcheck disable=SC2086
	$CC $cflags $san -o "$out/fuzz_$t" "$here/fuzz_$t.c" "$@"
}

mkdir -p "$out/artifacts"
for t in $all; do
	mkdir -p "$out/corpus/$t" "$out/seeds/$t" "$here/corpus/$t"
done
rm -rf "$out"/seeds/big-*
# Found inputs over 1 MiB are dropped: the largest-frame inputs below cover
# that size, and replaying a corpus of them at start would take a short
# run's whole time (a 8 MiB FACTS costs the controller target ~8 s).
find "$out/corpus" -type f -size +1M -delete
mkdir -p "$out/seeds/big-wire" "$out/seeds/big-agent" "$out/seeds/big-controller"
for t in $targets; do
	case $t in
	wire)		link wire "$out/libproto.a" ;;
	agent)		link agent "$out/libagentnomod.a" ;;
	lines)		link lines "$out/libagent.a" ;;
	# boot.c is compiled into the target (its scanner is static).
	greeting)	link greeting "$out/libctlnoboot.a" $pkglibs -lm ;;
	controller)	link controller "$out/libctlnossh.a" $pkglibs -lm ;;
	*)		link "$t" "$out/libctl.a" $pkglibs -lm ;;
	esac
done
# shellcheck disable=SC2086
$CC $cflags -fsanitize=fuzzer-no-link,address,undefined -o "$out/gen_seeds" \
    "$here/gen_seeds.c" "$out/libproto.a"
"$out/gen_seeds" "$out/seeds"
# The repository's own inputs of each kind.
cp "$top"/playbooks/*.yaml "$top"/playbooks/upgrade/*.yaml \
    "$out/seeds/playbook/" 2>/dev/null || true
for f in "$top"/tests/unit/data/pb/*/*.yaml; do
	cp "$f" "$out/seeds/playbook/$(basename "$(dirname "$f")")-$(basename "$f")"
done
cp "$top"/tests/unit/data/inv/*.yaml "$out/seeds/inventory/"
cp "$top"/examples/demo/inventory.yaml "$out/seeds/inventory/demo.yaml"
cp "$top"/playbooks/templates/* "$out/seeds/template/" 2>/dev/null || true

export KORCH_TOP="$top"
# The targets' temp files (fuzz_tmp.h) on tmpfs when there is one: the
# module writes and the state database fsync, which a disk makes the
# slowest part of an execution.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
rc=0
for t in $targets; do
	# A hang is a finding; a whole scheduler run on a busy machine is not.
	case $t in
	wire|agent)	max=$frame_max; tmo=20 ;;
	controller)	max=$frame_max; tmo=60 ;;
	*)		max=65536; tmo=20 ;;
	esac
	log=$out/fuzz_$t.log
	echo "fuzz_$t: running ${secs}s (max_len $max)" >&2
	set +e
	# The largest frames (gen_seeds' big-TARGET), once each, first: as
	# seeds they would make every mutation megabytes long.
	big=
	if [ -d "$out/seeds/big-$t" ]; then
		big=" (and $(ls "$out/seeds/big-$t" | wc -l) largest-frame input)"
		"$out/fuzz_$t" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
		    "$out/seeds/big-$t"/* >"$log.big" 2>&1
		st=$?
		if [ "$st" -ne 0 ]; then
			rc=1
			echo "not ok - fuzz $t: a largest-frame input fails" \
			    "(log: $log.big)"
			continue
		fi
	fi
	"$out/fuzz_$t" -max_total_time="$secs" -max_len="$max" -timeout="$tmo" \
	    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$out/artifacts/$t-" \
	    "$out/corpus/$t" "$out/seeds/$t" "$here/corpus/$t" >"$log" 2>&1
	st=$?
	set -e
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$st" -eq 0 ]; then
		echo "ok - fuzz $t: ${n:-0} execs in $secs s$big"
	else
		rc=1
		art=$(ls -t "$out/artifacts/$t-"* 2>/dev/null | head -1)
		echo "not ok - fuzz $t: crash after ${n:-?} execs (input:" \
		    "${art:-none}; log: $log); fix it, then add the input" \
		    "to tests/fuzz/corpus/$t/"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9] )' "$log" |
		    head -12 | sed 's/^/# /'
	fi
done
exit $rc
