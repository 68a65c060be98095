#!/usr/bin/env bash
# make demo: boot four local test-bed hosts and stand up runbook 000's
# cluster on them with korch: one master (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) and three nodes (flanneld,
# docker, kubelet, kube-proxy), from an offline bundle.
#
# The bundle holds the real etcd (Debian's) and stand-ins for the Kubernetes
# and flannel binaries, which cannot be downloaded here (tests/standins).
# The second apply shows that a converged cluster changes nothing.  The
# hosts stay up afterwards; `tests/testbed/testbed down` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."

TB=tests/testbed/testbed
DEMO=$PWD/build/demo
V=1.8.15
mkdir -p "$DEMO"

echo "== building the offline bundle for Kubernetes $V"
tests/bundle/make-bundle "$V" "$DEMO/bundle-$V"
build/korch bundle verify "$DEMO/bundle-$V"

echo
echo "== booting 4 test-bed hosts (the first time builds a Debian base image: ~1-2 min)"
$TB up 4
$TB inventory etcd,master node node node |
	awk -v b="$DEMO/bundle-$V" '{ print } /^  service_cidr:/ { print "  bundle: " b }' \
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
echo "The hosts are still up: '$TB ssh node1', 'KORCH_STATE=$KORCH_STATE build/korch status'."
echo "Remove them with '$TB down'."
