#!/usr/bin/env bash
# End-to-end: `korch remove` and `korch reset` on the REAL Kubernetes
# 1.20.2 (tests/kube/build), real etcd 3.4 and real docker, on booted
# test-bed hosts.  Usage: real-day2-remove.sh BUILD
#
# 5 hosts: etcd+master, etcd+master, etcd, node, node (3 etcd members, so
# that quorum can be kept and lost; 2 masters, so that one is the last).
# Refused with nothing changed (etcd's members, the Nodes, the state):
# 2 of 3 members at once; every master; a member while another is down;
# no --yes and no terminal.  A live node removed: its Deployment's pods
# run on the other node, it is gone from `kubectl get nodes` and `korch
# status`, its services are stopped and disabled, and an apply whose
# inventory still names it is refused with the line to delete.  A stopped
# member removed with --dead: `member list` has 2, both healthy.  A node
# reset, then reset again (no change), then applied: Ready again, with
# the pods.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin real-day2-remove "$@"
trap 'rm -rf "$W"' EXIT
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
V=1.20.2
BUNDLE=$W/bundle-$V

KBIN=$("$E2E_ROOT/tests/kube/build") || { notok "the real Kubernetes $V binaries (tests/kube/build)"; finish; exit 1; }
"$E2E_ROOT/tests/bundle/make-bundle" --kube-bin "$KBIN" "$V" "$BUNDLE" >/dev/null ||
	{ notok "make-bundle --kube-bin $V"; finish; exit 1; }

echo "# booting 5 test-bed hosts"
"$TB" up 5 >&2 || { notok "test bed up 5"; finish; exit 1; }
bundle_inventory "$INV" "$BUNDLE" --kubernetes-version "$V" etcd,master etcd,master etcd node node
# Every kubeconfig names node1: removing it is the case that warns.
set_lb "$INV" none
MASTER=node1

# members: etcd's member names, sorted, as node1 sees them.
members() {
	on node1 "ETCDCTL_API=3 /opt/etcd/*/bin/etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key member list" |
	    awk -F', ' '{ print $3 }' | sort | tr '\n' ' '
}
# healthy EP...: how many of the members' client URLs answer as healthy.
healthy() {
	local eps= h
	for h in "$@"; do eps=$eps${eps:+,}https://$(host_addr "$h"):2379; done
	on node1 "ETCDCTL_API=3 /opt/etcd/*/bin/etcdctl --endpoints $eps --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key endpoint health" 2>&1 |
	    grep -c 'is healthy'
}
# all_healthy HOST...: every one of the members answers as healthy.
all_healthy() { [ "$(healthy "$@")" -eq $# ]; }
# node_list: the Nodes' names and readiness, "node4=True node5=True".
node_list() {
	kc get nodes -o 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{.spec.unschedulable} {end}' 2>/dev/null
}
removed_marks() { sqlite3 "$KORCH_STATE" "SELECT count(*) FROM settings WHERE key LIKE 'removed/%'"; }
status_hosts() { "$KORCH" status --json | python3 -c 'import json,sys; print(" ".join(sorted(h["name"] for h in json.load(sys.stdin)["hosts"])))'; }
# unchanged WHAT: nothing a refused remove could have touched did change.
unchanged() {
	check "$1: etcd still has its 3 members" [ "$(members)" = "node1 node2 node3 " ]
	check "$1: both Nodes still there, Ready and schedulable" [ "$(node_list)" = "node4=True node5=True " ]
	check "$1: no removal recorded in the state" [ "$(removed_marks)" -eq 0 ]
}

t0=$(date +%s.%N)
apply "$W/a1"
check "5 hosts (3 etcd members, 2 masters, 2 nodes) converge (exit 0)" [ "$RC" -eq 0 ]
echo "# first converge: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
retry 60 2 all_healthy node1 node2 node3
check "etcd: 3 healthy members" all_healthy node1 node2 node3
web_deployment web drainable | on "$MASTER" 'cat > /tmp/web.yaml'
check "kubectl apply of a 3-replica Deployment" kc apply -f /tmp/web.yaml
running() { # running N [NODE...]: N web pods Running and Ready, on the NODEs only
	local n=$1 s
	shift
	s=$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}/{.spec.nodeName} {end}' 2>/dev/null) || return 1
	[ "$(tr ' ' '\n' <<<"$s" | grep -cE '^Running/True/')" -eq "$n" ] || return 1
	[ "$#" -eq 0 ] || [ -z "$(tr ' ' '\n' <<<"$s" | grep . | grep -vE "/($(IFS='|'; echo "$*"))\$")" ]
}
retry 90 2 running 3
check "3 web pods Running and Ready" running 3
echo "# pods on: $(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.spec.nodeName} {end}')"

# ---- refusals, each with nothing changed
korch r2of3 remove node2 node3 --yes
check "removing 2 of 3 etcd members at once is refused (exit 1)" [ "$RC" -eq 1 ]
check "... saying why" grep -q "etcd has 3 members; removing node2, node3 leaves 1 healthy of the 2 a quorum of 3 needs" "$W/r2of3.err"
unchanged "after the 2-of-3 refusal"
korch rmasters remove node1 node2 --yes
check "removing every master is refused (exit 1)" [ "$RC" -eq 1 ]
check "... saying they are the last masters" grep -q "removing node1, node2 would leave the cluster without a master (they are the last)" "$W/rmasters.err"
unchanged "after the last-master refusal"
"$KORCH" remove node5 </dev/null >"$W/notty.out" 2>"$W/notty.err"
check "without --yes and no terminal: refused (exit 1)" [ $? -eq 1 ]
check "... saying --yes is needed" grep -q "not a terminal to ask on: run again with --yes" "$W/notty.err"
unchanged "after the unconfirmed remove"

# ---- remove a live node: its pods move to the other node
before=$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.metadata.name}@{.spec.nodeName} {end}')
korch rnode remove node5 --yes
check "korch remove node5 (a live node) succeeds (exit 0)" [ "$RC" -eq 0 ]
sed 's/^/#   /' "$W/rnode.out"
[ "$RC" -eq 0 ] || sed 's/^/#   /' "$W/rnode.err" | tail -20
check "node5 is gone from kubectl get nodes" [ "$(node_list)" = "node4=True " ]
retry 60 2 running 3 node4
check "the Deployment's 3 pods run on node4 (rescheduled from node5)" running 3 node4
echo "# pods before: $before"
check "node5 is gone from korch status" [ "$(status_hosts)" = "node1 node2 node3 node4" ]
check "node5's kubelet, kube-proxy, flanneld and docker are stopped and disabled" \
    bash -c "! '$TB' ssh node5 systemctl is-active --quiet kubelet kube-proxy flanneld docker &&
             ! '$TB' ssh node5 systemctl is-enabled --quiet kubelet kube-proxy flanneld docker"
apply "$W/stale"
check "an apply whose inventory still names node5 is refused (exit 1)" [ "$RC" -eq 1 ]
check "... naming the line to delete and the way back" \
    grep -q "inventory.yaml:[0-9]*: hosts: host node5 was removed by \`korch remove\` on .*; delete it from .* (line [0-9]*), or wipe it with \`korch reset node5 --yes\`" "$W/stale.err"
check "... before any host was contacted (node1 not contacted since)" \
    [ "$(sqlite3 "$KORCH_STATE" "SELECT count(*) FROM runs WHERE kind = 'apply'")" -eq 1 ]
korch again remove node5 --yes
check "removing node5 again: nothing to do (exit 0)" bash -c "[ $RC -eq 0 ] && grep -q 'node5 was removed already' '$W/again.out'"
drop_host "$INV" node5

# ---- a member down: no other member may go; the dead one may, with --dead
"$TB" stop node3 >&2
korch rwhile remove node2 --yes
check "removing node2 while node3 is down is refused (exit 1)" [ "$RC" -eq 1 ]
check "... naming the unhealthy member" grep -q "leaves 1 healthy of the 2 a quorum of 3 needs (not healthy: node3" "$W/rwhile.err"
check "... and nothing changed: 3 members" [ "$(members)" = "node1 node2 node3 " ]
korch rdead remove node3 --dead --yes
check "korch remove node3 --dead (a stopped member) succeeds (exit 0)" [ "$RC" -eq 0 ]
sed 's/^/#   /' "$W/rdead.out"
[ "$RC" -eq 0 ] || sed 's/^/#   /' "$W/rdead.err" | tail -20
check "etcd's member list has 2: node1 and node2" [ "$(members)" = "node1 node2 " ]
check "both remaining members are healthy" all_healthy node1 node2
check "node3 is gone from korch status" [ "$(status_hosts)" = "node1 node2 node4" ]
drop_host "$INV" node3

# ---- reset a node, twice, then apply it again
korch reset1 reset node4 --yes
check "korch reset node4 succeeds (exit 0)" [ "$RC" -eq 0 ]
sed 's/^/#   /' "$W/reset1.out"
check "... and changed things" grep -q "node4: reset ([0-9]* tasks changed)" "$W/reset1.out"
check "node4 has no korch units, /etc/kubernetes or /opt/kubernetes left" \
    on node4 'for p in /etc/systemd/system/kubelet.service /etc/systemd/system/docker.service /etc/kubernetes /opt/kubernetes /var/lib/kubelet; do [ ! -e $p ] || exit 1; done'
check "node4's kubelet and docker are stopped" bash -c "! '$TB' ssh node4 systemctl is-active --quiet kubelet docker"
korch reset2 reset node4 --yes
check "a second reset succeeds (exit 0)" [ "$RC" -eq 0 ]
check "... and is a no-op: nothing left to reset" grep -q "node4: nothing left to reset" "$W/reset2.out"
check "... no task changed in that run" [ "$(sqlite3 "$KORCH_STATE" "SELECT count(*) FROM task_results WHERE changed = 1 AND run_id = (SELECT max(id) FROM runs WHERE kind = 'reset')")" -eq 0 ]
t0=$(date +%s.%N)
apply "$W/a2"
check "apply after the reset converges (exit 0)" [ "$RC" -eq 0 ]
echo "# apply after reset: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
node4_ready() { [ "$(node_list)" = "node4=True " ]; }
retry 90 2 node4_ready
check "node4 is Ready again" node4_ready
retry 90 2 running 3 node4
check "the Deployment's 3 pods run on node4 again" running 3 node4
check "etcd still has 2 healthy members" all_healthy node1 node2

"$TB" down >&2
finish
