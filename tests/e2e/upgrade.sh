#!/usr/bin/env bash
# End-to-end: `korch upgrade`, `korch rollback` and `korch etcd restore` on
# booted test-bed hosts (runbook 000's cluster: one master with etcd, three
# nodes), from the stand-in bundles 1.7.16, 1.8.15 and 1.9.11 and the real
# etcd.  Usage: upgrade.sh BUILD (make check runs it on the ASan+UBSan
# build).
#
#  - refusals before anything changes: 1.7 -> 1.9 (a skipped minor), a
#    downgrade, a bundle without kubelet 1.9, an unreachable host, an
#    unhealthy etcd;
#  - 1.7.16 -> 1.8 completes; --plan lists the phases;
#  - 1.8.15 -> 1.9 with a sampler of every unit's state: a second korch
#    run meanwhile is refused; kill -9 of korch in the master phase and
#    again in a node phase, each rerun resumes
#    without redoing a done phase; a node host stopped in the node phase
#    stops the upgrade with its name, the cluster stays healthy, and after
#    the host is back the same command finishes; never more than one
#    master nor more than --max-unavailable nodes down at once;
#  - the etcd snapshot on the controller passes `etcdctl snapshot status`;
#  - apply refuses to undo the upgrade; status shows the journal and every
#    host's component versions;
#  - rollback (stopped once by Ctrl-C between phases) returns every host
#    to 1.8.15;
#  - etcd restore puts back the snapshot's data and the cluster answers;
#  - 6 hosts (3 etcd members, 2 masters, 3 nodes), etcd's version changing:
#    the members, then the masters, one at a time, the nodes two at a time.
#    Only one real etcd can be had here, so the 1.9.11 bundle labels the
#    same etcd 3.4.99 (make-bundle --etcd-label): korch sees a new etcd
#    version and rolls the real members through their health gates; the
#    rollback takes them back last, one at a time.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin upgrade "$@"
SAMPLER_PID=
cleanup() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
# The tree's playbooks, also for a sanitizer build in build/san.
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
B=$W/bundles
MASTER=node1
NODES="node2 node3 node4"

mk() { "$E2E_ROOT/tests/bundle/make-bundle" "$@" >/dev/null || { notok "make-bundle $*"; finish; exit 1; }; }
mk 1.7.16 "$W/old/bundle-1.7.16"
mk 1.8.15 "$B/bundle-1.8.15"
mk 1.9.11 "$B/bundle-1.9.11"
mk --omit kubelet 1.9.11 "$W/nokubelet/bundle-1.9.11"
mk --etcd-label 3.6.0 1.9.11 "$W/etcd36/bundle-1.9.11"
ETCDCTL=$B/bundle-1.9.11/bin/etcdctl

# Every done phase of the newest entry as "host/phase started attempts".
done_phases() { sql "SELECT host || '/' || phase, started_at, attempts FROM upgrade_phases WHERE upgrade_id = (SELECT max(id) FROM upgrades) AND status = 'done' ORDER BY seq"; }
# all_on V [N]: every Kubernetes component of every host reports version
# V, and there are N of them (default 10: one master with kube-proxy, three
# nodes).
all_on() {
	"$KORCH" status --json >"$W/st.json" || return 1
	python3 - "$W/st.json" "$1" "${2:-10}" <<'EOF'
import json, sys
d, want = json.load(open(sys.argv[1])), sys.argv[2]
bad = [(h["name"], c["name"], c["observed"]) for h in d["hosts"]
       for c in h["components"] if c["name"].startswith("kube") and c["observed"] != want]
kube = [1 for h in d["hosts"] for c in h["components"] if c["name"].startswith("kube")]
if bad or len(kube) != int(sys.argv[3]):
    print("# not on %s: %s (%d kube components)" % (want, bad, len(kube)))
    sys.exit(1)
EOF
}
# nodes_on V [NODE...]: each node (default: all) Ready, schedulable, on
# kubelet vV, seen from the master.
nodes_on() {
	local v=$1 n out
	shift
	for n in ${*:-$NODES}; do
		# One string: the remote shell reads it (testbed ssh is ssh).
		out=$(on $MASTER "kubectl get node $n -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status} {.status.nodeInfo.kubeletVersion} {.spec.unschedulable}'" 2>&1)
		[ "$out" = "True v$v " ] || { echo "# $n: $out"; return 1; }
	done
}
apiserver_version() { on $MASTER curl -s --cacert /etc/kubernetes/pki/ca.crt --cert /etc/kubernetes/pki/apiserver-kubelet-client.crt --key /etc/kubernetes/pki/apiserver-kubelet-client.key https://127.0.0.1:6443/version | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])'; }
healthz() { [ "$(on $MASTER curl -s --max-time 5 --cacert /etc/kubernetes/pki/ca.crt --cert /etc/kubernetes/pki/apiserver-kubelet-client.crt --key /etc/kubernetes/pki/apiserver-kubelet-client.key https://127.0.0.1:6443/healthz)" = ok ]; }
# etcdctl on the master, v3 API (v2 with API=2 in the environment).
etcdctl_on() {
	local ver
	ver=$(on $MASTER ls /opt/etcd | head -1)
	if [ "${API:-3}" = 2 ]; then
		on $MASTER env ETCDCTL_API=2 "/opt/etcd/$ver/bin/etcdctl" --endpoints https://127.0.0.1:2379 --ca-file /etc/etcd/pki/ca.crt --cert-file /etc/etcd/pki/client.crt --key-file /etc/etcd/pki/client.key "$@"
	else
		on $MASTER env ETCDCTL_API=3 "/opt/etcd/$ver/bin/etcdctl" --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key "$@"
	fi
}
flannel_config() { API=2 etcdctl_on get /flannel/network/config; }
quiet() { "$@" >/dev/null 2>&1; }

echo "# booting 4 test-bed hosts"
"$TB" up 4 >&2 || { notok "test bed up 4"; finish; exit 1; }
bundle_inventory "$INV" "$W/old/bundle-1.7.16" --kubernetes-version 1.7.16 etcd,master node node node

# ---- a 1.7 cluster: 1.9 is two minors away, 1.8 is the next one
korch apply17 apply "$INV"
check "a 1.7.16 cluster converges" [ "$RC" -eq 0 ]
korch skip upgrade --to 1.9 --bundle "$B"
check "1.7 -> 1.9 is refused (exit 1)" [ "$RC" -eq 1 ]
check "the refusal says to go to 1.8 first" grep -q "skips a minor version.*upgrade to 1.8 first" "$W/skip.err"
check "the refusal recorded no upgrade" [ "$(journal_count)" = 0 ]
check "the refusal changed nothing" [ "$(apiserver_version)" = v1.7.16 ]
korch to18 upgrade --to 1.8 --bundle "$B"
check "1.7.16 -> 1.8 (newest 1.8.x in the bundles) completes" [ "$RC" -eq 0 ]
check "1.7.16 -> 1.8.15: every component on 1.8.15" all_on 1.8.15
check "1.7.16 -> 1.8.15: every node Ready on v1.8.15" nodes_on 1.8.15
sed -i "s|kubernetes_version: \"1.7.16\"|kubernetes_version: \"1.8.15\"|; s|bundle: .*|bundle: $B/bundle-1.8.15|" "$INV"

# ---- refusals at 1.8.15
korch down upgrade --to 1.7 --bundle "$W/old"
check "a downgrade is refused (exit 1)" [ "$RC" -eq 1 ]
check "the downgrade refusal names --allow-downgrade" grep -q "downgrade.*--allow-downgrade" "$W/down.err"
korch nokubelet upgrade --to 1.9 --bundle "$W/nokubelet"
check "a bundle without kubelet 1.9 is refused (exit 1)" [ "$RC" -eq 1 ]
check "the refusal names kubelet" grep -q "has no kubelet for Kubernetes 1.9.11" "$W/nokubelet.err"
korch etcd36 upgrade --to 1.9 --bundle "$W/etcd36"
check "etcd 3.4 -> 3.6 (a skipped etcd minor) is refused (exit 1)" [ "$RC" -eq 1 ]
check "the refusal says to go to etcd 3.5 first" grep -q "etcd 3.6.0 (the bundle's) from 3.4.23: .*3.5 first" "$W/etcd36.err"
"$TB" stop node4 >>"$W/testbed.log" 2>&1
korch unreach upgrade --to 1.9
check "an unreachable host is refused (exit 2)" [ "$RC" -eq 2 ]
check "the refusal names the host" grep -q "node4" "$W/unreach.err"
"$TB" start node4 >&2
on $MASTER systemctl stop etcd
korch sick upgrade --to 1.9
check "an unhealthy etcd is refused (exit 2)" [ "$RC" -eq 2 ]
check "the refusal names the member" grep -q "etcd member https://.*:2379 is not healthy" "$W/sick.err"
on $MASTER systemctl start etcd
retry 60 1 healthz
check "refusals recorded no upgrade (only 1.7 -> 1.8)" [ "$(journal_count)" = 1 ]
check "refusals changed nothing" [ "$(apiserver_version)" = v1.8.15 ]
retry 60 1 nodes_on 1.8.15 >/dev/null

korch plan upgrade --to 1.9 --plan
check "--plan succeeds" [ "$RC" -eq 0 ]
check "--plan: snapshot, master, then the nodes one by one" plan_is "$W/plan.out" \
    "snapshot node1" "master node1" "node node2 1" "node node3 2" "node node4 3"
check "--plan says what is swapped and the worst capacity" grep -q "kubelet 1.8.15 -> 1.9.11" "$W/plan.out"
check "--plan changed nothing" [ "$(journal_count)" = 1 ]

# ---- 1.8.15 -> 1.9: interrupted twice, a host lost, finished
start_sampler up $MASTER node2 node3
"$KORCH" upgrade --to 1.9 >"$W/up1.out" 2>&1 &
PID=$!
if wait_phase $MASTER master running; then
	korch concurrent upgrade --to 1.9
	check "a second upgrade while one runs is refused (exit 3)" [ "$RC" -eq 3 ]
	check "the refusal names the run holding the state" grep -q "another korch run holds the state" "$W/concurrent.err"
	kill -9 $PID; wait $PID 2>/dev/null
	ok "kill -9 in the master phase"
else
	kill -9 $PID; notok "the master phase never started" "$(tail -3 "$W/up1.out")"
fi
check "journal after the kill: snapshot done, master running" [ "$(phase $MASTER snapshot)/$(phase $MASTER master)" = done/running ]
BEFORE=$(done_phases)
"$KORCH" upgrade --to 1.9 >"$W/up2.out" 2>&1 &
PID=$!
if wait_phase node2 node running; then
	kill -9 $PID; wait $PID 2>/dev/null
	ok "kill -9 in a node phase"
else
	kill -9 $PID; notok "the node phase never started" "$(tail -3 "$W/up2.out")"
fi
check "the rerun resumed (said so)" grep -q "resuming upgrade #2" "$W/up2.out"
check "the running master phase was re-checked (2 attempts), then done" [ "$(sql "SELECT status, attempts FROM upgrade_phases WHERE upgrade_id = 2 AND phase = 'master'")" = "done|2" ]
check "no phase done before the first kill was redone" [ "$(done_phases | grep -F "$BEFORE")" = "$BEFORE" ]
BEFORE=$(done_phases)
# The third run loses node4 while node3 is being upgraded.
"$KORCH" upgrade --to 1.9 >"$W/up3.out" 2>&1 &
PID=$!
if wait_phase node3 node running; then
	"$TB" stop node4 >>"$W/testbed.log" 2>&1
	ok "node4 stopped during the node phase"
else
	notok "node3's phase never started" "$(tail -3 "$W/up3.out")"
fi
wait $PID
RC=$?
check "the upgrade stops with exit 2" [ "$RC" -eq 2 ]
check "the message names node4" grep -q "FAILED.*node4" "$W/up3.out"
check "node4's phase is recorded failed" [ "$(phase node4 node)" = failed ]
check "no phase done before the second kill was redone" [ "$(done_phases | grep -F "$BEFORE")" = "$BEFORE" ]
check "the rest of the cluster is healthy: apiserver answers" healthz
check "the rest of the cluster is healthy: node2, node3 Ready on v1.9.11" nodes_on 1.9.11 node2 node3
"$KORCH" status >"$W/status-mid.out" 2>&1
check "status shows the stopped upgrade and its position" grep -q "upgrade #2 1.8.15 -> 1.9.11: failed; 4 of 5 phases done" "$W/status-mid.out"
korch other upgrade --to 1.9.12
check "another --to while one is unfinished is refused (exit 1)" [ "$RC" -eq 1 ]
check "the refusal gives the unfinished one's position" grep -q "upgrade #2 to 1.9.11, stopped at the node phase on node4 (4 of 5 phases done) is unfinished" "$W/other.err"
check "the refusal names --abandon" grep -q -- "--abandon" "$W/other.err"
korch midapply apply "$INV"
check "apply while an upgrade is unfinished is refused (exit 1)" [ "$RC" -eq 1 ]
check "the apply refusal says which upgrade" grep -q "upgrade #2 .* is unfinished" "$W/midapply.err"
"$TB" start node4 >&2
BEFORE=$(done_phases)
stop_sampler
check "never more than 1 master and 1 node down at once (node2, node3)" "$E2E_ROOT/tests/e2e/sampler-check" "$W/up.jsonl" --masters $MASTER --nodes node2,node3 --max-nodes-down 1
retry 60 1 on node4 true 2>/dev/null
start_sampler up4 $MASTER $NODES
korch up4 upgrade --to 1.9
check "after node4 is back, the same command finishes" [ "$RC" -eq 0 ]
check "no phase done before was redone" [ "$(done_phases | grep -F "$BEFORE")" = "$BEFORE" ]
stop_sampler
check "the last run: never more than 1 master and 1 node down at once" "$E2E_ROOT/tests/e2e/sampler-check" "$W/up4.jsonl" --masters $MASTER --nodes node2,node3,node4 --max-nodes-down 1
check "every component on every host reports 1.9.11" all_on 1.9.11
check "every node Ready and schedulable on v1.9.11" nodes_on 1.9.11
check "the apiserver reports v1.9.11" [ "$(apiserver_version)" = v1.9.11 ]
N=$(journal_count)
korch to110 upgrade --to 1.10 --bundle "$B"
check "upgrade --to 1.10 (no profile covers it) is refused (exit 1)" [ "$RC" -eq 1 ]
check "the refusal names the supported ranges" grep -q "no profile covers Kubernetes 1.10; this korch supports 1.7, 1.8-1.9, 1.20; nothing was changed" "$W/to110.err"
check "the refusal recorded no upgrade" [ "$(journal_count)" = "$N" ]
check "the refusal contacted no host" [ "$(sql "SELECT count(*) FROM run_hosts WHERE run_id = (SELECT max(id) FROM runs)")" = 0 ]
korch again upgrade --to 1.9 --json
check "the same upgrade again: nothing to do (exit 0, no new journal entry)" [ "$RC-$(json "$W/again.out" "d['upgrade']")-$(journal_count)" = "0-None-2" ]

SNAP=$(sql "SELECT snapshot FROM upgrades WHERE id = 2")
check "the etcd snapshot is on the controller and not empty" [ -s "$SNAP" ]
check "the snapshot passes etcdctl snapshot status" quiet env ETCDCTL_API=3 "$ETCDCTL" snapshot status "$SNAP"
"$KORCH" status --json >"$W/st.json"
check "status --json: the upgrade done, 5 of 5 phases" [ "$(json "$W/st.json" "(d['upgrade']['status'], d['upgrade']['phases_done'], d['upgrade']['to'])")" = "('done', 5, '1.9.11')" ]
korch reapply apply "$INV"
check "apply with the 1.8.15 inventory is refused after the upgrade" [ "$RC" -eq 1 ]
check "the refusal explains" grep -q "the cluster runs Kubernetes 1.9.11" "$W/reapply.err"
grep -v kubernetes_version "$INV" >"$W/noversion.yaml"
korch noversion apply "$W/noversion.yaml"
check "apply of an inventory without a version (its bundle is 1.8.15) is refused too" [ "$RC" -eq 1 ]

# ---- rollback, stopped once by Ctrl-C between phases
etcdctl_on put /korch-e2e/after-upgrade yes >/dev/null
start_sampler back $MASTER $NODES
"$KORCH" rollback >"$W/rb1.out" 2>&1 &
PID=$!
if wait_phase node4 node running; then
	kill -INT $PID
	wait $PID
	RC=$?
	check "Ctrl-C: rollback exits 130" [ "$RC" -eq 130 ]
	check "Ctrl-C: the running phase finished and is recorded done" [ "$(phase node4 node)" = done ]
	check "Ctrl-C: the next phase did not start" [ "$(phase node3 node)" = pending ]
else
	kill -9 $PID; notok "rollback's first node phase never started" "$(tail -3 "$W/rb1.out")"
fi
korch rb2 rollback --json
check "the rollback finishes" [ "$RC" -eq 0 ]
check "rollback --json: the rollback of #2, done, 4 of 4 phases, its run" [ "$(json "$W/rb2.out" "(d['upgrade']['kind'], d['upgrade']['undoes'], d['upgrade']['status'], d['upgrade']['phases_done'], d['run_id'] > 0)")" = "('rollback', 2, 'done', 4, True)" ]
stop_sampler
check "after rollback every component reports 1.8.15" all_on 1.8.15
check "after rollback every node Ready on v1.8.15" nodes_on 1.8.15
check "rollback: never more than 1 master and 1 node down at once" "$E2E_ROOT/tests/e2e/sampler-check" "$W/back.jsonl" --masters $MASTER --nodes node2,node3,node4 --max-nodes-down 1
korch rb3 rollback
check "a second rollback has nothing to do (exit 1)" [ "$RC" -eq 1 ]
korch reapply2 apply "$INV"
check "apply with the 1.8.15 inventory works again after the rollback" [ "$RC" -eq 0 ]

# ---- etcd restore: the snapshot's data comes back
korch restore0 etcd restore "$SNAP"
check "etcd restore without --yes changes nothing (exit 1)" [ "$RC" -eq 1 ]
check "etcd restore without --yes" grep -q "Run again with --yes" "$W/restore0.out"
check "the key written after the snapshot is still there" [ "$(etcdctl_on get --print-value-only /korch-e2e/after-upgrade)" = yes ]
korch restore etcd restore "$SNAP" --yes
check "etcd restore --yes succeeds" [ "$RC" -eq 0 ]
check "after restore the key written after the snapshot is gone" [ -z "$(etcdctl_on get --print-value-only /korch-e2e/after-upgrade)" ]
check "after restore etcd is healthy" quiet etcdctl_on endpoint health
check "after restore flannel's network config (a v2 key) is back" quiet flannel_config
check "after restore the apiserver answers" healthz
check "after restore the previous data is kept on the member" quiet on $MASTER "ls -d /var/lib/korch/restore/etcd.before-*"

# ---- 6 hosts: etcd members, then masters, one at a time
echo "# booting 6 test-bed hosts"
"$TB" up 6 >&2 || { notok "test bed up 6"; finish; exit 1; }
B6=$W/b6
mk 1.8.15 "$B6/bundle-1.8.15"
mk --etcd-label 3.4.99 1.9.11 "$B6/bundle-1.9.11"
export KORCH_STATE=$W/state6.db
MASTER=node1
NODES="node4 node5 node6"
bundle_inventory "$W/inv6.yaml" "$B6/bundle-1.8.15" etcd,master etcd,master etcd node node node
set_lb "$W/inv6.yaml" none
korch apply6 apply "$W/inv6.yaml"
check "6 hosts: 1.8.15 converges" [ "$RC" -eq 0 ]
korch plan6 upgrade --to 1.9 --max-unavailable 2 --plan
check "6 hosts: the plan rolls etcd members, then masters, then nodes two by two" plan_is "$W/plan6.out" \
    "snapshot node1" "etcd node1" "etcd node2" "etcd node3" "master node1" \
    "master node2" "node node4 1" "node node5 1" "node node6 2"
check "6 hosts: the plan says etcd moves to 3.4.99" grep -q "etcd 3.4.23 -> 3.4.99" "$W/plan6.out"
start_sampler six node1 node2 node3 node4 node5 node6
korch up6 upgrade --to 1.9 --max-unavailable 2
stop_sampler
check "6 hosts: the upgrade completes" [ "$RC" -eq 0 ]
check "6 hosts: every etcd member restarted from the new directory" etcd_runs_from 3.4.99 node1 node2 node3
check "6 hosts: the etcd cluster is healthy, 3 members" [ "$(etcdctl_on member list | grep -c started)" = 3 ]
check "6 hosts: every Kubernetes component reports 1.9.11" all_on 1.9.11 14
check "6 hosts: every node Ready on v1.9.11" nodes_on 1.9.11
check "6 hosts: never more than 1 etcd member down at once" "$E2E_ROOT/tests/e2e/sampler-check" "$W/six.jsonl" --masters node1,node2,node3 --master-units etcd --nodes node4,node5,node6 --max-nodes-down 2
check "6 hosts: never more than 1 master nor 2 nodes down at once" "$E2E_ROOT/tests/e2e/sampler-check" "$W/six.jsonl" --masters node1,node2 --nodes node4,node5,node6 --max-nodes-down 2
start_sampler sixback node1 node2 node3 node4 node5 node6
korch back6 rollback
stop_sampler
check "6 hosts: the rollback completes" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || tail -n 25 "$W/back6.out" "$W/back6.err" | sed 's/^/#   /'
check "6 hosts: rollback: nodes, masters, then etcd members last" python3 - "$KORCH_STATE" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = [r[0] + " " + r[1] for r in db.execute("SELECT phase, host FROM upgrade_phases WHERE upgrade_id = 2 ORDER BY seq")]
want = ["node node6", "node node5", "node node4", "master node2", "master node1",
        "etcd node3", "etcd node2", "etcd node1"]
if rows != want:
    print("# %s" % rows)
    sys.exit(1)
EOF
check "6 hosts: every etcd member back on its previous directory" etcd_runs_from 3.4.23 node1 node2 node3
check "6 hosts: after rollback every Kubernetes component reports 1.8.15" all_on 1.8.15 14
check "6 hosts: rollback: never more than 1 etcd member down at once" "$E2E_ROOT/tests/e2e/sampler-check" "$W/sixback.jsonl" --masters node1,node2,node3 --master-units etcd --nodes node4,node5,node6 --max-nodes-down 2

"$TB" down >&2
finish
