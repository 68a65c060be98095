#!/usr/bin/env bash
# End-to-end: growing a REAL Kubernetes 1.20.2 cluster by editing the
# inventory and running `korch apply` (the real 1.20.2 of tests/kube/build,
# the real etcd 3.4 and docker, the flanneld stand-in), and a rolling
# restart of the masters, on 4 booted test-bed hosts.  Usage: real-day2.sh
# BUILD
#
#  - node1 (etcd, master), node2 (master), node3 (node) converge behind
#    apiserver_lb local (haproxy on node3);
#  - a node is added (node4): on the running hosts only korch's block of
#    /etc/hosts changes (the distribution's lines stay), and no service
#    restarts there (systemd's ActiveEnterTimestamp); node4 goes Ready and
#    gets a pod;
#  - etcd grows from 1 to 3 members in one run (node2 and node3 become
#    members): each is added through the running member (member add) and
#    starts with --initial-cluster-state=existing, one after the other;
#    `member list` has 3 started members, all healthy, and the unit sampler
#    never saw two members down at once; node1's etcd was not restarted;
#  - an apiserver flag changed in the inventory: the masters restart one at
#    a time (sampler), and a client polling /healthz through node3's
#    haproxy every 100 ms keeps its answers (the figure is reported; at
#    least 99 % is asserted: the machine has 2 CPUs shared with the bed),
#    and no apiserver's stop outlasted its unit's bound (TimeoutStopSec);
#  - a second apply changes nothing.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin real-day2 "$@"
SAMPLER_PID= POLL_PID=
cleanup() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
	[ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null
	if [ "${KORCH_E2E_KEEP:-0}" = 1 ]; then echo "# kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
V=1.20.2
BUNDLE=$W/bundle-$V
MASTER=node1

KBIN=$("$E2E_ROOT/tests/kube/build") || { notok "the real Kubernetes $V binaries (tests/kube/build)"; finish; exit 1; }
ok "the real Kubernetes $V binaries are built ($KBIN)"
"$E2E_ROOT/tests/bundle/make-bundle" --kube-bin "$KBIN" --lb "$V" "$BUNDLE" >"$W/make-bundle.log" 2>&1 ||
	{ notok "make-bundle --kube-bin --lb $V" "$(tail -3 "$W/make-bundle.log")"; finish; exit 1; }

echo "# booting 4 test-bed hosts"
"$TB" up 4 >&2 || { notok "test bed up 4"; finish; exit 1; }
bundle_inventory "$W/full.yaml" "$BUNDLE" --kubernetes-version "$V" etcd,master master node node
set_lb "$W/full.yaml" local
# set_roles FILE NAME ROLES: host NAME gets roles: [ROLES].
set_roles() { sed -i "/^  - name: $2\$/,/^  - name: /s/^    roles: .*/    roles: [$3]/" "$1"; }
cp "$W/full.yaml" "$INV"
drop_host "$INV" node4
check "the first inventory has node1-3" [ "$(grep -c '^  - name: ' "$INV")" -eq 3 ]
# The distribution's and the cloud's lines in /etc/hosts, which korch keeps.
for h in node1 node2 node3 node4; do on $h 'echo "203.0.113.9 cloud-metadata.internal" >> /etc/hosts'; done

apply "$W/first"
check "node1 (etcd, master), node2 (master), node3 (node) converge (exit 0)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || { "$TB" down >&2; finish; exit 1; }
READY_JP='jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}'
ready() { local s n; s=$(kc get nodes -o "$READY_JP" 2>/dev/null) || return 1; for n in "$@"; do grep -q "$n=True " <<<"$s " || return 1; done; }
retry 60 2 ready node3 >/dev/null
check "node3 is Ready" ready node3

# ---- add a node
# Every unit korch runs on the three hosts, with its start time.
UNITS="etcd kube-apiserver kube-controller-manager kube-scheduler haproxy docker flanneld kubelet kube-proxy"
unset T0; declare -A T0
for h in node1 node2 node3; do
	for u in $UNITS; do
		[ "$(on $h systemctl is-active $u 2>/dev/null)" = active ] && T0[$h/$u]=$(unit_started $h $u)
	done
done
echo "# units running before: ${#T0[@]}"
cp "$W/full.yaml" "$INV"
set_roles "$INV" node4 node
apply "$W/add-node"
check "adding node4: apply converges (exit 0)" [ "$RC" -eq 0 ]
changed_on_old() {
	python3 - "$W/add-node.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
got = sorted({t["task"] for h in d["hosts"] if h["name"] in ("node1", "node2", "node3")
              for t in h["tasks"] if t["status"] == "changed"})
print("# changed on node1-3: %s" % got)
sys.exit(0 if got == ["prepare/etc-hosts"] else 1)
EOF
}
check "on node1-3 only korch's block of /etc/hosts changed" changed_on_old
check "no service restarted on node1-3" none_restarted
for h in node1 node3; do
	check "$h: /etc/hosts names node4 in korch's block and keeps the cloud's line" on $h \
	    'sed -n "/^# BEGIN korch$/,/^# END korch$/p" /etc/hosts | grep -q " node4$" && grep -qx "203.0.113.9 cloud-metadata.internal" /etc/hosts && grep -q "^127.0.0.1" /etc/hosts'
done
retry 90 2 ready node3 node4 >/dev/null
check "node4 is Ready" ready node3 node4
web_deployment web one-per-node | sed 's/replicas: 3/replicas: 2/' | on $MASTER 'cat > /tmp/web.yaml'
check "kubectl apply of a 2-replica Deployment, one pod per node" kc apply -f /tmp/web.yaml
on_node4() { kc get pods -l app=web -o 'jsonpath={range .items[*]}{.spec.nodeName}={.status.phase} {end}' 2>/dev/null | grep -q 'node4=Running'; }
retry 90 2 on_node4
check "a web pod runs on node4" on_node4

# ---- grow etcd 1 -> 3 in one run
etcdctl() {
	on $MASTER env ETCDCTL_API=3 /opt/etcd/3.4.23/bin/etcdctl --endpoints https://127.0.0.1:2379 \
	    --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key "$@"
}
E1=$(unit_started node1 etcd)
set_roles "$INV" node2 "etcd, master"
set_roles "$INV" node3 "etcd, node"
start_sampler grow node1 node2 node3 node4
apply "$W/grow"
stop_sampler
check "node2 and node3 join etcd: apply converges (exit 0)" [ "$RC" -eq 0 ]
etcdctl member list -w simple >"$W/members" 2>&1
sed 's/^/#   /' "$W/members"
check "member list: 3 members, all started" [ "$(grep -c ', started, ' "$W/members")" -eq 3 ]
EPS=$(for h in node1 node2 node3; do printf 'https://%s:2379,' "$(host_addr $h)"; done)
etcdctl --endpoints "${EPS%,}" endpoint health >"$W/health" 2>&1
sed 's/^/#   /' "$W/health"
all_healthy() { local h; for h in node1 node2 node3; do grep -q "^https://$(host_addr $h):2379 is healthy" "$W/health" || return 1; done; }
check "all 3 members healthy" all_healthy
check "node2 and node3 started as members of an existing cluster" on node2 \
    'grep -qx ETCD_INITIAL_CLUSTER_STATE=existing /etc/etcd/initial-cluster.env'
check "node3 joined knowing node1 and node2" on node3 \
    'grep -q "^ETCD_INITIAL_CLUSTER=node1=https://[^,]*,node2=https://[^,]*,node3=https://" /etc/etcd/initial-cluster.env'
check "node1's etcd was not restarted" [ "$(unit_started node1 etcd)" = "$E1" ]
# A new member counts from its first start on: before, its etcd is not
# down, it is not there yet.
python3 - "$W/grow.jsonl" >"$W/grow-members.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
first = {}
for r in sorted(rows, key=lambda r: r["t"]):
    if "etcd" in r.get("active", []) and r["host"] not in first:
        first[r["host"]] = r["t"]
for r in rows:
    if r["host"] not in ("node1", "node2", "node3") or r["t"] >= first.get(r["host"], float("inf")):
        print(json.dumps(r))
EOF
"$E2E_ROOT/tests/e2e/sampler-check" "$W/grow-members.jsonl" --masters node1,node2,node3 --master-units etcd \
    --nodes node4 --max-nodes-down 1 >"$W/grow.check" 2>&1
RCS=$?
sed 's/^/#   /' "$W/grow.check"
check "never two etcd members down at once (sampler)" [ "$RCS" -eq 0 ]
"$E2E_ROOT/tests/e2e/sampler-check" "$W/grow.jsonl" --masters node1,node2 --master-units kube-apiserver \
    --nodes node4 --max-nodes-down 1 >"$W/grow-api.check" 2>&1
check "the apiservers (new etcd endpoints) restarted one at a time" [ $? -eq 0 ]

# ---- an apiserver flag changed: the masters roll, the API stays up
A1=$(unit_started node1 kube-apiserver) A2=$(unit_started node2 kube-apiserver)
sed -i '/^  apiserver_lb: /a\  vars: { admission_plugins: "NodeRestriction,PodNodeSelector" }' "$INV"
start_poll api node3 --cacert /etc/haproxy/korch-ca.crt https://127.0.0.1:6443/healthz
sleep 2
start_sampler roll node1 node2 node3 node4
apply "$W/roll"
stop_sampler
sleep 2
stop_poll api node3
check "the flag change applies (exit 0)" [ "$RC" -eq 0 ]
check "both apiservers run with the new flag" bash -c "for h in node1 node2; do '$TB' ssh \$h systemctl show -p ExecStart kube-apiserver | grep -q 'enable-admission-plugins=NodeRestriction,PodNodeSelector' || exit 1; done"
both_restarted() { [ "$(unit_started node1 kube-apiserver)" != "$A1" ] && [ "$(unit_started node2 kube-apiserver)" != "$A2" ]; }
check "both apiservers restarted" both_restarted
# How long each apiserver's last stop took (systemd: left active, entered
# inactive or failed).  Unbounded, a 1.20 apiserver waits 60 s for its open
# watches after it stops listening; its unit's TimeoutStopSec bounds that.
stop_secs() { on "$1" systemctl show -p ActiveExitTimestampMonotonic -p InactiveEnterTimestampMonotonic kube-apiserver |
	awk -F= '/^ActiveExit/ { a = $2 } /^InactiveEnter/ { i = $2 } END { if (a > 0 && i >= a) printf "%.1f", (i - a) / 1e6; else print "unknown" }'; }
S1=$(stop_secs node1) S2=$(stop_secs node2)
echo "# figure: apiserver stop took $S1 s on node1, $S2 s on node2 (TimeoutStopSec=20)"
check "each apiserver's stop ended within its unit's bound (<= 25 s)" \
    python3 -c "import sys; sys.exit(0 if all(v != 'unknown' and float(v) <= 25 for v in sys.argv[1:]) else 1)" "$S1" "$S2"
"$E2E_ROOT/tests/e2e/sampler-check" "$W/roll.jsonl" --masters node1,node2 --master-units kube-apiserver \
    --nodes node4 --max-nodes-down 1 >"$W/roll.check" 2>&1
RCS=$?
sed 's/^/#   /' "$W/roll.check"
check "the masters restarted one at a time (sampler)" [ "$RCS" -eq 0 ]
read -r API_RATE API_GAP _ API_N _ <<<"$(gaps "$W/api.poll" 200)"
echo "# figure: API through the local haproxy during the rolling restart: $API_RATE % of $API_N polls (100 ms), longest outage $API_GAP s"
check "the API answered through the load balancer throughout (>= 99 %)" \
    python3 -c "import sys; sys.exit(0 if float('$API_RATE') >= 99.0 and int('$API_N') > 50 else 1)"

apply "$W/again"
check "a second apply converges and changes nothing" bash -c "[ $RC -eq 0 ] && [ \"\$(python3 -c 'import json,sys; print(sum(h[\"changed\"] for h in json.load(open(sys.argv[1]))[\"hosts\"]))' '$W/again.json')\" = 0 ]"

"$TB" down >&2
finish
