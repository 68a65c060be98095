#!/usr/bin/env bash
# make demo: boot four local test-bed hosts and stand up runbook 000's
# cluster on them with korch: one master (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) and three nodes (flanneld,
# docker, kubelet, kube-proxy), from an offline bundle.
#
# The bundle holds the real etcd (Debian's) and stand-ins for the Kubernetes
# and flannel binaries, which cannot be downloaded here (tests/standins).
# The second apply shows that a converged cluster changes nothing; then
# `korch upgrade --to 1.9` rolls the cluster to 1.9.11 (etcd snapshot,
# master, nodes one by one).  Every run starts from fresh hosts and a fresh
# state; the hosts stay up afterwards (`tests/testbed/testbed down`).
set -euo pipefail
cd "$(dirname "$0")/.."

TB=tests/testbed/testbed
DEMO=$PWD/build/demo
V=1.8.15
V2=1.9.11
B=$DEMO/bundles
mkdir -p "$B"

echo "== building the offline bundles for Kubernetes $V and $V2"
tests/bundle/make-bundle "$V" "$B/bundle-$V"
tests/bundle/make-bundle "$V2" "$B/bundle-$V2"
build/korch bundle verify "$B/bundle-$V"

echo
echo "== booting 4 test-bed hosts (the first time builds a Debian base image: ~1-2 min)"
$TB down >/dev/null 2>&1 || true	# fresh hosts for a fresh state
rm -rf "$DEMO/state.db" "$DEMO/state.db-wal" "$DEMO/state.db-shm" "$DEMO/backups"
$TB up 4
$TB inventory etcd,master node node node |
	awk -v b="$B/bundle-$V" '{ print } /^  service_cidr:/ { print "  bundle: " b }' \
	>"$DEMO/inventory.yaml"
echo "== inventory: $DEMO/inventory.yaml"

export KORCH_STATE=$DEMO/state.db
echo
echo "== korch apply (first run: converges the cluster)"
build/korch apply "$DEMO/inventory.yaml"
echo
echo "== korch apply (second run: nothing to change)"
build/korch apply "$DEMO/inventory.yaml"
echo
echo "== korch status"
build/korch status
echo
echo "== kubectl get nodes (on the master)"
$TB ssh node1 kubectl get nodes
echo
echo "== korch upgrade --to 1.9 --plan (the newest 1.9.x beside the inventory's bundle)"
build/korch upgrade --to 1.9 --plan
echo
echo "== korch upgrade --to 1.9"
build/korch upgrade --to 1.9
echo
echo "== korch status"
build/korch status
echo
echo "== kubectl get nodes (on the master)"
$TB ssh node1 kubectl get nodes
echo
echo "The hosts are still up: '$TB ssh node1', 'KORCH_STATE=$KORCH_STATE build/korch status'."
echo "'KORCH_STATE=$KORCH_STATE build/korch rollback' takes them back to $V; '$TB down' removes them."
