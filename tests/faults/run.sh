#!/usr/bin/env bash
# The fault suite: the controller killed, hosts and networks broken, on
# booted test-bed hosts running the cluster playbooks (real etcd and
# docker, the stand-in Kubernetes of tests/standins, offline bundles).
# Usage: run.sh [--bounded] BUILD   (make faults: full; make check: --bounded)
#
#  1. kill -9 of `korch apply` at random moments of a cluster apply on
#     fresh hosts, each followed by a rerun: every rerun converges; every
#     task result the killed run printed is in the state exactly once, as
#     printed (tests/faults/rows-check); PRAGMA integrity_check is ok after
#     the kill and after the rerun; the killed run is swept as interrupted.
#     Half the moments are times, half "the instant the Nth result line is
#     printed" (the window between reporting a result and committing it);
#     one more kill lands while the state's write lock is held by the test,
#     so a result printed before its row is committed shows as lost.
#  2. the same for `korch upgrade --to 1.9` (1.8.15 -> 1.9.11), each rerun
#     finishing the upgrade, then a rollback to 1.8.15 for the next one.
#  3. one apply of tests/faults/playbook (a step with a 10 s command, so a
#     fault lands mid-step on cue) on 7 hosts with a fault on each of five:
#     the agent killed mid-step (node3), the network cut mid-step until the
#     step timeout (node4), a host that takes TCP but never speaks SSH
#     (node5), an sshd that closes during authentication (node6, through
#     tests/faults/authclose), 10% packet loss during the apply (node7).
#     Each such host is reported failed or unreachable with its reason (the
#     message is asserted), node1 and node2 converge, and after healing a
#     rerun converges.
#
# Moments come from a seeded RNG: FAULTS_SEED=N replays a run.  Counts:
# FAULTS_APPLY_KILLS (full 20, bounded 2), FAULTS_UPGRADE_KILLS (10, 1);
# FAULTS_HOST_CASES=0 leaves out part 3, FAULTS_APPLY_KILLS=-1 all of part 1.
# Output: TAP lines, then "# figure: ..." lines.
set -uo pipefail
BOUNDED=0
[ "${1:-}" = --bounded ] && { BOUNDED=1; shift; }
. "$(dirname "$0")/../e2e/lib.sh"
FDIR=$E2E_ROOT/tests/faults

e2e_begin faults "$@"
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
PROXY_PID=
cleanup() {
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
	"$TB" down >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT

if [ "$BOUNDED" = 1 ]; then
	APPLY_KILLS=${FAULTS_APPLY_KILLS:-2} UPGRADE_KILLS=${FAULTS_UPGRADE_KILLS:-1}
else
	APPLY_KILLS=${FAULTS_APPLY_KILLS:-20} UPGRADE_KILLS=${FAULTS_UPGRADE_KILLS:-10}
fi
SEED=${FAULTS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $SEED (replay: FAULTS_SEED=$SEED $0 $([ "$BOUNDED" = 1 ] && echo "--bounded ")BUILD)"
# moment I: "FRACTION KIND" for the I-th kill, FRACTION in [0.02, 1) of the
# run (its time or its result lines), KIND secs or lines; the same seed
# gives the same moments.
moment() {
	python3 -c 'import random,sys
r = random.Random(int(sys.argv[1]) * 1000 + int(sys.argv[2]))
print("%.4f %s" % (r.uniform(0.02, 1.0), r.choice(["secs", "lines"])))' "$SEED" "$1"
}

B=$W/bundles
for v in 1.8.15 1.9.11; do
	"$E2E_ROOT/tests/bundle/make-bundle" "$v" "$B/bundle-$v" >/dev/null ||
	    { notok "make-bundle $v"; finish; exit 1; }
done
# up N ROLES...: a fresh bed of N hosts (nothing left of the last one) and
# its inventory in $INV, with the 1.8.15 bundle (PLAIN=1: none) and a
# connect timeout for this loaded machine.
up() {
	local n=$1
	shift
	"$TB" down >/dev/null 2>&1
	"$TB" up "$n" >>"$W/testbed.log" 2>&1 || { tail -5 "$W/testbed.log" | sed 's/^/# /'; return 1; }
	if [ "${PLAIN:-0}" = 1 ]; then make_inventory "$INV" "$@"
	else bundle_inventory "$INV" "$B/bundle-1.8.15" "$@"; fi
	sed -i 's/^  connect_timeout: .*/  connect_timeout: 30/' "$INV"
}
integrity() { [ "$(sql 'PRAGMA integrity_check')" = ok ]; }

KILLS_TRIED=0 KILLS_SURVIVED=0 ROWS=0
# kill_trial LABEL I CMD...: run korch CMD -v in the background, kill -9 it
# at moment I (estimates EST_SECS, EST_LINES; a run that ends first sets
# them and is run again, at most twice), then check what it left.  Sets
# KILLED_PID; returns 1 when no kill landed.
kill_trial() {
	local label=$1 i=$2 frac kind at try out pid hold=()
	shift 2
	read -r frac kind <<<"$(moment "$i")"
	# Trial 0: at a fifth of the run's result lines, with the state's
	# write lock held back (killer --hold).
	[ "$i" = 0 ] && { frac=0.2 kind=lines hold=(--hold "$KORCH_STATE"); }
	for try in 1 2 3; do
		out=$W/$label-$i-$try
		if [ "$kind" = secs ]; then
			at=$(python3 -c "print('%.2f' % ($frac * $EST_SECS))")
		else
			at=$(python3 -c "import math; print(max(1, math.ceil($frac * $EST_LINES)))")
		fi
		"$KORCH" "$@" -v >"$out.out" 2>"$out.err" &
		pid=$!
		"$FDIR/killer" "$pid" "$out.out" "--$kind" "$at" "${hold[@]}" >"$out.kill"
		local krc=$?
		wait "$pid" 2>/dev/null
		if [ "$krc" -eq 0 ]; then
			KILLED_PID=$pid KILLED_OUT=$out.out
			echo "# $label $i: kill -9 at $kind $at: $(cat "$out.kill")"
			return 0
		fi
		# It ended first: learn the run's length, redraw the moment.
		EST_SECS=$(sed -n 's/.*after \([0-9.]*\)s, .*/\1/p' "$out.kill")
		EST_LINES=$(sed -n 's/.*s, \([0-9]*\) result lines.*/\1/p' "$out.kill")
		echo "# $label $i: the run $(cat "$out.kill") before $kind $at; estimates now ${EST_SECS}s, $EST_LINES lines"
		# A fresh bed has new host keys, which the old state has pinned:
		# a fresh state with it.
		[ "$label" = apply ] && { up $HOSTS_APPLY || return 1; export KORCH_STATE=$W/apply-$i-$try.db; }
		[ "$label" = upgrade ] && { korch "rb-$i-$try" rollback; [ "$RC" -eq 0 ] || return 1; }
	done
	return 1
}
# after_kill LABEL I: the checks after a kill; counts rows.
after_kill() {
	local label=$1 i=$2 out
	out=$("$FDIR/rows-check" "$KORCH_STATE" "$KILLED_OUT" "$KILLED_PID" --observed)
	local rc=$?
	echo "$out" | sed -n '2,$p'
	ROWS=$((ROWS + $(sed -n 's/^# rows: \([0-9]*\) checked.*/\1/p' <<<"$out" | head -1)))
	[ "$rc" -eq 0 ]
}

# ---- 1. kill -9 in a cluster apply, then a rerun
HOSTS_APPLY="2 etcd,master node"
EST_SECS=${FAULTS_APPLY_SECS:-60} EST_LINES=${FAULTS_APPLY_LINES:-110}
# Kill 0 lands while a commit is held back (the state's write lock taken by
# the test, as a slow disk would): a result shown before its row is
# committed is a lost row.  Then APPLY_KILLS random moments.
for ((i = 0; i <= APPLY_KILLS; i++)); do
	up $HOSTS_APPLY || { notok "apply kill $i: test bed up"; continue; }
	export KORCH_STATE=$W/apply-$i.db
	KILLS_TRIED=$((KILLS_TRIED + 1))
	if ! kill_trial apply "$i" apply "$INV"; then
		notok "apply kill $i: no kill landed"
		continue
	fi
	good=1
	if after_kill apply "$i"; then ok "apply kill $i: every reported result is in the state once, integrity ok"
	else notok "apply kill $i: reported results in the state" "rows-check"; good=0; fi
	korch "apply-$i-rerun" apply "$INV" -v
	if [ "$RC" -eq 0 ] && grep -q '^converged: ' "$W/apply-$i-rerun.out"; then ok "apply kill $i: the rerun converges"
	else notok "apply kill $i: the rerun converges" "exit $RC: $(tail -2 "$W/apply-$i-rerun.out" | tr '\n' ' ')"; good=0; fi
	if "$FDIR/rows-check" "$KORCH_STATE" "$KILLED_OUT" "$KILLED_PID" >/dev/null; then
		ok "apply kill $i: after the rerun, the killed run's results are all still there, integrity ok"
	else notok "apply kill $i: the killed run's results after the rerun"; good=0; fi
	st=$(sql "SELECT result FROM runs WHERE pid = $KILLED_PID")
	if [ "$st" = interrupted ]; then ok "apply kill $i: the killed run is recorded interrupted"
	else notok "apply kill $i: the killed run is recorded interrupted" "$st"; good=0; fi
	[ "$good" = 1 ] && KILLS_SURVIVED=$((KILLS_SURVIVED + 1))
done

# ---- 2. kill -9 in an upgrade, then a rerun
HOSTS_UPGRADE="2 etcd,master node"
if [ "$UPGRADE_KILLS" -gt 0 ]; then
	up $HOSTS_UPGRADE || notok "upgrade: test bed up"
	export KORCH_STATE=$W/upgrade.db
	korch up-apply apply "$INV"
	check "upgrade: the 1.8.15 cluster converges" [ "$RC" -eq 0 ]
fi
# on_version V: every Kubernetes component of every host reports V.
on_version() {
	"$KORCH" status --json >"$W/st.json" || return 1
	python3 - "$W/st.json" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
bad = [(h["name"], c["name"], c["observed"]) for h in d["hosts"] for c in h["components"]
       if c["name"].startswith("kube") and c["observed"] != sys.argv[2]]
if bad or not d["hosts"]:
    print("# not on %s: %s" % (sys.argv[2], bad))
    sys.exit(1)
EOF
}
EST_SECS=${FAULTS_UPGRADE_SECS:-90} EST_LINES=${FAULTS_UPGRADE_LINES:-150}
for ((i = 1; i <= UPGRADE_KILLS; i++)); do
	KILLS_TRIED=$((KILLS_TRIED + 1))
	if ! kill_trial upgrade "$i" upgrade --to 1.9; then
		notok "upgrade kill $i: no kill landed"
		continue
	fi
	good=1
	if after_kill upgrade "$i"; then ok "upgrade kill $i: every reported result is in the state once, integrity ok"
	else notok "upgrade kill $i: reported results in the state" "rows-check"; good=0; fi
	korch "upgrade-$i-rerun" upgrade --to 1.9 -v
	if [ "$RC" -eq 0 ] && on_version 1.9.11; then ok "upgrade kill $i: the rerun finishes the upgrade (every component on 1.9.11)"
	else notok "upgrade kill $i: the rerun finishes the upgrade" "exit $RC: $(tail -3 "$W/upgrade-$i-rerun.out" | tr '\n' ' ')"; good=0; fi
	if "$FDIR/rows-check" "$KORCH_STATE" "$KILLED_OUT" "$KILLED_PID" >/dev/null; then
		ok "upgrade kill $i: after the rerun, the killed run's results are all still there, integrity ok"
	else notok "upgrade kill $i: the killed run's results after the rerun"; good=0; fi
	[ "$good" = 1 ] && KILLS_SURVIVED=$((KILLS_SURVIVED + 1))
	korch "rollback-$i" rollback
	if [ "$RC" -eq 0 ] && on_version 1.8.15; then ok "upgrade kill $i: rollback to 1.8.15 for the next one"
	else notok "upgrade kill $i: rollback to 1.8.15" "exit $RC: $(tail -3 "$W/rollback-$i.out" | tr '\n' ' ')"; break; fi
done

# ---- 3. host faults in one apply: each faulty host reported with its
# reason, the others converge; healed, a rerun converges.
FAULTS_HELD=0 FAULTS_TRIED=5
# wait_busy HOST: HOST is in the long step (its command runs).
wait_busy() {
	local i
	for ((i = 0; i < 600; i++)); do
		on "$1" 'pgrep -f "^sleep 10$" >/dev/null' 2>/dev/null && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}
STEP_TIMEOUT=60
if [ "${FAULTS_HOST_CASES:-1}" = 0 ]; then
	FAULTS_TRIED=0
elif PLAIN=1 up 7; then
	export KORCH_STATE=$W/faults.db
	# node6 through the proxy: its address and port in the inventory, its
	# real keys under that address in a known_hosts of this test's own.
	read -r BR <<<"$(awk '/^  - name: node1$/ { getline; print $2 }' "$INV" | sed 's/\.[0-9]*$/.1/')"
	PPORT=$((20000 + RANDOM % 20000))
	"$FDIR/authclose" "$BR" "$PPORT" "$(host_addr node6)" 22 2>"$W/authclose.log" &
	PROXY_PID=$!
	retry 100 0.2 grep -qs "listening" "$W/authclose.log" || notok "faults: the authclose proxy listens" "$(cat "$W/authclose.log")"
	KH=$(sed -n 's/^  known_hosts: //p' "$INV")
	cp "$KH" "$W/known_hosts"
	awk -v a="$(host_addr node6),node6" -v p="[$BR]:$PPORT" '$1 == a { $1 = p; print }' "$KH" >>"$W/known_hosts"
	cp "$INV" "$W/inv-healed.yaml"
	python3 - "$INV" "$BR" "$PPORT" "$W/known_hosts" <<'EOF'
import sys
path, br, port, kh = sys.argv[1:5]
lines = open(path).read().split("\n")
out = []
for i, l in enumerate(lines):
    if l.startswith("  known_hosts: "):
        l = "  known_hosts: " + kh
    if l.startswith("    address: ") and lines[i - 1] == "  - name: node6":
        out.append("    address: " + br)
        out.append("    port: %s" % port)
        continue
    out.append(l)
open(path, "w").write("\n".join(out))
EOF
	sed -i "s|^  known_hosts: .*|  known_hosts: $W/known_hosts|" "$W/inv-healed.yaml"
	"$TB" freeze node5 >>"$W/testbed.log" 2>&1
	"$KORCH" apply "$INV" --playbooks "$FDIR/playbook" --json --step-timeout $STEP_TIMEOUT >"$W/f1.json" 2>"$W/f1.err" &
	PID=$!
	"$TB" loss node7 10 >>"$W/testbed.log" 2>&1
	if wait_busy node3; then
		on node3 'pkill -9 -f "[.]korch/agent-"'
		echo "# node3: agent killed"
	else echo "# node3: the agent never got busy"; fi
	if wait_busy node4; then
		"$TB" cut node4 >>"$W/testbed.log" 2>&1
		echo "# node4: network cut"
	else echo "# node4: the agent never got busy"; fi
	wait "$PID"
	RC=$?
	echo "# faults apply: exit $RC"
	sed 's/^/#   /' "$W/f1.err" | tail -15
	check "faults: the apply exits 2 (some hosts failed)" [ "$RC" -eq 2 ]
	# verdict HOST: "converged", or "failed|unreachable: REASON".
	verdict() {
		python3 - "$W/f1.json" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
h = [h for h in d["hosts"] if h["name"] == sys.argv[2]][0]
why = [h["error"]] if h["error"] else []
why += ["%s: %s" % (t["task"], t["message"]) for t in h["tasks"] if t["status"] == "failed"]
if not why and not h["failed"] and not h["unreachable"]:
    print("converged")
else:
    print("%s: %s" % ("unreachable" if h["unreachable"] else "failed", " | ".join(why).replace("\n", " ")))
EOF
	}
	declare -A V
	for n in node1 node2 node3 node4 node5 node6 node7; do
		V[$n]=$(verdict $n)
		echo "# $n: ${V[$n]}"
	done
	others=1
	for n in node1 node2; do
		[ "${V[$n]}" = converged ] || others=0
	done
	check "faults: the healthy hosts (node1, node2) converge" [ "$others" = 1 ]
	held() { # held NAME HOST REGEX: one fault case
		if [[ "${V[$2]}" =~ $3 ]] && [ "$others" = 1 ]; then
			ok "faults: $1: $2 reported: ${V[$2]:0:100}"
			FAULTS_HELD=$((FAULTS_HELD + 1))
		else notok "faults: $1: $2 reported as /$3/" "${V[$2]}"; fi
	}
	held "agent killed mid-step" node3 '^failed: .*agent on node3 .*was killed by SIGKILL'
	held "network cut mid-step" node4 "^failed: a step ran longer than $STEP_TIMEOUT s"
	held "TCP but no SSH" node5 '^unreachable: .*the port accepts connections but no SSH banner or key exchange arrived'
	held "sshd closes during authentication" node6 '^unreachable: .*closed the connection during authentication'
	# 10% loss slows TCP, it does not break it: converging is right, and
	# so is a failure that says why.
	held "10% packet loss" node7 '^(converged$|failed: .+|unreachable: .+)'
	check "faults: integrity_check ok after the faulty run" integrity
	grep -q "closed during authentication" "$W/authclose.log" ||
	    notok "faults: the proxy closed a connection during authentication" "$(cat "$W/authclose.log")"
	# Heal everything; the rerun converges.
	kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; PROXY_PID=
	"$TB" thaw node5 >>"$W/testbed.log" 2>&1
	"$TB" heal node4 >>"$W/testbed.log" 2>&1
	"$TB" loss node7 0 >>"$W/testbed.log" 2>&1
	cp "$W/inv-healed.yaml" "$INV"
	apply "$W/f2" --playbooks "$FDIR/playbook"
	check "faults: healed, the rerun converges (exit 0)" [ "$RC" -eq 0 ]
	check "faults: healed, every host converged" [ "$(json "$W/f2.json" "d['converged'] and all(not h['error'] and not h['failed'] and not h['unreachable'] for h in d['hosts'])")" = true ]
	check "faults: integrity_check ok after the rerun" integrity
else
	notok "faults: test bed up 7"
fi

echo "# figure: kills survived $KILLS_SURVIVED / kills tried $KILLS_TRIED (apply: 1 with a commit held back + $APPLY_KILLS random, upgrade: $UPGRADE_KILLS random; seed $SEED)"
echo "# figure: rows checked $ROWS"
echo "# figure: fault cases held $FAULTS_HELD / $FAULTS_TRIED"
finish
