#!/usr/bin/env bash
# End-to-end: `korch upgrade` of a REAL Kubernetes 1.20 cluster (the real
# 1.20.2 of tests/kube/build, the real etcd, the real docker, the flanneld
# stand-in with its real vxlan data plane) under traffic, on 6 booted
# test-bed hosts (node1, node2: etcd + master; node3: etcd; node4-6: nodes),
# with apiserver_lb local: an haproxy over both masters on node3-6.
# Usage: real-upgrade.sh BUILD
#
# Honestly: only one real Kubernetes can be built here, so "1.20.3" is the
# real 1.20.2 relabelled (make-bundle --label 1.20.3: the same code with its
# version string patched to v1.20.3, tests/bundle/README.md).  korch sees a
# version change and rolls every host, and the programs then report v1.20.3,
# but what runs after the upgrade is 1.20.2's code.  The etcd change is
# real: Debian bookworm's etcd 3.4.23 -> Debian trixie's etcd 3.5.16
# (make-bundle --etcd 3.5), on the members' own data directories.
#
#  - korch upgrade --to 1.20.3 --plan: snapshot, the etcd members one at a
#    time (3.4.23 -> 3.5.16), the masters, then the nodes one by one;
#  - the upgrade under load: a 3-replica busybox httpd Deployment (a
#    readinessProbe and the usual preStop sleep, so a drained pod keeps
#    serving while kube-proxy catches up) with a PodDisruptionBudget
#    (minAvailable 2) and preferred anti-affinity behind a ClusterIP
#    Service, a client on node1 (a master, in no node batch) asking it every
#    100 ms, an apiserver poller on this machine (node1 or node2 /healthz
#    every 250 ms; node1 alone is reported too, as a figure) and the unit
#    sampler on all 6 hosts;
#  - korch killed (-9) while the second etcd member's phase runs; the same
#    command resumes and finishes;
#  - after: every member on 3.5.16, cluster version 3.5.0, flannel's v2 key
#    still there; never more than 1 etcd member, 1 master and 1 node down
#    at once; the API (node1 or node2) and the Service answered >= 99%; every
#    node Ready on v1.20.3, every component on 1.20.3 / etcd 3.5.16; every
#    web pod Running and Ready.  The master check's worst case is made
#    every run: both leaders on node2 as node1's master phase starts.
#  - korch rollback is refused: etcd does not go back a minor version in
#    place; the refusal names `korch etcd restore` and the snapshot, and
#    nothing changed.
#
# KORCH_E2E_KEEP=1 keeps the work directory (bundles, logs, state).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin real-upgrade "$@"
SAMPLER_PID= API_PID= SVC_HOST=
cleanup() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null
	[ -n "$SVC_HOST" ] && on "$SVC_HOST" 'touch /tmp/korch-svc.stop' 2>/dev/null
	if [ "${KORCH_E2E_KEEP:-0}" = 1 ]; then echo "# kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
# The tree's playbooks, also for a sanitizer build in build/san.
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
V=1.20.2
TO=1.20.3
ETCD_OLD=3.4.23
ETCD_NEW=3.5.16
B=$W/bundles
MASTER=node1
MASTERS="node1 node2"
MEMBERS="node1 node2 node3"
NODES="node4 node5 node6"
ALL="node1 node2 node3 node4 node5 node6"

tail_of() { tail -n "${2:-20}" "$W/$1.out" "$W/$1.err" 2>/dev/null | sed 's/^/#   /'; }
# etcdctl 3.5 on node1 against every member (v3), or API=2 on its own.
etcdctl35() {
	if [ "${API:-3}" = 2 ]; then
		on $MASTER env ETCDCTL_API=2 "/opt/etcd/$ETCD_NEW/bin/etcdctl" --endpoints https://127.0.0.1:2379 \
		    --ca-file /etc/etcd/pki/ca.crt --cert-file /etc/etcd/pki/client.crt --key-file /etc/etcd/pki/client.key "$@"
	else
		on $MASTER env ETCDCTL_API=3 "/opt/etcd/$ETCD_NEW/bin/etcdctl" --endpoints "$EPS" --cacert /etc/etcd/pki/ca.crt \
		    --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key "$@"
	fi
}
members_on() { # members_on VERSION: endpoint status of all 3 says it
	etcdctl35 endpoint status -w json >"$W/epstatus.json" 2>"$W/epstatus.err" || { sed 's/^/#   /' "$W/epstatus.err"; return 1; }
	python3 - "$W/epstatus.json" "$1" <<'EOF'
import json, sys
d, want = json.load(open(sys.argv[1])), sys.argv[2]
got = sorted((e["Endpoint"], e["Status"]["version"]) for e in d)
print("# etcd members: %s" % ", ".join("%s %s" % g for g in got))
sys.exit(0 if len(got) == 3 and all(v == want for _, v in got) else 1)
EOF
}
etcd_version_doc() { on $MASTER curl -s --max-time 5 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/client.crt \
    --key /etc/etcd/pki/client.key "https://$(host_addr node1):2379/version"; }
cluster_version() { etcd_version_doc | python3 -c 'import json,sys; print(json.load(sys.stdin)["etcdcluster"])' 2>/dev/null; }
# all_on KUBE ETCD: every Kubernetes component korch observes reports
# KUBE and every etcd ETCD (korch status --json), the counts as listed.
all_on() {
	"$KORCH" status --json >"$W/st.json" 2>"$W/st.err" || return 1
	python3 - "$W/st.json" "$1" "$2" <<'EOF'
import json, sys
d, kube, etcd = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
comps = [(h["name"], c["name"], c["observed"]) for h in d["hosts"] for c in h["components"]]
k = [c for c in comps if c[1].startswith("kube")]
e = [c for c in comps if c[1] == "etcd"]
bad = [c for c in k if c[2] != kube] + [c for c in e if c[2] != etcd]
print("# korch status: %d Kubernetes components, %d etcd%s" % (len(k), len(e),
      "; not on %s/%s: %s" % (kube, etcd, bad) if bad else ""))
sys.exit(1 if bad or not k or len(e) != 3 else 0)
EOF
}
READY_JP='jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}/{.status.nodeInfo.kubeletVersion}/{.spec.unschedulable} {end}'
nodes_on() { # nodes_on VERSION: every node Ready, schedulable, on kubelet vVERSION
	local s n
	s=$(kc get nodes -o "$READY_JP" 2>/dev/null) || return 1
	for n in $NODES; do grep -q "$n=True/v$1/ " <<<"$s " || { echo "# nodes: $s"; return 1; }; done
}
pods_ready() { # pods_ready N: N web pods, each Running and Ready
	local s
	s=$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.metadata.name},{.spec.nodeName},{.status.phase},{.status.conditions[?(@.type=="Ready")].status} {end}' 2>/dev/null) || return 1
	[ "$(tr ' ' '\n' <<<"$s" | grep -c ',Running,True$')" -eq "$1" ] && [ "$(tr ' ' '\n' <<<"$s" | grep -c .)" -eq "$1" ]
}
mk() { "$E2E_ROOT/tests/bundle/make-bundle" "$@" >"$W/make-bundle.log" 2>&1 || { notok "make-bundle $*" "$(tail -3 "$W/make-bundle.log")"; finish; exit 1; }; }
# ---- bundles: the real 1.20.2, and the same code labelled 1.20.3 with etcd 3.5
KBIN=$("$E2E_ROOT/tests/kube/build") || { notok "the real Kubernetes $V binaries (tests/kube/build)"; finish; exit 1; }
ok "the real Kubernetes $V binaries are built ($KBIN)"
mk --kube-bin "$KBIN" --lb "$V" "$B/bundle-$V"
mk --kube-bin "$KBIN" --label "$TO" --etcd 3.5 --lb "$V" "$B/bundle-$TO"
check "bundle $V: etcd $ETCD_OLD" grep -q "name: etcd, version: $ETCD_OLD," "$B/bundle-$V/manifest.yaml"
check "bundle $TO (relabelled $V): Kubernetes $TO" grep -qE "^kubernetes_version: \"?$TO\"?\$" "$B/bundle-$TO/manifest.yaml"
check "bundle $TO: etcd $ETCD_NEW" grep -q "name: etcd, version: $ETCD_NEW," "$B/bundle-$TO/manifest.yaml"
check "bundle $TO: the kube-apiserver says v$TO" bash -c "'$B/bundle-$TO/bin/kube-apiserver' --version | grep -qx 'Kubernetes v$TO'"

# ---- 6 hosts, the real 1.20.2 cluster
echo "# booting 6 test-bed hosts"
"$TB" up 6 >&2 || { notok "test bed up 6"; finish; exit 1; }
bundle_inventory "$INV" "$B/bundle-$V" --kubernetes-version "$V" etcd,master etcd,master etcd node node node
set_lb "$INV" local
CLUSTER=$(awk '/^  name:/ { print $2; exit }' "$INV")
EPS=
for m in $MEMBERS; do EPS=$EPS${EPS:+,}https://$(host_addr $m):2379; done
t0=$(date +%s.%N)
korch apply apply "$INV"
t1=$(date +%s.%N)
check "6 hosts (3 etcd members, 2 masters, 3 nodes) on the real $V converge (exit 0)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || { tail_of apply 30; "$TB" down >&2; finish; exit 1; }
echo "# converge: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
retry 90 2 nodes_on "$V" >/dev/null
check "every node Ready on v$V" nodes_on "$V"
# apiserver_lb local: every host but the masters runs haproxy over both
# masters, and every kubeconfig names 127.0.0.1.
for h in node3 $NODES; do
	check "$h: haproxy runs, both masters up behind it" on $h 'systemctl is-active --quiet haproxy && curl -sf --max-time 5 --cacert /etc/haproxy/korch-ca.crt https://127.0.0.1:6443/readyz >/dev/null && [ "$(grep -c "^    server " /etc/haproxy/haproxy.cfg)" = 2 ]'
done
check "the kubelets and kube-proxy name 127.0.0.1:6443" on node4 'grep -q "server: \"https://127.0.0.1:6443\"" /etc/kubernetes/kubelet.kubeconfig && grep -q "server: \"https://127.0.0.1:6443\"" /etc/kubernetes/kube-proxy.kubeconfig'
check "the masters run no haproxy" on node1 '! systemctl is-active --quiet haproxy'

# ---- the workload: 3 replicas, a PDB, preferred anti-affinity, a ClusterIP Service
{
	web_deployment web drainable
	cat <<'EOF'
---
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: { name: web }
spec:
  minAvailable: 2
  selector: { matchLabels: { app: web } }
---
EOF
	web_service web
} | on "$MASTER" 'cat > /tmp/web.yaml'
check "kubectl apply of the Deployment, its PodDisruptionBudget and a ClusterIP Service" kc apply -f /tmp/web.yaml
retry 120 2 pods_ready 3
check "3 web pods Running and Ready" pods_ready 3
kc get pods -l app=web -o wide --no-headers 2>/dev/null | awk '{ print "#   " $1, $2, $3, $6, $7 }'
CIP=$(kc get service web -o 'jsonpath={.spec.clusterIP}')
svc_ok() { local i; for i in $(seq 30); do [ "$(on $MASTER curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$CIP/")" = 200 ] && return 0; sleep 1; done; return 1; }
check "the ClusterIP $CIP answers 200 on $MASTER" svc_ok
PKI=$(dirname "$KORCH_STATE")/pki/$CLUSTER
ls "$PKI" | tr '\n' ' ' | sed 's/^/# pki: /'; echo
healthz_from_here() { # healthz_from_here HOST
	[ "$(curl -s --max-time 1 --cacert "$PKI/ca.crt" --cert "$PKI/health.crt" --key "$PKI/health.key" \
	    "https://$(host_addr "$1"):6443/healthz")" = ok ]
}
for m in $MASTERS; do check "the apiserver on $m answers /healthz from this machine" healthz_from_here $m; done

# ---- the watchers: Service client on node1, apiserver poller here, unit sampler
SVC_HOST=$MASTER
on $MASTER "rm -f /tmp/korch-svc.log /tmp/korch-svc.stop; setsid sh -c 'while [ ! -e /tmp/korch-svc.stop ]; do
	( t=\$(date +%s%3N); c=\$(curl -s -o /dev/null -w %{http_code} --max-time 1 http://$CIP/); echo \"\$t \$c\" >> /tmp/korch-svc.log ) &
	sleep 0.1
done' </dev/null >/dev/null 2>&1 &"
A1=$(host_addr node1) A2=$(host_addr node2)
hz() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert "$PKI/ca.crt" --cert "$PKI/health.crt" --key "$PKI/health.key" "https://$1:6443/healthz"; }
# One line a poll: "t ok1" (node1 answered), "t ok2" (node1 did not, node2
# did) or "t fail:C1,C2" (both HTTP codes; 000 = no answer within 1 s).
(
	while [ ! -e "$W/api.stop" ]; do
		(
			t=$(date +%s%3N)
			c1=$(hz "$A1")
			if [ "$c1" = 200 ]; then r=ok1
			else c2=$(hz "$A2"); if [ "$c2" = 200 ]; then r=ok2; else r=fail:$c1,$c2; fi
			fi
			echo "$t $r" >>"$W/api.log"
		) &
		sleep 0.25
	done
	wait
) &
API_PID=$!
start_sampler up $ALL
sleep 1 # 3 s since the watchers started, with start_sampler's 2
check "the Service client on $MASTER is recording" on $MASTER 'test -s /tmp/korch-svc.log'
check "the apiserver poller is recording" test -s "$W/api.log"

# ---- the plan
korch plan upgrade --to "$TO" --plan
check "--plan succeeds" [ "$RC" -eq 0 ]
sed 's/^/#   /' "$W/plan.out"
check "--plan: snapshot, etcd members one at a time, masters, then the nodes one by one" plan_is "$W/plan.out" \
    "snapshot node1" "etcd node1" "etcd node2" "etcd node3" "master node1" \
    "master node2" "node node4 1" "node node5 2" "node node6 3"
check "--plan: each etcd member moves $ETCD_OLD -> $ETCD_NEW" \
    [ "$(grep -cE "^ +[0-9]+\. etcd +node[123] .*etcd $ETCD_OLD -> $ETCD_NEW" "$W/plan.out")" -eq 3 ]
check "--plan: kubelet $V -> $TO on the nodes" [ "$(grep -cE "^ +[0-9]+\. node .*kubelet $V -> $TO" "$W/plan.out")" -eq 3 ]
check "--plan: at worst 1 etcd member, 1 master, 1 node down" grep -q "at worst down at once: 1 etcd member.*1 of 2 masters, 1 of 3 nodes" "$W/plan.out"
check "--plan changed nothing" [ "$(journal_count)" = 0 ]

# ---- the upgrade, killed in the second etcd member's phase, resumed
# The masters' worst case, made every run: both leaders on node2 as node1's
# master phase starts (node1's apiserver takes over 60 s to stop while
# watches are open).  With apiserver_lb local node2's controller-manager
# and scheduler talk to node2's own apiserver and keep their leases, and
# the kubelets reach node2 through their haproxy, so no node is marked
# NotReady meanwhile.
lease_holders() {
	kc -n kube-system get lease kube-controller-manager kube-scheduler \
	    -o 'jsonpath={range .items[*]}{.spec.holderIdentity} {end}' 2>/dev/null
}
on node1 'systemctl stop kube-controller-manager kube-scheduler'
for _ in $(seq 1 60); do
	set -- $(lease_holders)
	case "${1:-}:${2:-}" in node2_*:node2_*) break ;; esac
	sleep 1
done
on node1 'systemctl start kube-controller-manager kube-scheduler'
check "both leaders on node2 before the upgrade" \
    bash -c 'case "$1:$2" in node2_*:node2_*) ;; *) exit 1 ;; esac' _ $(lease_holders)
LEADERS=$(kc -n kube-system get lease kube-controller-manager kube-scheduler \
    -o 'jsonpath={range .items[*]}{.metadata.name}={.spec.holderIdentity} {end}' 2>/dev/null)
echo "# leaders before the upgrade: $LEADERS"
t0=$(date +%s.%N)
"$KORCH" upgrade --to "$TO" >"$W/up1.out" 2>&1 &
PID=$!
if wait_phase node2 etcd running 900; then
	sleep 1 # into the phase's steps
	kill -9 $PID; wait $PID 2>/dev/null
	ok "kill -9 of korch in node2's etcd phase"
else
	kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null
	notok "node2's etcd phase never started" "$(tail -3 "$W/up1.out")"
fi
check "journal after the kill: snapshot and node1's etcd done, node2's etcd running" \
    [ "$(phase node1 snapshot)/$(phase node1 etcd)/$(phase node2 etcd)" = done/done/running ]
korch up2 upgrade --to "$TO"
t1=$(date +%s.%N)
check "the rerun of korch upgrade --to $TO completes (exit 0)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || tail_of up2 30
check "the rerun said it resumed" grep -q "resuming upgrade #1" "$W/up2.out"
check "node2's etcd phase was run again (2 attempts), then done" \
    [ "$(sql "SELECT status, attempts FROM upgrade_phases WHERE upgrade_id = 1 AND host = 'node2' AND phase = 'etcd'")" = "done|2" ]
check "every phase of the upgrade is done" [ "$(sql "SELECT count(*) FROM upgrade_phases WHERE upgrade_id = 1 AND status != 'done'")" = 0 ]
UPGRADE_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

# ---- stop the watchers
sleep 3
touch "$W/api.stop"
on $MASTER 'touch /tmp/korch-svc.stop'
wait "$API_PID" 2>/dev/null; API_PID=
stop_sampler
sleep 2
on $MASTER 'cat /tmp/korch-svc.log' >"$W/svc.log"
SVC_HOST=

# ---- etcd
check "every etcd member reports $ETCD_NEW (endpoint status)" members_on "$ETCD_NEW"
for _ in $(seq 30); do [ "$(cluster_version)" = 3.5.0 ] && break; sleep 1; done
echo "# etcd /version: $(etcd_version_doc)"
check "the etcd cluster version is 3.5.0" [ "$(cluster_version)" = 3.5.0 ]
check "every etcd member runs from /opt/etcd/$ETCD_NEW" etcd_runs_from "$ETCD_NEW" $MEMBERS
cfg=$(API=2 etcdctl35 get /flannel/network/config 2>&1)
echo "# flannel config: $cfg"
check "flannel's network config (a v2 key) survived" grep -q '"Network"' <<<"$cfg"

# ---- availability
sc() { # sampler-check, its report as comments
	"$E2E_ROOT/tests/e2e/sampler-check" "$@" >"$W/sc.out" 2>&1
	local r=$?
	sed 's/^/#   /' "$W/sc.out"
	return $r
}
check "never more than 1 etcd member down at once" sc "$W/up.jsonl" \
    --masters node1,node2,node3 --master-units etcd --nodes node4,node5,node6 --max-nodes-down 1
check "never more than 1 master and 1 node down at once" sc "$W/up.jsonl" \
    --masters node1,node2 --nodes node4,node5,node6 --max-nodes-down 1
read -r API_RATE API_GAP API_AT API_N API_BETWEEN API_SILENCE <<<"$(gaps "$W/api.log" ok1,ok2)"
# node1's apiserver alone: how long the first master was away (with
# apiserver_lb local nothing depends on it alone).  A figure, not a check.
read -r API1_RATE API1_GAP API1_AT _ <<<"$(gaps "$W/api.log" ok1)"
read -r SVC_RATE SVC_GAP SVC_AT SVC_N SVC_BETWEEN SVC_SILENCE <<<"$(gaps "$W/svc.log" 200)"
check "the apiserver poller ran throughout ($API_N polls)" [ "$API_N" -gt 100 ]
# When a master restarts, every client it had moves to the other at once
# (relists): a few seconds of slow answers there, on this busy machine.
check "the API (node1 or node2) answered >= 99% of polls ($API_RATE%, longest outage $API_GAP s at $API_AT)" \
    awk -v r="$API_RATE" 'BEGIN { exit !(r >= 99.0) }'
check "the Service client ran throughout ($SVC_N requests)" [ "$SVC_N" -gt 100 ]
check "the Service answered >= 99% of requests ($SVC_RATE%, longest outage $SVC_GAP s at $SVC_AT)" \
    awk -v r="$SVC_RATE" 'BEGIN { exit !(r >= 99.0) }'
awk '$2 != 200 { print $2 }' "$W/svc.log" | sort | uniq -c | sed 's/^/#   Service failures: /'
awk '$2 !~ /^ok/ { print $2 }' "$W/api.log" | sort | uniq -c | sed 's/^/#   apiserver poll failures (node1,node2 HTTP codes): /'

# ---- Kubernetes
retry 60 2 nodes_on "$TO" >/dev/null
check "every node Ready and schedulable on kubeletVersion v$TO" nodes_on "$TO"
check "every Kubernetes component reports $TO and every etcd $ETCD_NEW (korch status)" all_on "$TO" "$ETCD_NEW"
retry 60 2 pods_ready 3
check "every web pod Running and Ready" pods_ready 3
kc get pods -l app=web -o wide --no-headers 2>/dev/null | awk '{ print "#   " $1, $2, $3, $6, $7 }'

# ---- rollback: etcd cannot go back a minor version in place
N=$(journal_count)
SNAP=$(sql "SELECT snapshot FROM upgrades WHERE id = 1")
check "the etcd snapshot is on the controller ($SNAP)" [ -s "$SNAP" ]
korch rollback rollback
check "korch rollback is refused (exit 1)" [ "$RC" -eq 1 ]
sed 's/^/#   /' "$W/rollback.err"
check "the refusal says etcd does not go back a minor version in place" \
    grep -q "refused: etcd does not go back a minor version in place" "$W/rollback.err"
check "the refusal names korch etcd restore with the snapshot" grep -qF "korch etcd restore $SNAP --yes" "$W/rollback.err"
check "the refusal recorded nothing (journal count $N)" [ "$(journal_count)" = "$N" ]
check "after the refusal every etcd member still reports $ETCD_NEW" members_on "$ETCD_NEW"

# ---- figures
echo "# upgrade (both runs, kill included): $UPGRADE_S s"
cat "$W/up1.out" "$W/up2.out" | sed -nE 's/^ +\[([0-9-]+\/[0-9]+)\] +([a-z]+) +([^ ]+) +(.*)  ([0-9.]+s)$/# phase \1 \2 \3: \4 \5/p' |
    sed -E 's/: \/[^ ]+ \(([0-9]+ bytes)[^)]*\)/: done (\1 snapshot)/'
echo "# Service client: $SVC_RATE% of $SVC_N requests answered 200; longest outage $SVC_GAP s (at $SVC_AT UTC); longest between two answers $SVC_BETWEEN s; the client's longest silence $SVC_SILENCE s"
echo "# apiserver poller (node1 or node2): $API_RATE% of $API_N polls answered; longest outage $API_GAP s (at $API_AT UTC); longest between two answers $API_BETWEEN s; the poller's longest silence $API_SILENCE s"
echo "# node1's apiserver alone: $API1_RATE% answered; longest outage $API1_GAP s (at $API1_AT UTC)"
# Each unit's longest outage seen by the sampler (restarts between samples).
python3 - "$W/up.jsonl" <<'EOF'
import json, sys
worst = {}
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if "outage" in r:
        k = (r["host"], r["outage"])
        worst[k] = max(worst.get(k, 0), r["until"] - r["t"])
print("# unit restarts (longest outage each): " + ", ".join(
    "%s %s %.1f s" % (h, u, ms / 1000) for (h, u), ms in sorted(worst.items())))
EOF
"$TB" down >&2
finish
