#!/usr/bin/env bash
# End-to-end: high availability of a REAL Kubernetes 1.20.2 cluster (the
# real 1.20.2 of tests/kube/build, the real etcd 3.4, docker, haproxy 2.6
# and keepalived 2.2.7 from Debian, the flanneld stand-in) on 5 booted
# test-bed hosts: node1-3 etcd members and masters, node4-5 nodes.
# Usage: real-ha.sh BUILD
#
# First with the inventory silent on apiserver_lb (the default with 3
# masters: local, an haproxy on each node), then switched to vip
# (keepalived holds a virtual IP on the masters, an haproxy on each):
#  - every kubeconfig names the endpoint; the apiserver's certificate has
#    the virtual IP; `korch status` shows which master leads
#    kube-controller-manager and kube-scheduler (their Leases agree);
#  - a master killed (power cut): `kubectl get nodes` works again from
#    every other host within 5 s, through the load balancer; the nodes stay
#    Ready past the node monitor's grace period; a new Deployment runs;
#    with vip the address moves to another master (how fast is reported);
#    started again, the master rejoins and etcd has 3 healthy members;
#  - an apiserver flag changed and applied: the masters restart one at a
#    time (sampler), and a client polling /healthz through the load
#    balancer every 100 ms sees at least 99.9 % answers;
#  - a second apply changes nothing;
#  - with vip, `korch upgrade` to 1.20.3 (the same code relabelled) under
#    the same client: at least 99 % answers.
# Figures (failover, availability, the load balancer's added latency) are
# printed as "# figure:" lines.
#
# `make check` runs it after real-day2-remove; `make ha` runs it alone.
# Its rolls and its upgrade wait for each apiserver to stop: a stopping
# 1.20 apiserver stops listening after its 5 s shutdown delay, then waits up
# to --request-timeout (60 s) for the watches still open on it.  The unit's
# TimeoutStopSec=20 (playbooks/templates/kube-apiserver.service.tmpl)
# bounds that: 14 min under ASan, where it took 25 min before.  haproxy no
# longer cuts a leaving master's sessions (on-marked-down shutdown-sessions
# cut a request that reached it as it left: 1 poll of 442 in the vip roll).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin real-ha "$@"
SAMPLER_PID=
cleanup() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
	if [ "${KORCH_E2E_KEEP:-0}" = 1 ]; then echo "# kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
V=1.20.2
TO=1.20.3
B=$W/b
MASTERS="node1 node2 node3"
NODES="node4 node5"
ALL="$MASTERS $NODES"
MASTER=node2

mk() { "$E2E_ROOT/tests/bundle/make-bundle" "$@" >"$W/make-bundle.log" 2>&1 || { notok "make-bundle $*" "$(tail -3 "$W/make-bundle.log")"; finish; exit 1; }; }
KBIN=$("$E2E_ROOT/tests/kube/build") || { notok "the real Kubernetes $V binaries (tests/kube/build)"; finish; exit 1; }
ok "the real Kubernetes $V binaries are built ($KBIN)"
mk --kube-bin "$KBIN" --vip "$V" "$B/bundle-$V"
mk --kube-bin "$KBIN" --label "$TO" --vip "$V" "$B/bundle-$TO"
check "the bundle carries haproxy and keepalived" bash -c "grep -q 'name: haproxy,' '$B/bundle-$V/manifest.yaml' && grep -q 'name: keepalived,' '$B/bundle-$V/manifest.yaml'"

echo "# booting 5 test-bed hosts"
"$TB" up 5 >&2 || { notok "test bed up 5"; finish; exit 1; }
bundle_inventory "$INV" "$B/bundle-$V" --kubernetes-version "$V" etcd,master etcd,master etcd,master node node
check "the inventory says nothing of apiserver_lb" bash -c "! grep -q apiserver_lb '$INV'"
CLUSTER=$(awk '/^  name:/ { print $2; exit }' "$INV")
PKI=$(dirname "$KORCH_STATE")/pki/$CLUSTER
A1=$(host_addr node1)
VIP=${A1%.*}.250
EPS=$(for m in $MASTERS; do printf 'https://%s:2379,' "$(host_addr $m)"; done)
EPS=${EPS%,}
# kubectl on the nodes too, with the kubelet's kubeconfig: "from every
# host, through the load balancer".
for n in $NODES; do on $n 'cat > /usr/local/bin/kubectl && chmod 755 /usr/local/bin/kubectl' <"$KBIN/kubectl"; done

# ---- helpers
READY_JP='jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}'
ready() { local s n; s=$(kc get nodes -o "$READY_JP" 2>/dev/null) || return 1; for n in "$@"; do grep -q "$n=True " <<<"$s " || return 1; done; }
# kget HOST: kubectl get nodes there (a master: admin's kubeconfig; a
# node: the kubelet's), 2 s at most.
kget_cmd() {
	case " $NODES " in
	*" $1 "*) echo "kubectl --kubeconfig /etc/kubernetes/kubelet.kubeconfig --request-timeout=2s get nodes" ;;
	*) echo "kubectl --request-timeout=2s get nodes" ;;
	esac
}
# members_healthy: etcd's 3 members answer healthy (through a live one).
members_healthy() {
	local via
	for via in $MASTERS; do
		on $via "ETCDCTL_API=3 /opt/etcd/*/bin/etcdctl --endpoints $EPS --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key endpoint health" >"$W/eph.out" 2>&1 &&
		    [ "$(grep -c 'is healthy' "$W/eph.out")" = 3 ] && return 0
	done
	return 1
}
pods_ready() { # pods_ready NAME N: N pods of app NAME, each Running and Ready
	local s
	s=$(kc get pods -l app=$1 -o 'jsonpath={range .items[*]}{.status.phase},{.status.conditions[?(@.type=="Ready")].status} {end}' 2>/dev/null) || return 1
	[ "$(tr ' ' '\n' <<<"$s" | grep -c '^Running,True$')" -eq "$2" ]
}
# leaders_agree: korch status's leaders are the Leases' holders, on masters.
leaders_agree() {
	"$KORCH" status --json >"$W/st.json" 2>"$W/st.err" || return 1
	kc -n kube-system get lease kube-controller-manager kube-scheduler \
	    -o 'jsonpath={range .items[*]}{.metadata.name}={.spec.holderIdentity} {end}' >"$W/leases.out" 2>/dev/null || return 1
	python3 - "$W/st.json" "$W/leases.out" "$MASTERS" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
leases = dict(kv.split("=", 1) for kv in open(sys.argv[2]).read().split())
got = {l["component"]: l["host"] for l in d["leaders"]}
print("# leaders: korch status %s; Leases %s" % (got, leases))
ok = set(got) == {"kube-controller-manager", "kube-scheduler"} and all(
    got[c] in sys.argv[3].split() and leases.get(c, "").startswith(got[c] + "_") for c in got)
sys.exit(0 if ok else 1)
EOF
}
# latency NAME HOST URL CURL-ARGS...: the median and mean of 200
# sequential /healthz requests, in ms ("MEDIAN MEAN").
latency() {
	local name=$1 host=$2 url=$3
	shift 3
	on $host "for i in \$(seq 200); do curl -s -o /dev/null -w '%{time_total}\n' $* $url; done" >"$W/lat-$name.out"
	python3 - "$W/lat-$name.out" <<'EOF'
import statistics, sys
v = [1000 * float(l) for l in open(sys.argv[1]) if l.strip()]
print("%.2f %.2f" % (statistics.median(v), statistics.mean(v)))
EOF
}
# killed_master VICTIM URL CA MODE: the power cut and what must hold after.
killed_master() {
	local victim=$1 url=$2 ca=$3 mode=$4 h t0 worst=0 late= lat
	start_poll kill-$mode node4 --cacert "$ca" "$url/healthz"
	sleep 2
	t0=$(date +%s%3N)
	"$TB" kill $victim >&2
	# From every other host at once: the first answer's time.
	for h in $ALL; do
		[ $h = $victim ] && continue
		on $h "for i in \$(seq 60); do $(kget_cmd $h) >/dev/null 2>&1 && { date +%s%3N; exit 0; }; sleep 0.1; done; exit 1" >"$W/kget-$h.out" 2>/dev/null &
	done
	wait
	for h in $ALL; do
		[ $h = $victim ] && continue
		if [ -s "$W/kget-$h.out" ]; then
			lat=$(( $(tail -n 1 "$W/kget-$h.out") - t0 ))
			[ $lat -gt $worst ] && worst=$lat
			[ $lat -le 5000 ] || late="$late $h:${lat}ms"
		else
			late="$late $h:never"
		fi
	done
	echo "# figure: $mode: kubectl get nodes answered from every other host at most $worst ms after the power cut"
	check "$mode: $victim killed: kubectl get nodes works from every other host within 5 s" [ -z "$late" ]
	[ -z "$late" ] || echo "#   late:$late"
	KILL_T0=$t0
}
after_kill() { # after_kill VICTIM MODE APP
	local victim=$1 mode=$2 app=$3
	# Past the node monitor's grace period (40 s): a node whose kubelet
	# lost the API would be NotReady by now.
	sleep 45
	check "$mode: the nodes stay Ready with $victim down" ready $NODES
	web_deployment "$app" drainable | on $MASTER "cat > /tmp/$app.yaml"
	kc apply -f /tmp/$app.yaml >/dev/null 2>&1
	retry 90 2 pods_ready "$app" 3 >/dev/null
	check "$mode: a new Deployment ($app) schedules and runs with $victim down" pods_ready "$app" 3
	stop_poll kill-$mode node4
	read -r RATE GAP _ N _ <<<"$(gaps "$W/kill-$mode.poll" 200)"
	echo "# figure: $mode: a client polling /healthz through the load balancer every 100 ms: longest outage $GAP s, $RATE % of $N polls from 2 s before the kill to the new Deployment"
	"$TB" start $victim >&2
	retry 90 2 on $victim 'systemctl is-active --quiet kube-apiserver && curl -sf --max-time 2 --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6443/readyz >/dev/null' >/dev/null 2>&1
	check "$mode: $victim started again: its apiserver is ready" on $victim 'curl -sf --max-time 2 --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6443/readyz >/dev/null'
	retry 60 2 members_healthy >/dev/null
	check "$mode: etcd has 3 healthy members again" members_healthy
}
# roll MODE URL CA FLAGS: an apiserver flag change, applied under a client
# polling URL/healthz on node4; the masters restart one at a time.
roll() {
	local mode=$1 url=$2 ca=$3 flags=$4 a1 a2 a3
	a1=$(unit_started node1 kube-apiserver) a2=$(unit_started node2 kube-apiserver) a3=$(unit_started node3 kube-apiserver)
	sed -i '/^  vars: { admission_plugins:/d' "$INV"
	sed -i "/^  bundle: /a\\  vars: { admission_plugins: \"$flags\" }" "$INV"
	start_poll roll-$mode node4 --cacert "$ca" "$url/healthz"
	start_sampler roll-$mode $ALL
	apply "$W/roll-$mode"
	stop_sampler
	sleep 2
	stop_poll roll-$mode node4
	check "$mode: the flag change applies (exit 0)" [ "$RC" -eq 0 ]
	check "$mode: every apiserver restarted, with the new flag" bash -c "[ '$(unit_started node1 kube-apiserver)' != '$a1' ] && [ '$(unit_started node2 kube-apiserver)' != '$a2' ] && [ '$(unit_started node3 kube-apiserver)' != '$a3' ] && for h in $MASTERS; do '$TB' ssh \$h systemctl show -p ExecStart kube-apiserver | grep -q 'enable-admission-plugins=$flags' || exit 1; done"
	"$E2E_ROOT/tests/e2e/sampler-check" "$W/roll-$mode.jsonl" --masters node1,node2,node3 --master-units kube-apiserver \
	    --nodes node4,node5 --max-nodes-down 0 >"$W/roll-$mode.check" 2>&1
	RCS=$?
	sed 's/^/#   /' "$W/roll-$mode.check"
	check "$mode: the masters restarted one at a time (sampler)" [ "$RCS" -eq 0 ]
	read -r RATE GAP _ N _ <<<"$(gaps "$W/roll-$mode.poll" 200)"
	echo "# figure: $mode: /healthz through the load balancer during the rolling restart: $RATE % of $N polls (100 ms), longest outage $GAP s"
	check "$mode: at least 99.9 % of the polls answered during the rolling restart" \
	    python3 -c "import sys; sys.exit(0 if float('$RATE') >= 99.9 and int('$N') > 100 else 1)"
}
second_apply() { # second_apply MODE
	apply "$W/again-$1"
	check "$1: a second apply converges and changes nothing" bash -c "[ $RC -eq 0 ] && [ \"\$(python3 -c 'import json,sys; print(sum(h[\"changed\"] for h in json.load(open(sys.argv[1]))[\"hosts\"]))' '$W/again-$1.json')\" = 0 ]"
}

# ==== local (the default with 3 masters)
apply "$W/first"
check "5 hosts (3 etcd members and masters, 2 nodes) converge (exit 0)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || { "$TB" down >&2; finish; exit 1; }
retry 60 2 ready $NODES >/dev/null
check "node4 and node5 are Ready" ready $NODES
for n in $NODES; do
	check "local: $n runs haproxy with the 3 masters behind it" on $n 'systemctl is-active --quiet haproxy && [ "$(grep -c "^    server " /etc/haproxy/haproxy.cfg)" = 3 ] && curl -sf --max-time 5 --cacert /etc/haproxy/korch-ca.crt https://127.0.0.1:6443/readyz >/dev/null'
done
check "local: the kubelets and kube-proxy name https://127.0.0.1:6443" on node4 'grep -q "server: \"https://127.0.0.1:6443\"" /etc/kubernetes/kubelet.kubeconfig && grep -q "server: \"https://127.0.0.1:6443\"" /etc/kubernetes/kube-proxy.kubeconfig'
check "local: the masters run no haproxy and no keepalived" bash -c "for m in $MASTERS; do '$TB' ssh \$m 'systemctl is-active --quiet haproxy || systemctl is-active --quiet keepalived' && exit 1; done; exit 0"
check "local: korch status shows the leaders the Leases name" leaders_agree
"$KORCH" status >"$W/status.out" 2>&1
check "local: korch status prints a leaders section" grep -qE '^  kube-controller-manager +on node[123]' "$W/status.out"
sed -n '/^leaders/,/^$/p' "$W/status.out" | sed 's/^/#   /'

read -r LB_MED LB_MEAN <<<"$(latency lb-local node4 https://127.0.0.1:6443/healthz --cacert /etc/haproxy/korch-ca.crt)"
read -r D_MED D_MEAN <<<"$(latency direct-local node4 "https://$A1:6443/healthz" --cacert /etc/haproxy/korch-ca.crt)"
echo "# figure: local: /healthz from node4 through its haproxy $LB_MED ms median ($LB_MEAN mean), straight to node1 $D_MED ms ($D_MEAN mean): the load balancer adds $(python3 -c "print('%.2f' % ($LB_MED - $D_MED))") ms"

roll local https://127.0.0.1:6443 /etc/haproxy/korch-ca.crt "NodeRestriction,PodNodeSelector"
second_apply local
killed_master node1 https://127.0.0.1:6443 /etc/haproxy/korch-ca.crt local
after_kill node1 local web-local

# ==== vip
sed -i '/^  apiserver_lb: /d; /^  apiserver_vip: /d' "$INV"
set_lb "$INV" vip "apiserver_vip: $VIP"
apply "$W/to-vip"
check "vip: switching the running cluster to apiserver_lb vip converges (exit 0)" [ "$RC" -eq 0 ]
holder() { local m; for m in $MASTERS; do on $m "ip -o address show" 2>/dev/null | grep -q " $VIP/" && echo $m; done; }
for _ in $(seq 30); do HOLDERS=$(holder | tr '\n' ' '); [ -n "$HOLDERS" ] && break; sleep 1; done
check "vip: exactly one master holds $VIP (${HOLDERS:-none})" [ "$(wc -w <<<"$HOLDERS")" = 1 ]
for m in $MASTERS; do
	check "vip: $m runs keepalived and an haproxy on :8443 over the 3 masters" on $m 'systemctl is-active --quiet keepalived && systemctl is-active --quiet haproxy && [ "$(grep -c "^    server " /etc/haproxy/haproxy.cfg)" = 3 ] && curl -sf --max-time 5 --cacert /etc/haproxy/korch-ca.crt https://127.0.0.1:8443/readyz >/dev/null'
done
check "vip: the nodes' haproxy of local mode is stopped and its config moved aside" bash -c "for n in $NODES; do '$TB' ssh \$n '! systemctl is-active --quiet haproxy && test -f /etc/haproxy/haproxy.cfg.korch-retired && ! test -f /etc/haproxy/haproxy.cfg' || exit 1; done"
check "vip: every kubeconfig names https://$VIP:8443" on node4 "grep -q 'server: \"https://$VIP:8443\"' /etc/kubernetes/kubelet.kubeconfig && grep -q 'server: \"https://$VIP:8443\"' /etc/kubernetes/kube-proxy.kubeconfig"
check "vip: the apiserver's certificate has $VIP among its SANs" on node1 "openssl x509 -in /etc/kubernetes/pki/apiserver.crt -noout -ext subjectAltName | grep -q 'IP Address:$VIP\\b'"
check "vip: node4 reaches the API at the virtual IP, verifying the certificate" on node4 "curl -sf --max-time 5 --cacert /etc/kubernetes/pki/ca.crt https://$VIP:8443/readyz >/dev/null"
retry 60 2 ready $NODES >/dev/null
check "vip: node4 and node5 are Ready" ready $NODES
check "vip: korch status shows the leaders the Leases name" leaders_agree

read -r LB_MED LB_MEAN <<<"$(latency lb-vip node4 "https://$VIP:8443/healthz" --cacert /etc/kubernetes/pki/ca.crt)"
read -r D_MED D_MEAN <<<"$(latency direct-vip node4 "https://$A1:6443/healthz" --cacert /etc/kubernetes/pki/ca.crt)"
echo "# figure: vip: /healthz from node4 through the virtual IP's haproxy $LB_MED ms median ($LB_MEAN mean), straight to node1 $D_MED ms ($D_MEAN mean): the load balancer adds $(python3 -c "print('%.2f' % ($LB_MED - $D_MED))") ms"

roll vip "https://$VIP:8443" /etc/kubernetes/pki/ca.crt "NodeRestriction"
second_apply vip

VICTIM=$(holder | head -n 1)
OTHERS=$(for m in $MASTERS; do [ "$m" = "$VICTIM" ] || echo $m; done)
MASTER=$(head -n 1 <<<"$OTHERS")
for m in $OTHERS; do
	on $m "rm -f /tmp/korch-vip-up; setsid sh -c 'until ip -o address show | grep -q \" $VIP/\"; do sleep 0.02; done; date +%s%3N > /tmp/korch-vip-up' </dev/null >/dev/null 2>&1 &"
done
killed_master "${VICTIM:-node1}" "https://$VIP:8443" /etc/kubernetes/pki/ca.crt vip
sleep 3
NEW=$(for m in $OTHERS; do on $m 'cat /tmp/korch-vip-up 2>/dev/null' | sed "s/^/$m /"; done | sort -k2 -n | head -n 1)
check "vip: the address moved from $VICTIM to another master (${NEW%% *})" [ -n "$NEW" ]
[ -n "$NEW" ] && echo "# figure: vip: the address was on ${NEW%% *} $(( ${NEW##* } - KILL_T0 )) ms after the power cut of $VICTIM"
after_kill "$VICTIM" vip web-vip
check "vip: the address stays on ${NEW%% *} when $VICTIM is back (no preemption: one move per failure)" bash -c "[ \"\$('$TB' ssh ${NEW%% *} ip -o address show | grep -c ' $VIP/')\" = 1 ]"

# ---- the upgrade, through the virtual IP
start_poll upgrade node4 --cacert /etc/kubernetes/pki/ca.crt "https://$VIP:8443/healthz"
start_sampler upgrade $ALL
korch up upgrade --to "$TO"
stop_sampler
stop_poll upgrade node4
check "vip: korch upgrade --to $TO completes (exit 0)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || tail -n 20 "$W/up.out" "$W/up.err" | sed 's/^/#   /'
check "vip: every apiserver runs $TO" bash -c "for m in $MASTERS; do '$TB' ssh \$m 'curl -s --max-time 5 --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6443/version' | grep -q '\"gitVersion\": \"v$TO\"' || exit 1; done"
"$E2E_ROOT/tests/e2e/sampler-check" "$W/upgrade.jsonl" --masters node1,node2,node3 \
    --nodes node4,node5 --max-nodes-down 1 >"$W/upgrade.check" 2>&1
RCS=$?
sed 's/^/#   /' "$W/upgrade.check"
check "vip: the upgrade took one master down at a time (sampler)" [ "$RCS" -eq 0 ]
read -r RATE GAP _ N _ <<<"$(gaps "$W/upgrade.poll" 200)"
echo "# figure: vip: /healthz through the virtual IP during the upgrade: $RATE % of $N polls (100 ms), longest outage $GAP s"
check "vip: at least 99 % of the polls answered during the upgrade" \
    python3 -c "import sys; sys.exit(0 if float('$RATE') >= 99.0 and int('$N') > 100 else 1)"

"$TB" down >&2
finish
