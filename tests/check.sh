#!/usr/bin/env bash
# make check: build (plain and ASan+UBSan), then every suite in order.
# Each suite writes TAP-style "ok"/"not ok" lines to build/test-logs/SUITE.log;
# the summary counts them.  A suite that exits non-zero without reporting a
# failed test counts as one failure, so a crash never passes silently.
set -uo pipefail
cd "$(dirname "$0")/.."

LOGS=build/test-logs
SAN=build/san
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log
JOBS=$(nproc 2>/dev/null || echo 2)
export CMOCKA_MESSAGE_OUTPUT=TAP
# Sanitizers: abort on the first report so the suite fails loudly.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total_pass=0 total_fail=0
declare -a summary

run_suite() {
	local name=$1; shift
	local log=$LOGS/$name.log start end rc pass fail
	start=$(date +%s)
	printf '== %-12s ' "$name"
	"$@" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	pass=$(grep -cE '^ok( |$)' "$log" || true)
	fail=$(grep -cE '^not ok( |$)' "$log" || true)
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
		echo "not ok - suite $name exited with status $rc" >>"$log"
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	printf '%4d passed, %3d failed  (%ds)\n' "$pass" "$fail" $((end - start))
	if [ "$fail" -ne 0 ]; then
		echo "---- $log (failures and last lines) ----"
		grep -E '^not ok' "$log" | head -20
		tail -n 40 "$log"
		echo "----"
	fi
	summary+=("$name $pass $fail")
}

build_plain() {
	make -j"$JOBS" all it-bin && echo "ok - plain build (korch, static korch-agent)"
}
build_san() {
	make -j"$JOBS" BUILD=$SAN SANITIZE=address,undefined TEST_HOOKS=1 \
	    $SAN/korch $SAN/korch-agent-glibc unit-bin it-bin &&
	    echo "ok - ASan+UBSan build"
}
unit() {
	local t rc=0
	for t in "$SAN"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "# $t"
		"$t" 2>&1 || rc=1
	done
	return $rc
}

# The suites boot hosts of their own and need them fresh: a bed left up
# (make demo leaves its hosts running) would be reused by `testbed up`.
tests/testbed/testbed down >/dev/null 2>&1 || true

run_suite build build_plain
run_suite build-san build_san
run_suite unit unit
run_suite fuzz tests/fuzz/run.sh "${FUZZ_SECONDS:-8}"	# per target
run_suite integration tests/integration/run.sh "$SAN" build
# The agent's serve loop under valgrind memcheck, on a recorded session.
run_suite valgrind tests/valgrind-agent.sh build
run_suite bundle tests/bundle/check-bundle
run_suite testbed tests/testbed/testbed selftest
# The engine on the demo playbooks and the stand-in cluster, the
# controller under ASan+UBSan (its test hook kills it on cue).
run_suite e2e tests/e2e/run.sh "$SAN"
# Hostile inventory values on a real host, state.db 0600, signed apt repos.
run_suite trust-values tests/e2e/trust-values.sh "$SAN"
# Upgrades, rollback and etcd restore, with the controller under ASan+UBSan.
run_suite upgrade tests/e2e/upgrade.sh "$SAN"
# The fault suite, bounded (make faults runs the full counts): kill -9 of
# the controller in an apply and an upgrade, then each host fault once.
run_suite faults tests/faults/run.sh --bounded build
# The real Kubernetes 1.20.2 (built once per machine by tests/kube/build,
# then cached), the controller under ASan+UBSan.
run_suite real tests/e2e/real.sh "$SAN"
# Its rolling upgrade under traffic, with apiserver_lb local (haproxy).
run_suite real-upgrade tests/e2e/real-upgrade.sh "$SAN"
# Growing the cluster by the inventory (a node, etcd 1 -> 3) and a rolling
# restart of the masters on a flag change, on the real 1.20 cluster.
run_suite real-day2 tests/e2e/real-day2.sh "$SAN"
# Certificates: the listing against the hosts' files, renew --all with
# kubectl working throughout, a single renewal restarting its users only.
run_suite real-certs tests/e2e/real-certs.sh "$SAN"
# korch remove (a live node, a dead etcd member, the refusals) and
# korch reset, on the real 1.20 cluster.
run_suite real-day2-remove tests/e2e/real-day2-remove.sh "$SAN"
# High availability: three masters in local and in vip mode, a master
# killed, rolling restarts and an upgrade through the load balancer.
run_suite real-ha tests/e2e/real-ha.sh "$SAN"

echo
echo "Summary:"
for s in "${summary[@]}"; do
	set -- $s
	printf '  %-12s %4d passed, %3d failed\n' "$1" "$2" "$3"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
