#!/usr/bin/env bash
# End-to-end on the REAL Kubernetes 1.20.2 (built from Debian's source by
# tests/kube/build, cached), the real etcd 3.4 and the real docker, on
# booted test-bed hosts.  Usage: real.sh BUILD
#
# 4 hosts (one master with etcd, three nodes): converges from fresh hosts;
# every node Ready on v1.20.2; componentstatuses Healthy; the bundle's
# images loaded into docker and the kubelet's pause is the bundle's; a
# 3-replica busybox httpd Deployment from the bundle's image runs one pod
# per node, each pod IP inside its node's flannel subnet; flannel.1 is a
# vxlan device on every host; from a pod on every node, HTTP to a pod on
# every other node; a ClusterIP Service from every host and from a pod; a
# NodePort on every node; a node down for longer than its flannel lease
# comes back with its routes everywhere and its pod answers again; kubectl
# logs and exec work; the kubelets' API refuses anonymous callers; the
# health certificate cannot read secrets; a second apply changes and
# restarts nothing; an apiserver that cannot start fails its gate with its
# own error line; a version no profile covers is refused before any host is
# contacted.  6 hosts: 3 etcd members and 2 masters converge, etcd reports
# 3 healthy members, both apiservers answer.
#
# flanneld is the stand-in (tests/standins) with flannel's real vxlan data
# plane; everything else is the real program.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin real "$@"
trap 'rm -rf "$W"' EXIT
# The tree's playbooks, also for a sanitizer build in build/san.
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
V=1.20.2
BUNDLE=$W/bundle-$V

KBIN=$("$E2E_ROOT/tests/kube/build") || { notok "the real Kubernetes $V binaries (tests/kube/build)"; finish; exit 1; }
ok "the real Kubernetes $V binaries are built ($KBIN)"
"$E2E_ROOT/tests/bundle/make-bundle" --kube-bin "$KBIN" "$V" "$BUNDLE" >/dev/null ||
	{ notok "make-bundle --kube-bin $V"; finish; exit 1; }
"$E2E_ROOT/tests/bundle/make-bundle" --no-images 1.21.0 "$W/b121" >/dev/null

echo "# booting 4 test-bed hosts"
"$TB" up 4 >&2 || { notok "test bed up 4"; finish; exit 1; }
MASTER=node1
NODES="node2 node3 node4"

# ---- a version no profile covers: refused, no host contacted
bundle_inventory "$INV" "$BUNDLE" --kubernetes-version "$V" etcd,master node node node
sed -e "s|^  bundle: .*|  bundle: $W/b121|" -e 's|kubernetes_version: .*|kubernetes_version: "1.21.0"|' \
    "$INV" >"$W/inv121.yaml"
"$KORCH" apply "$W/inv121.yaml" >"$W/v121.out" 2>&1
check "apply of 1.21 (no profile) is refused (exit 1)" [ $? -eq 1 ]
check "the refusal names the supported ranges" grep -q "no profile covers Kubernetes 1.21.0; this korch supports 1.7, 1.8-1.9, 1.20" "$W/v121.out"
check "no host was contacted for it" [ "$(sqlite3 "$KORCH_STATE" 'select count(*) from hosts')" -eq 0 ]
# apiserver_lb local with a bundle that has no haproxy: refused the same way.
sed '/^  bundle: /a\  apiserver_lb: local' "$INV" >"$W/inv-lb.yaml"
"$KORCH" apply "$W/inv-lb.yaml" >"$W/lb.out" 2>&1
check "apiserver_lb local without haproxy in the bundle is refused (exit 1)" [ $? -eq 1 ]
check "the refusal says what is missing" grep -q "cluster.apiserver_lb: local runs haproxy on node2 .* has no haproxy package" "$W/lb.out"
check "no host was contacted for that either" [ "$(sqlite3 "$KORCH_STATE" 'select count(*) from hosts')" -eq 0 ]

# The flanneld stand-in's lease TTL, short for the churn test below (real
# flannel's is 24 h and has no flag; a test-only variable the stand-in
# reads from the environment file korch's unit uses).
FLANNEL_TTL=20
for h in $MASTER $NODES; do
	on "$h" "mkdir -p /etc/sysconfig && echo KORCH_STANDIN_FLANNEL_TTL=$FLANNEL_TTL >> /etc/sysconfig/flanneld"
done

# ---- first apply from fresh hosts
t0=$(date +%s.%N)
apply "$W/a1"
t1=$(date +%s.%N)
check "the real 1.20 cluster converges from fresh hosts (exit 0)" [ "$RC" -eq 0 ]
loaded=$(json "$W/a1.json" "sorted(h['name'] + ':' + t['task'] for h in d['hosts'] for t in h['tasks'] if t['task'].startswith('node/image-load[') and t['status'] == 'changed')")
check "each node loaded the bundle's images into docker (reported changed)" \
    [ "$loaded" = "['node2:node/image-load[busybox]', 'node2:node/image-load[pause]', 'node3:node/image-load[busybox]', 'node3:node/image-load[pause]', 'node4:node/image-load[busybox]', 'node4:node/image-load[pause]']" ]
check "the kubelet's pod-infra image is the bundle's pause" \
    bash -c "'$TB' ssh node2 systemctl cat kubelet | grep -q -- '--pod-infra-container-image=korch.local/pause:3.2'"
echo "# first converge: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

READY_JP='jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}/{.status.nodeInfo.kubeletVersion} {end}'
nodes_ready() {
	local s n
	s=$(kc get nodes -o "$READY_JP" 2>/dev/null) || return 1
	for n in $NODES; do grep -q "$n=True/v$V" <<<"$s" || return 1; done
}
check "every node is Ready with kubeletVersion v$V" nodes_ready
cs=$(kc get componentstatuses --no-headers 2>/dev/null)
echo "$cs" | sed 's/^/#   /'
check "componentstatuses: controller-manager, scheduler and etcd Healthy" \
    bash -c "[ \$(grep -c ' Healthy ' <<<'$cs') -eq 3 ]"

# ---- a Deployment from the bundle's image, one pod per node
web_deployment web one-per-node | on "$MASTER" 'cat > /tmp/web.yaml'
check "kubectl apply of the Deployment" kc apply -f /tmp/web.yaml
running() { # 3 web pods Running and Ready, each with its IP
	[ "$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}/{.status.podIP} {end}' 2>/dev/null |
	    tr ' ' '\n' | grep -cE '^Running/True/[0-9.]+$')" -eq 3 ]
}
retry 90 2 running
check "3 web pods Running and Ready" running
PODS=$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.metadata.name},{.spec.nodeName},{.status.podIP} {end}')
echo "# pods: $PODS"
check "one pod per node" bash -c "[ \$(tr ' ' '\n' <<<'$PODS' | cut -d, -f2 | grep -c .) -eq 3 ] && \
    [ \$(tr ' ' '\n' <<<'$PODS' | cut -d, -f2 | grep . | sort -u | wc -l) -eq 3 ]"
for p in $PODS; do
	IFS=, read -r pod node ip <<<"$p"
	sub=$(on "$node" sed -n 's/^FLANNEL_SUBNET=//p' /run/flannel/subnet.env)
	check "$pod's IP $ip is inside $node's flannel subnet $sub" \
	    python3 -c "import ipaddress,sys; sys.exit(0 if ipaddress.ip_address('$ip') in ipaddress.ip_interface('$sub').network else 1)"
	check "$pod answers HTTP on its node ($node -> $ip:8080)" \
	    bash -c "[ \"\$('$TB' ssh $node curl -s --max-time 5 http://$ip:8080/)\" = '$pod' ]"
done
# ---- pod traffic across hosts: flannel's vxlan, kube-proxy's Services
for h in $MASTER $NODES; do
	check "$h: flannel.1 is a vxlan device, id 1, dstport 8472" \
	    bash -c "'$TB' ssh $h ip -d link show flannel.1 | grep -q 'vxlan id 1 .*dstport 8472'"
done
# pod_get POD ADDR PORT: HTTP from inside POD (busybox nc), the status code
pod_get() {
	kc exec "$1" -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $2 $3 | head -n 1" 2>/dev/null | awk '{ print $2 }'
}
for a in $PODS; do
	IFS=, read -r apod anode _ <<<"$a"
	for b in $PODS; do
		IFS=, read -r _ bnode bip <<<"$b"
		[ "$anode" = "$bnode" ] && continue
		check "pod on $anode -> pod on $bnode ($bip): HTTP 200" [ "$(pod_get "$apod" "$bip" 8080)" = 200 ]
	done
done
{
	web_service web
	cat <<'EOF'
---
apiVersion: v1
kind: Service
metadata: { name: web-np }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }]
EOF
} | on "$MASTER" 'cat > /tmp/web-svc.yaml'
check "kubectl apply of a ClusterIP and a NodePort Service" kc apply -f /tmp/web-svc.yaml
CIP=$(kc get service web -o 'jsonpath={.spec.clusterIP}')
svc_ok() { # svc_ok HOST URL: HTTP 200 within a few tries (kube-proxy syncs)
	local i
	for i in $(seq 20); do
		[ "$(on "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$2")" = 200 ] && return 0
		sleep 1
	done
	return 1
}
for h in $MASTER $NODES; do
	check "ClusterIP $CIP:80 answers 200 on $h" svc_ok "$h" "http://$CIP/"
done
first=${PODS%% *}; first=${first%%,*}
check "ClusterIP $CIP:80 answers 200 from a pod" [ "$(pod_get "$first" "$CIP" 80)" = 200 ]
for n in $NODES; do
	addr=$(host_addr "$n")
	check "NodePort 30080 answers 200 on $n ($addr)" svc_ok "$MASTER" "http://$addr:30080/"
done
# ---- lease churn: a node away for longer than its lease's TTL comes back
# with its routes on every host (test-only TTL of the flanneld stand-in)
sub_of() { on "$1" sed -n 's/^FLANNEL_SUBNET=//p' /run/flannel/subnet.env | sed 's|\.1/24$|.0/24|'; }
routes_to() { # routes_to SUBNET: every other host routes SUBNET via flannel.1
	local h
	for h in $MASTER $NODES; do
		[ "$h" = "$2" ] && continue
		on "$h" ip route show "$1" | grep -q 'dev flannel.1' || return 1
	done
}
LAST=${NODES##* }
old=$(sub_of "$LAST")
"$TB" stop "$LAST" >&2
sleep $((FLANNEL_TTL + 8))
check "$LAST's lease expired while it was down: no host routes $old any more" \
    bash -c "! '$TB' ssh $MASTER ip route show $old | grep -q flannel.1"
"$TB" start "$LAST" >&2
# The pod on LAST has its new IP, inside LAST's new subnet (the pod
# object may show the old one for a while after the reboot).
pod_moved() {
	local ip
	ip=$(kc get pods -l app=web --field-selector "spec.nodeName=$LAST" -o 'jsonpath={.items[0].status.podIP}' 2>/dev/null)
	[ -n "$ip" ] && python3 -c "import ipaddress,sys; sys.exit(0 if ipaddress.ip_address('$ip') in ipaddress.ip_network('$new') else 1)"
}
for _ in $(seq 120); do
	new=$(sub_of "$LAST" 2>/dev/null)
	[ -n "$new" ] && routes_to "$new" "$LAST" && running && pod_moved && break
	sleep 2
done
check "$LAST is back with a lease ($new) every other host routes via flannel.1" routes_to "$new" "$LAST"
check "3 web pods Running and Ready again" running
check "the pod on $LAST runs in its new subnet $new" pod_moved
PODS=$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.metadata.name},{.spec.nodeName},{.status.podIP} {end}')
for a in $PODS; do
	IFS=, read -r apod anode _ <<<"$a"
	[ "$anode" = "$LAST" ] && continue
	for b in $PODS; do
		IFS=, read -r _ bnode bip <<<"$b"
		[ "$bnode" = "$LAST" ] || continue
		check "after the churn: pod on $anode -> pod on $LAST ($bip): HTTP 200" [ "$(pod_get "$apod" "$bip" 8080)" = 200 ]
	done
done
first=${PODS%% *}; first=${first%%,*}
check "kubectl logs works" bash -c "[ -n '$first' ] && '$TB' ssh $MASTER kubectl logs $first | grep -q serving"
check "kubectl exec works" bash -c "[ -n '$first' ] && [ \"\$('$TB' ssh $MASTER kubectl exec $first -- cat /www/index.html)\" = '$first' ]"

# ---- the kubelets' API is closed to anonymous callers
for n in $NODES; do
	code=$(on "$MASTER" curl -sk -o /dev/null -w '%{http_code}' "https://$n:10250/pods")
	check "$n: an anonymous request to :10250 is refused ($code)" bash -c "[ '$code' = 401 ] || [ '$code' = 403 ]"
done
code=$(on "$MASTER" curl -s -o /dev/null -w '%{http_code}' --cacert /etc/kubernetes/pki/ca.crt \
    --cert /etc/kubernetes/pki/health.crt --key /etc/kubernetes/pki/health.key https://127.0.0.1:6443/api/v1/secrets)
check "the health certificate may not read secrets ($code)" [ "$code" = 403 ]

# ---- second apply: nothing changes, nothing restarts
record_starts "$MASTER" "$NODES"
apply "$W/a2"
check "second apply exits 0" [ "$RC" -eq 0 ]
check "second apply: 0 changed" [ "$(total_changed "$W/a2.json")" -eq 0 ]
check "second apply restarted no service (ActiveEnterTimestamp unchanged)" none_restarted
check "the pods still run" running

# ---- a broken apiserver: the failed gate says why (the unit's state and
# the apiserver's own error from its journal)
cp "$INV" "$W/inv-good.yaml"
awk '{ print } /^  service_cidr:/ { print "  vars: { admission_plugins: NoSuchPlugin, health_retries: \"3\" }" }' \
    "$W/inv-good.yaml" >"$INV"
apply "$W/bad"
check "apply with an apiserver that cannot start fails (exit 2)" [ "$RC" -eq 2 ]
# The master step's own gate (its roll's) fails first, before master-health.
msg=$(json "$W/bad.json" "[t['message'] for h in d['hosts'] for t in h['tasks'] if t['task'] in ('master/healthy', 'master-health/healthz') and t['status'] == 'failed'][0]")
check "the failed gate carries a diagnosis" grep -q -- "--- diagnosis" <<<"$msg"
check "... with the unit's state" grep -q "kube-apiserver.service" <<<"$msg"
check "... and the apiserver's own error line" grep -q "NoSuchPlugin" <<<"$msg"
echo "$msg" | grep -m2 NoSuchPlugin | sed 's/^/#   /'
"$KORCH" status >"$W/bad-status.out" 2>&1
check "korch status shows the diagnosis too" grep -q "NoSuchPlugin" "$W/bad-status.out"
cp "$W/inv-good.yaml" "$INV"
apply "$W/fixed"
check "the next apply with the inventory fixed converges" [ "$RC" -eq 0 ]
retry 60 2 running
check "the pods still run after the apiserver came back" running

# ---- 6 hosts: 3 etcd members, 2 masters, 3 nodes
"$TB" down >&2
echo "# booting 6 test-bed hosts"
"$TB" up 6 >&2 || { notok "test bed up 6"; finish; exit 1; }
rm -f "$KORCH_STATE"
bundle_inventory "$INV" "$BUNDLE" --kubernetes-version "$V" etcd,master etcd,master etcd node node node
# Every kubeconfig names node1 (the load balancers: real-ha.sh).
set_lb "$INV" none
MASTER=node1
NODES="node4 node5 node6"
apply "$W/b1"
check "6 hosts (3 etcd members, 2 masters) converge (exit 0)" [ "$RC" -eq 0 ]
EPS=
for m in node1 node2 node3; do
	EPS=$EPS${EPS:+,}https://$(host_addr "$m"):2379
done
healthy=$(on node1 env ETCDCTL_API=3 "/opt/etcd/3.4.23/bin/etcdctl" --endpoints "$EPS" --cacert /etc/etcd/pki/ca.crt \
    --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key endpoint health 2>&1 | grep -c 'is healthy')
check "etcd reports 3 healthy members" [ "$healthy" -eq 3 ]
for m in node1 node2; do
	check "the real apiserver on $m answers /healthz" on $m curl -sf -o /dev/null --cacert /etc/kubernetes/pki/ca.crt \
	    --cert /etc/kubernetes/pki/health.crt --key /etc/kubernetes/pki/health.key https://127.0.0.1:6443/healthz
done
check "every node is Ready with kubeletVersion v$V (6 hosts)" nodes_ready
"$TB" down >&2
finish
