#!/usr/bin/env bash
# End-to-end: certificates on a REAL Kubernetes 1.20 cluster (the real
# 1.20.2 of tests/kube/build, the real etcd 3.4, docker, the flanneld
# stand-in), on 4 booted test-bed hosts: node1, node2: etcd + master;
# node3: etcd + node; node4: node; apiserver_lb local (haproxy over both
# masters on node3 and node4).
# Usage: real-certs.sh BUILD
#
#  - `korch certs --json` parses and matches the files really on the hosts:
#    every file it lists, read back over ssh (a kubeconfig's embedded
#    client certificate), has its sha256, serial and not-after;
#  - `korch status` shows the soonest expiry; `korch certs renew ca` is
#    refused with the CA rotation document, and nothing changes;
#  - `korch certs renew --all` under watch: kubectl on node4 (through its
#    haproxy) every 0.5 s, each master's /healthz from this machine, the
#    unit sampler on all 4 hosts.  After: every leaf has a new serial and a
#    later not-after, the CA is the same, the hosts hold the new files;
#    kubectl answered throughout (>= 99%, and never both masters down at
#    once: sampler); each master's apiserver restarted, one after the other;
#  - `korch certs renew scheduler` restarts kube-scheduler on both masters
#    and nothing else anywhere (ActiveEnterTimestamp);
#  - a second apply after the renewals changes nothing.
#
# KORCH_E2E_KEEP=1 keeps the work directory.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin real-certs "$@"
SAMPLER_PID= API_PID= POLL_HOST=
cleanup() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null
	[ -n "$POLL_HOST" ] && on "$POLL_HOST" 'touch /tmp/korch-kc.stop' 2>/dev/null
	if [ "${KORCH_E2E_KEEP:-0}" = 1 ]; then echo "# kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
export KORCH_PLAYBOOKS=$E2E_ROOT/playbooks
V=1.20.2
MASTER=node1
MASTERS="node1 node2"
ALL="node1 node2 node3 node4"
tail_of() { tail -n "${2:-20}" "$W/$1.out" "$W/$1.err" 2>/dev/null | sed 's/^/#   /'; }

# host_certs HOST: every file `korch certs --json` lists for HOST, read on
# the host: "== PATH" then its PEM (a kubeconfig: its client certificate).
host_certs() {
	local paths
	paths=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
h = [h for h in d["hosts"] if h["name"] == sys.argv[2]][0]
print(" ".join("%s:%d" % (c["path"], c["kubeconfig"]) for c in h["certificates"]))' "$1" "$2") || return 1
	on "$2" "for pk in $paths; do p=\${pk%:*}; echo \"== \$p\"; if [ \"\${pk##*:}\" = 1 ]; then
		sed -n 's/^ *client-certificate-data: *\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p' \"\$p\" | base64 -d; else cat \"\$p\"; fi; done"
}
# matches_hosts JSON: every file JSON lists on every host holds the
# certificate it names (sha256 of the DER, serial, not-after), read back.
matches_hosts() {
	local h
	for h in $ALL; do
		retry 5 3 host_certs "$1" "$h" >"$W/files.$h" || { echo "# cannot read $h's files"; return 1; }
	done
	python3 - "$1" "$W" $ALL <<'EOF'
import json, subprocess, sys, datetime
d, w, hosts = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3:]
bad, n = [], 0
for h in hosts:
    want = {c["path"]: c for c in [x for x in d["hosts"] if x["name"] == h][0]["certificates"]}
    text = open("%s/files.%s" % (w, h)).read()
    got = {}
    for chunk in text.split("== ")[1:]:
        path, _, pem = chunk.partition("\n")
        got[path] = pem
    for path, c in want.items():
        n += 1
        pem = got.get(path, "")
        p = subprocess.run(["openssl", "x509", "-noout", "-serial", "-enddate", "-fingerprint", "-sha256"],
                           input=pem.encode(), capture_output=True)
        if p.returncode != 0:
            bad.append("%s:%s unreadable" % (h, path)); continue
        f = dict(l.split("=", 1) for l in p.stdout.decode().splitlines())
        serial = f["serial"].lstrip("0").lower()
        fp = [v for k, v in f.items() if "Fingerprint" in k][0].replace(":", "").lower()
        end = datetime.datetime.strptime(f["notAfter"], "%b %d %H:%M:%S %Y GMT").strftime("%Y-%m-%dT%H:%M:%SZ")
        if (fp, serial, end) != (c["sha256"], c["serial"], c["not_after"]):
            bad.append("%s:%s holds serial %s until %s, korch certs says %s until %s" % (h, path, serial, end, c["serial"], c["not_after"]))
print("# %d files on %d hosts compared with korch certs --json%s" % (n, len(hosts), "; " + "; ".join(bad) if bad else ""))
sys.exit(1 if bad or n < 30 else 0)
EOF
}
READY_JP='jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}'
nodes_ready() {
	local s n
	s=$(kc get nodes -o "$READY_JP" 2>/dev/null) || return 1
	for n in node3 node4; do grep -q "$n=True " <<<"$s " || return 1; done
}
# leaves_renewed BEFORE AFTER: every leaf has another serial and a later
# not-after; the CA is the same certificate.
leaves_renewed() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = (dict((c["name"], c) for c in json.load(open(f))["certificates"]) for f in sys.argv[1:3])
leaves = [n for n, c in a.items() if not c["ca"]]
same = [n for n in leaves if a[n]["serial"] == b[n]["serial"] or not b[n]["not_after"] > a[n]["not_after"]]
ca = [n for n, c in a.items() if c["ca"]]
print("# %d leaves renewed (e.g. apiserver %s -> %s, until %s -> %s); CA %s %s" % (len(leaves) - len(same),
      a["apiserver"]["serial"][:12], b["apiserver"]["serial"][:12], a["apiserver"]["not_after"], b["apiserver"]["not_after"],
      ca, "unchanged" if all(a[n]["sha256"] == b[n]["sha256"] for n in ca) else "CHANGED"))
sys.exit(1 if same or len(leaves) < 12 or not ca or any(a[n]["sha256"] != b[n]["sha256"] for n in ca) else 0)
EOF
}
# ---- the real 1.20.2 cluster on 4 hosts
KBIN=$("$E2E_ROOT/tests/kube/build") || { notok "the real Kubernetes $V binaries (tests/kube/build)"; finish; exit 1; }
ok "the real Kubernetes $V binaries are built ($KBIN)"
"$E2E_ROOT/tests/bundle/make-bundle" --kube-bin "$KBIN" --lb "$V" "$W/bundle" >"$W/make-bundle.log" 2>&1 ||
	{ notok "make-bundle" "$(tail -3 "$W/make-bundle.log")"; finish; exit 1; }
echo "# booting 4 test-bed hosts"
"$TB" up 4 >&2 || { notok "test bed up 4"; finish; exit 1; }
bundle_inventory "$INV" "$W/bundle" --kubernetes-version "$V" etcd,master etcd,master etcd,node node
set_lb "$INV" local
CLUSTER=$(awk '/^  name:/ { print $2; exit }' "$INV")
PKI=$(dirname "$KORCH_STATE")/pki/$CLUSTER
apply "$W/apply"
check "4 hosts (3 etcd members, 2 masters, 2 nodes) on the real $V converge" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || { "$TB" down >&2; finish; exit 1; }
retry 90 2 nodes_ready
check "node3 and node4 Ready" nodes_ready

# ---- the listing
korch c1 certs --json
check "korch certs --json succeeds" [ "$RC" -eq 0 ]
cp "$W/c1.out" "$W/c1.json"
# The CA, 3 etcd members' server and peer pairs, the etcd client, the
# apiserver's two, admin, controller-manager, scheduler, health, 2 kubelets,
# kube-proxy.
check "korch certs --json parses: 17 certificates, each host listed" \
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (len(d["certificates"]) == 17 and len(d["hosts"]) == 4 and all(h["certificates"] for h in d["hosts"])))' "$W/c1.json"
check "korch certs --json matches the files on the hosts" matches_hosts "$W/c1.json"
check "every certificate has a year left, the CA ten" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not all((c["days_left"] >= 3640) if c["ca"] else (363 <= c["days_left"] <= 365) for c in d["certificates"]))' "$W/c1.json"
check "node4 holds its kubelet's, not the apiserver's" python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); h = [h for h in d["hosts"] if h["name"] == "node4"][0]
n = set(c["name"] for c in h["certificates"]); sys.exit(not ("kubelet-node4" in n and "apiserver" not in n))' "$W/c1.json"
korch c1t certs
check "korch certs (text) names the apiserver certificate's users" grep -q "/etc/kubernetes/pki/apiserver.crt  used by kube-apiserver" "$W/c1t.out"
korch st status
check "korch status shows the soonest expiry" grep -qE "soonest [a-z0-9-]+ expires in 36[45] days" "$W/st.out"
store_sum() { (cd "$PKI" && ls -l --time-style=+%s && cat -- *.crt) | sha256sum; }
S0=$(store_sum)
korch renew-ca certs renew ca
check "korch certs renew ca is refused (exit 1), naming the CA rotation document" \
    bash -c '[ "$1" = 1 ] && grep -q "docs/CERTIFICATES.md" "$2"' _ "$RC" "$W/renew-ca.err"
sed 's/^/#   /' "$W/renew-ca.err"
check "the refusal changed nothing in the store" [ "$(store_sum)" = "$S0" ]

# ---- the watchers: kubectl through node4's haproxy, /healthz per master, units
POLL_HOST=node4
on $MASTER 'cat /etc/kubernetes/admin.kubeconfig' | on node4 'cat > /root/korch-admin.kubeconfig; chmod 600 /root/korch-admin.kubeconfig'
on $MASTER 'cat /usr/local/bin/kubectl' | on node4 'cat > /tmp/kubectl; chmod 755 /tmp/kubectl'
on node4 "rm -f /tmp/korch-kc.log /tmp/korch-kc.stop; setsid sh -c 'while [ ! -e /tmp/korch-kc.stop ]; do
	( t=\$(date +%s%3N); if /tmp/kubectl --kubeconfig /root/korch-admin.kubeconfig --request-timeout=3s get nodes -o name >/dev/null 2>&1; then r=ok; else r=fail; fi; echo \"\$t \$r\" >> /tmp/korch-kc.log ) &
	sleep 0.5
done' </dev/null >/dev/null 2>&1 &"
A1=$(host_addr node1) A2=$(host_addr node2)
hz() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert "$PKI/ca.crt" --cert "$PKI/health.crt" --key "$PKI/health.key" "https://$1:6443/healthz"; }
(
	while [ ! -e "$W/api.stop" ]; do
		( t=$(date +%s%3N); echo "$t $(hz "$A1") $(hz "$A2")" >>"$W/api.log" ) &
		sleep 0.25
	done
	wait
) &
API_PID=$!
start_sampler certs $ALL
sleep 2
check "the kubectl poller on node4 is recording" on node4 'test -s /tmp/korch-kc.log'

# ---- renew --all
declare -A AS0
for m in $MASTERS; do AS0[$m]=$(unit_started $m kube-apiserver); done
t0=$(date +%s.%N)
korch renew certs renew --all
t1=$(date +%s.%N)
RENEW_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
check "korch certs renew --all succeeds (exit 0, $RENEW_S s)" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || tail_of renew 30
sed -n 's/^ *\[\([0-9]*\/[0-9]*\)\] *\([^ ]*\) .* \(done\|FAILED\) \([0-9.]*s\)$/# renew host \1 \2: \3 \4/p' "$W/renew.out"
check "the masters went first, one at a time, then node3 and node4" \
    bash -c 'grep -oE "^ +\[[0-9]/[0-9]\] +node[0-9]" "$1" | awk "{print \$2}" | tr "\n" " " | grep -qx "node1 node2 node3 node4 "' _ "$W/renew.out"
sleep 3
touch "$W/api.stop"
on node4 'touch /tmp/korch-kc.stop'
wait "$API_PID" 2>/dev/null; API_PID=
stop_sampler
sleep 1
on node4 'cat /tmp/korch-kc.log' >"$W/kc.log"
POLL_HOST=

korch c2 certs --json
cp "$W/c2.out" "$W/c2.json"
check "every leaf has a new serial and a later not-after; the CA is the same" leaves_renewed "$W/c1.json" "$W/c2.json"
check "korch certs --json matches the files on the hosts after the renewal" matches_hosts "$W/c2.json"
read -r KC_RATE KC_GAP _ KC_N _ <<<"$(gaps "$W/kc.log" ok)"
check "kubectl (node4, through haproxy) ran throughout ($KC_N calls)" [ "$KC_N" -gt 20 ]
check "kubectl kept working: $KC_RATE% answered, longest outage $KC_GAP s" awk -v r="$KC_RATE" 'BEGIN { exit !(r >= 99.0) }'
read -r H1_RATE H1_GAP _ <<<"$(awk '{ print $1, ($2 == 200 ? "ok" : "no") }' "$W/api.log" >"$W/h1.log"; gaps "$W/h1.log" ok)"
read -r H2_RATE H2_GAP _ <<<"$(awk '{ print $1, ($3 == 200 ? "ok" : "no") }' "$W/api.log" >"$W/h2.log"; gaps "$W/h2.log" ok)"
read -r HA_RATE HA_GAP _ HA_N _ <<<"$(awk '{ print $1, ($2 == 200 || $3 == 200 ? "ok" : "no") }' "$W/api.log" >"$W/ha.log"; gaps "$W/ha.log" ok)"
check "an apiserver (node1 or node2) answered /healthz >= 99% of $HA_N polls ($HA_RATE%, longest outage $HA_GAP s)" \
    awk -v r="$HA_RATE" 'BEGIN { exit !(r >= 99.0) }'
sc() { "$E2E_ROOT/tests/e2e/sampler-check" "$@" >"$W/sc.out" 2>&1; local r=$?; sed 's/^/#   /' "$W/sc.out"; return $r; }
check "never both masters down at once (sampler)" sc "$W/certs.jsonl" --masters node1,node2 --nodes node3,node4 --max-nodes-down 1
for m in $MASTERS; do
	check "$m's kube-apiserver restarted" [ "$(unit_started $m kube-apiserver)" != "${AS0[$m]}" ]
done
check "node1's apiserver restarted before node2's (each host's health gates pass before the next)" \
    [ "$(on node1 systemctl show -p ActiveEnterTimestamp --value kube-apiserver | xargs -I{} date -d {} +%s)" -le \
      "$(on node2 systemctl show -p ActiveEnterTimestamp --value kube-apiserver | xargs -I{} date -d {} +%s)" ]
retry 60 2 nodes_ready
check "node3 and node4 Ready after the renewal" nodes_ready

# ---- one certificate: only what uses it restarts
record_starts node1 "node3 node4"
for s in etcd kube-apiserver kube-controller-manager kube-proxy flanneld; do T0[node2/$s]=$(unit_started node2 $s); done
SCHED2=$(unit_started node2 kube-scheduler)
unset 'T0[node1/kube-scheduler]'
SCHED1=$(unit_started node1 kube-scheduler)
korch renew1 certs renew scheduler
check "korch certs renew scheduler succeeds" [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || tail_of renew1 30
check "it visited the two masters only" [ "$(grep -cE '^ +\[[0-9]/2\] ' "$W/renew1.out")" = 2 ]
check "kube-scheduler restarted on both masters" bash -c '[ "$1" != "$2" ] && [ "$3" != "$4" ]' _ \
    "$(unit_started node1 kube-scheduler)" "$SCHED1" "$(unit_started node2 kube-scheduler)" "$SCHED2"
check "nothing else restarted anywhere (etcd, apiserver, controller-manager, flanneld, docker, kubelet, kube-proxy)" none_restarted

# ---- converged
apply "$W/apply2"
check "an apply after the renewals converges with 0 changes" bash -c '[ "$1" = 0 ] && [ "$(python3 -c "import json,sys; print(sum(h[\"changed\"] for h in json.load(open(sys.argv[1]))[\"hosts\"]))" "$2")" = 0 ]' _ "$RC" "$W/apply2.json"

echo "# renew --all: $RENEW_S s for 4 hosts"
echo "# kubectl on node4 through haproxy: $KC_RATE% of $KC_N calls answered; longest outage $KC_GAP s"
echo "# /healthz: node1 $H1_RATE% (longest away $H1_GAP s), node2 $H2_RATE% (longest away $H2_GAP s), either $HA_RATE%"
"$TB" down >&2
finish
