#!/usr/bin/env bash
# tests/bench/real.sh [BUILD]  --  the real cluster's converge, measured.
#
# Fresh 4 test-bed hosts (one master with etcd, three nodes), the real
# Kubernetes 1.20.2 binaries (built and cached by tests/kube/build), one
# `korch apply`: the wall time to a converged cluster (every node Ready:
# korch's own nodes-ready gate), when each kubelet started, the bytes each
# host received (its veth's counter: SSH, agent and all), korch's peak RSS
# and CPU.  Then, on the same hosts, plain parallel scp of the same files
# (each host what korch sent it), as the floor for the transfer.  Prints
# "bench ..." lines like tests/bench/run.sh.  Needs root (the test bed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
TB=$ROOT/tests/testbed/testbed
W=$(mktemp -d /tmp/korch-bench-real.XXXXXX)
trap 'rm -rf "$W"' EXIT
V=1.20.2
export KORCH_STATE=$W/state.db NO_COLOR=1 KORCH_PLAYBOOKS=$ROOT/playbooks

KBIN=$("$ROOT/tests/kube/build")
B=$W/bundle-$V
"$ROOT/tests/bundle/make-bundle" --kube-bin "$KBIN" "$V" "$B" >/dev/null
"$TB" down >/dev/null 2>&1 || true
"$TB" up 4 >&2
"$TB" inventory --kubernetes-version "$V" etcd,master node node node |
	awk -v b="$B" '{ print } /^  service_cidr:/ { print "  bundle: " b }' >"$W/inv.yaml"
HOSTS=${KORCH_TESTBED_DIR:-/var/tmp/korch-testbed}/hosts.tsv
tx() { cat "/sys/class/net/$1/statistics/tx_bytes"; }
declare -A NS TX0
while read -r n _ _ s; do NS[$n]=$s; TX0[$n]=$(tx "$s"); done <"$HOSTS"

t0=$(date +%s.%N)
/usr/bin/time -f '%M %U %S' -o "$W/time" "$BUILD/korch" apply "$W/inv.yaml" --json >"$W/a.json" 2>"$W/a.err" ||
	{ tail -20 "$W/a.err" >&2; exit 1; }
t1=$(date +%s.%N)
read -r rss usr sys <"$W/time"
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "bench name=real-converge hosts=4 wall_s=$wall cpu_s=$(awk -v u="$usr" -v s="$sys" 'BEGIN { print u + s }') rss_mb=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
last=0
for n in node2 node3 node4; do
	at=$(date -d "$("$TB" ssh "$n" systemctl show -p ActiveEnterTimestamp --value kubelet)" +%s)
	off=$(awk -v a="$t0" -v b="$at" 'BEGIN { printf "%.0f", b - a }')
	echo "bench name=real-kubelet-started host=$n after_s=$off"
	((off > last)) && last=$off
done
echo "bench name=real-last-kubelet hosts=4 after_s=$last"
total=0
for n in node1 node2 node3 node4; do
	b=$(($(tx "${NS[$n]}") - TX0[$n]))
	total=$((total + b))
	echo "bench name=real-bytes host=$n mb=$(awk -v b="$b" 'BEGIN { printf "%.1f", b / 1048576 }')"
done

# The floor: the same files, by scp, to every host at once.
master=(bin/etcd bin/etcdctl bin/kube-apiserver bin/kube-controller-manager bin/kube-scheduler bin/kubectl)
node=(bin/kubelet bin/kube-proxy bin/flanneld bin/mk-docker-opts.sh images/pause.tar images/busybox.tar)
CFG=${KORCH_TESTBED_DIR:-/var/tmp/korch-testbed}/ssh_config
t0=$(date +%s.%N)
(cd "$B" && scp -q -F "$CFG" "${master[@]}" node1:/tmp/) &
for n in node2 node3 node4; do (cd "$B" && scp -q -F "$CFG" "${node[@]}" "$n:/tmp/") & done
wait
t1=$(date +%s.%N)
sz=$(cd "$B" && du -cb "${master[@]}" | tail -1 | cut -f1)
szn=$(cd "$B" && du -cb "${node[@]}" | tail -1 | cut -f1)
files=$((sz + 3 * szn))
echo "bench name=real-scp-floor hosts=4 wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') mb=$(awk -v b="$files" 'BEGIN { printf "%.1f", b / 1048576 }') mb_per_s=$(awk -v a="$t0" -v b="$t1" -v f="$files" 'BEGIN { printf "%.0f", f / 1048576 / (b - a) }')"
echo "bench name=real-korch-bytes hosts=4 mb=$(awk -v b="$total" 'BEGIN { printf "%.1f", b / 1048576 }') files_mb=$(awk -v b="$files" 'BEGIN { printf "%.1f", b / 1048576 }')"
"$TB" down >&2
