#!/usr/bin/env bash
# End-to-end: the cluster playbooks (playbooks/) on booted test-bed hosts,
# from an offline bundle: real etcd, real dockerd, stand-ins for the
# Kubernetes and flannel binaries (tests/standins).  Usage: cluster.sh BUILD
#
# 4 hosts (runbook 000: one master with etcd, three nodes): converges; etcd
# healthy; distinct flannel subnets inside the pod CIDR, docker0 inside
# each; the apiserver takes korch's client certificates and refuses another
# CA's; every node registered; a second run changes and restarts nothing; a
# new service CIDR re-issues the apiserver certificate and restarts what
# depends on it only; a bundle with a wrong sha256 is refused before any
# host changes.  6 hosts: 3 etcd members and 2 masters converge.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin cluster "$@"
trap 'rm -rf "$W"' EXIT
# The tree's playbooks, also for a sanitizer build in build/san.
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
V=1.8.15
BUNDLE=$W/bundle-$V

"$E2E_ROOT/tests/bundle/make-bundle" "$V" "$BUNDLE" >/dev/null ||
	{ notok "make-bundle $V"; finish; exit 1; }
"$E2E_ROOT/tests/bundle/make-bundle" --corrupt kube-apiserver "$V" "$W/bad" >/dev/null
"$E2E_ROOT/tests/bundle/make-bundle" --omit kubelet "$V" "$W/nokubelet" >/dev/null

echo "# booting 4 test-bed hosts"
"$TB" up 4 >&2 || { notok "test bed up 4"; finish; exit 1; }
bundle_inventory "$INV" "$BUNDLE" etcd,master node node node
MASTER=node1
NODES="node2 node3 node4"

# ---- a bundle with a wrong sha256 is refused before any host changes
cp "$INV" "$W/inv-good.yaml"
sed -i "s|^  bundle: .*|  bundle: $W/bad|" "$INV"
"$KORCH" apply "$INV" >"$W/bad.out" 2>&1
check "a corrupt bundle is refused (exit 1)" [ $? -eq 1 ]
check "the refusal names the component and the mismatch" grep -q "kube-apiserver.*sha256 mismatch" "$W/bad.out"
check "no host was touched by the refused run" bash -c "! '$TB' ssh $MASTER test -e /etc/kubernetes"
sed -i "s|^  bundle: .*|  bundle: $W/nokubelet|" "$INV"
"$KORCH" apply "$INV" >"$W/nok.out" 2>&1
check "a bundle without kubelet is refused (exit 1)" [ $? -eq 1 ]
check "the refusal names the missing kubelet" grep -q "bundle.kubelet.sha256.*no such component" "$W/nok.out"
check "no host was contacted for it" [ "$(sqlite3 "$KORCH_STATE" 'select count(*) from hosts')" -eq 0 ]
cp "$W/inv-good.yaml" "$INV"

# ---- secrets: a key file someone else owned before korch writes it
on $MASTER 'mkdir -p /etc/kubernetes/pki && echo old >/etc/kubernetes/pki/apiserver.key && chown 65534:65534 /etc/kubernetes/pki/apiserver.key && chmod 0644 /etc/kubernetes/pki/apiserver.key'

# ---- first apply: the whole cluster
# node4 carries the /etc/hosts an older korch wrote whole.
on node4 "printf '# managed by korch: every host of cluster testbed\n127.0.0.1\tlocalhost\n198.18.99.9 node1\n' > /etc/hosts"
apply "$W/a1"
check "cluster apply converges (exit 0)" [ "$RC" -eq 0 ]
check "etcd answers /health over TLS" bash -c "[[ \$('$TB' ssh $MASTER curl -s --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/client.crt --key /etc/etcd/pki/client.key https://127.0.0.1:2379/health) == *true* ]]"
declare -A SUBNET
for n in $NODES; do
	SUBNET[$n]=$(on $n sed -n 's/^FLANNEL_SUBNET=//p' /run/flannel/subnet.env)
	check "$n has a flannel subnet inside the pod CIDR" \
	    python3 -c "import ipaddress,sys; sys.exit(0 if ipaddress.ip_interface('${SUBNET[$n]}').network.subnet_of(ipaddress.ip_network('10.244.0.0/16')) else 1)"
	bip=$(on $n ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}')
	check "$n: docker0 ($bip) is the node's flannel subnet" [ -n "$bip" -a "$bip" = "${SUBNET[$n]}" ]
done
check "/etc/hosts lists every host in korch's block" bash -c "'$TB' ssh node3 cat /etc/hosts | sed -n '/^# BEGIN korch\$/,/^# END korch\$/p' | grep -c '^198\.18\.' | grep -qx 4"
check "/etc/hosts keeps the lines outside korch's block" bash -c "'$TB' ssh node3 cat /etc/hosts | grep -q '^127\.0\.0\.1'"
check "an /etc/hosts korch once wrote whole is korch's block now, no stale line left" bash -c "'$TB' ssh node4 cat /etc/hosts | grep -q '^127\.0\.0\.1' && ! '$TB' ssh node4 grep -q 198.18.99.9 /etc/hosts && [ \"\$('$TB' ssh node4 cat /etc/hosts | grep -c ' node1\$')\" = 1 ]"
check "korch's CA is in the node's trust store" on node2 test -e /etc/ssl/certs/korch-ca.pem
check "ip_forward and bridge-nf-call-iptables set" bash -c "[ \"\$('$TB' ssh node2 cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/bridge/bridge-nf-call-iptables | tr -d '\n')\" = 11 ]"
check "no apt source written when no mirror is named" bash -c "! '$TB' ssh node2 test -e /etc/apt/sources.list.d/korch.list"
check "flannel subnets are distinct" [ "$(printf '%s\n' "${SUBNET[@]}" | sort -u | wc -l)" -eq 3 ]
check "the apiserver accepts a client certificate from korch's CA" \
    on $MASTER curl -sf -o /dev/null --cacert /etc/kubernetes/pki/ca.crt --cert /etc/kubernetes/pki/apiserver-kubelet-client.crt \
    --key /etc/kubernetes/pki/apiserver-kubelet-client.key https://127.0.0.1:6443/healthz
# A client certificate from another CA (made here with the openssl CLI:
# the test may, korch may not).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other-ca \
    -keyout "$W/oca.key" -out "$W/oca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=admin/O=system:masters" \
    -keyout "$W/o.key" -out "$W/o.csr" 2>/dev/null
openssl x509 -req -in "$W/o.csr" -CA "$W/oca.crt" -CAkey "$W/oca.key" -CAcreateserial -days 1 \
    -out "$W/o.crt" 2>/dev/null
on $MASTER 'cat > /tmp/o.crt' <"$W/o.crt"
on $MASTER 'cat > /tmp/o.key' <"$W/o.key"
check "the apiserver refuses a client certificate from another CA" \
    bash -c "! '$TB' ssh $MASTER curl -sf --cacert /etc/kubernetes/pki/ca.crt --cert /tmp/o.crt --key /tmp/o.key https://127.0.0.1:6443/healthz"
READY_JP="'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}'"
ready=$(on $MASTER "kubectl get nodes -o $READY_JP")
for n in $NODES; do
	check "$n registered and Ready" grep -q "$n=True" <<<"$ready"
done

record_starts "$MASTER" "$NODES"

# ---- secrets stay secret: output, state, hosts
"$KORCH" status --json >"$W/st1.json" 2>&1
"$KORCH" status >"$W/st1.txt" 2>&1
sqlite3 "$KORCH_STATE" .dump >"$W/state.dump"
check "apply --json, status and the state's task_results hold no private key" \
    bash -c "! grep -l 'PRIVATE KEY' '$W/a1.json' '$W/a1.err' '$W/st1.json' '$W/st1.txt' '$W/state.dump'"
check "a key file's recorded diff is 'secret changed', whole" \
    [ "$(sqlite3 "$KORCH_STATE" "select diff from task_results where task_key = 'master/apiserver-key' order by rowid desc limit 1")" = "secret changed" ]
check "the key file once owned by 65534 is root's and 0600" \
    [ "$(on $MASTER stat -c %u:%g:%a /etc/kubernetes/pki/apiserver.key)" = "0:0:600" ]
check "every private key and kubeconfig on the master is root's 0600" \
    on $MASTER '! find /etc/kubernetes /etc/etcd -name "*.key" -o -name "*.kubeconfig" | xargs stat -c "%u:%g:%a %n" | grep -v "^0:0:600 "'
check "the state database is 0600" [ "$(stat -c %a "$KORCH_STATE")" = 600 ]

# ---- second apply: nothing changes, nothing restarts
apply "$W/a2"
check "second cluster apply exits 0" [ "$RC" -eq 0 ]
check "second cluster apply: 0 changed" [ "$(total_changed "$W/a2.json")" -eq 0 ]
check "second cluster apply restarted no service" none_restarted

# ---- a new service CIDR: the apiserver certificate is re-issued and only
# what depends on the service range restarts
sed -i 's|^  service_cidr: .*|  service_cidr: 10.96.0.0/16|' "$INV"
apply "$W/a3"
check "apply with a new service CIDR exits 0" [ "$RC" -eq 0 ]
check "the apiserver certificate was re-issued" grep -q "pki: apiserver: SANs changed" "$W/a3.err"
check "the new certificate carries the new service IP" \
    bash -c "'$TB' ssh $MASTER cat /etc/kubernetes/pki/apiserver.crt | openssl x509 -noout -text | grep -q 'IP Address:10.96.0.1'"
check "kube-apiserver restarted" [ "$(unit_started $MASTER kube-apiserver)" != "${T0[$MASTER/kube-apiserver]}" ]
check "etcd not restarted" [ "$(unit_started $MASTER etcd)" = "${T0[$MASTER/etcd]}" ]
check "kube-scheduler not restarted" [ "$(unit_started $MASTER kube-scheduler)" = "${T0[$MASTER/kube-scheduler]}" ]
for n in $NODES; do
	check "$n: flanneld and docker not restarted" \
	    [ "$(unit_started $n flanneld)" = "${T0[$n/flanneld]}" -a "$(unit_started $n docker)" = "${T0[$n/docker]}" ]
	check "$n: kube-proxy not restarted" [ "$(unit_started $n kube-proxy)" = "${T0[$n/kube-proxy]}" ]
done
"$KORCH" status --json >"$W/s.json"
check "status shows per-host components" [ "$(json "$W/s.json" "len(d['hosts'])")" -eq 4 ]

# ---- a key file replaced on the host, handed to another uid: plan shows
# "secret changed" and nothing of the key; apply puts it back, root's 0600
on $MASTER 'echo junk >/etc/kubernetes/pki/apiserver.key && chown 65534:65534 /etc/kubernetes/pki/apiserver.key && chmod 0644 /etc/kubernetes/pki/apiserver.key'
"$KORCH" plan "$INV" >"$W/plan1.txt" 2>&1
"$KORCH" plan "$INV" --json >"$W/plan1.json" 2>"$W/plan1.err"
check "plan shows the key file's diff as 'secret changed'" grep -q "secret changed" "$W/plan1.txt"
check "plan and plan --json hold no private key" bash -c "! grep -l 'PRIVATE KEY' '$W/plan1.txt' '$W/plan1.json' '$W/plan1.err'"
apply "$W/a4"
check "apply restores the key (exit 0)" [ "$RC" -eq 0 ]
check "... root's and 0600 again" [ "$(on $MASTER stat -c %u:%g:%a /etc/kubernetes/pki/apiserver.key)" = "0:0:600" ]
check "... and its content is a key again" on $MASTER grep -q "PRIVATE KEY" /etc/kubernetes/pki/apiserver.key
sqlite3 "$KORCH_STATE" .dump >"$W/state2.dump"
check "apply --json and the state hold no private key" bash -c "! grep -l 'PRIVATE KEY' '$W/a4.json' '$W/a4.err' '$W/state2.dump'"

# ---- 6 hosts: three etcd members, two masters
"$TB" up 6 >&2 || notok "test bed up 6"
export KORCH_STATE=$W/state6.db
bundle_inventory "$INV" "$BUNDLE" etcd,master etcd,master etcd node node node
# The stand-ins behind no load balancer (real-ha.sh has the default, local).
set_lb "$INV" none
# ... with a named apt mirror this time (the file only: nothing installs),
# and its key as a multi-line var (any key: apt is not run).
GNUPGHOME=$W/gnupg
mkdir -m 700 "$GNUPGHOME"
GNUPGHOME=$GNUPGHOME gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "korch mirror" ed25519 sign never 2>/dev/null
GNUPGHOME=$GNUPGHOME gpg --batch --armor --export "korch mirror" | sed 's/^/      /; s/^ *$//' >"$W/mirror.asc"
python3 - "$INV" "$W/mirror.asc" <<'EOF'
import sys
inv, key = sys.argv[1:3]
out = []
for l in open(inv).read().split("\n"):
    out.append(l)
    if l.startswith("  bundle: "):
        out += ["  vars:", '    apt_repo_url: "http://mirror.example/debian"',
                "    apt_repo_suite: bookworm", "    repo_key: |"] + open(key).read().rstrip("\n").split("\n")
open(inv, "w").write("\n".join(out))
EOF
apply "$W/b1"
check "the named apt mirror is configured, signed-by its key" on node4 grep -q "^deb \[signed-by=/etc/apt/keyrings/korch.asc\] http://mirror.example/debian bookworm main" /etc/apt/sources.list.d/korch.list
check "the mirror's key is on the host" on node4 grep -q "BEGIN PGP PUBLIC KEY BLOCK" /etc/apt/keyrings/korch.asc
check "6 hosts, 3 etcd members and 2 masters: apply exits 0" [ "$RC" -eq 0 ]
members=$(on node1 env ETCDCTL_API=3 /opt/etcd/3.4.23/bin/etcdctl --endpoints=https://127.0.0.1:2379 \
    --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/client.crt --key=/etc/etcd/pki/client.key \
    endpoint health --cluster 2>&1)
check "etcd reports 3 healthy members" [ "$(grep -c 'is healthy' <<<"$members")" -eq 3 ]
for m in node1 node2; do
	check "$m's apiserver answers" on $m curl -sf -o /dev/null --cacert /etc/kubernetes/pki/ca.crt \
	    --cert /etc/kubernetes/pki/apiserver-kubelet-client.crt \
	    --key /etc/kubernetes/pki/apiserver-kubelet-client.key https://127.0.0.1:6443/healthz
done
ready=$(on node1 "kubectl get nodes -o $READY_JP")
check "all 3 nodes Ready in the 6-host cluster" [ "$(grep -o '=True' <<<"$ready" | wc -l)" -eq 3 ]

"$TB" down >&2
finish
