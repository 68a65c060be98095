#!/usr/bin/env bash
# make demo: boot four local test-bed hosts and stand up a real Kubernetes
# 1.20.2 cluster on them with korch: one master (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) and three nodes (flanneld,
# docker, kubelet, kube-proxy), from an offline bundle.
#
# The Kubernetes binaries are the real ones, built from Debian's source
# package on first use (about 7 to 15 minutes on 2 cores, once per machine:
# tests/kube/build caches them); etcd and docker are Debian's.  flanneld is
# a stand-in (no flannel can be had here: tests/standins) that builds
# flannel's vxlan data plane for real, so pods answer across nodes and
# through a Service.  The second apply
# shows that a converged cluster changes nothing; then a Deployment from the
# bundle's busybox image runs one pod per node, and one answers HTTP.  Every
# run starts from fresh hosts and a fresh state; the hosts stay up
# afterwards (`tests/testbed/testbed down`).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/e2e/lib.sh

TB=tests/testbed/testbed
DEMO=$PWD/build/demo
V=1.20.2
B=$DEMO/bundles
mkdir -p "$B"

echo "== the real Kubernetes $V binaries"
if KBIN=$(tests/kube/build --path 2>/dev/null); then
	echo "cached: $KBIN"
else
	echo "not built on this machine yet: building them from Debian's source package now"
	echo "(about 7 to 15 minutes on 2 cores and 1.5 GB of memory, once; progress below)"
	KBIN=$(tests/kube/build)
fi

echo
echo "== building the offline bundle for Kubernetes $V (binaries, etcd, images)"
tests/bundle/make-bundle --kube-bin "$KBIN" "$V" "$B/bundle-$V"
build/korch bundle verify "$B/bundle-$V"

echo
echo "== booting 4 test-bed hosts (the first time builds a Debian base image: ~1-2 min)"
$TB down >/dev/null 2>&1 || true	# fresh hosts for a fresh state
rm -rf "$DEMO/state.db" "$DEMO/state.db-wal" "$DEMO/state.db-shm" "$DEMO/backups"
$TB up 4
bundle_inventory "$DEMO/inventory.yaml" "$B/bundle-$V" --kubernetes-version "$V" etcd,master node node node
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
echo "== kubectl get nodes -o wide (on the master)"
$TB ssh node1 kubectl get nodes -o wide
echo
echo "== kubectl get componentstatuses"
$TB ssh node1 kubectl get componentstatuses 2>/dev/null
echo
echo "== a Deployment of the bundle's busybox image: httpd, one pod per node"
# shellcheck disable=SC2016 # $(hostname) is the pod's shell's to expand
web_deployment hello one-per-node 'echo \"hello from $(hostname)\"' | $TB ssh node1 'kubectl apply -f -'
$TB ssh node1 kubectl rollout status deployment/hello --timeout=180s
$TB ssh node1 kubectl get pods -o wide
pod=$($TB ssh node1 kubectl get pods -l app=hello -o 'jsonpath={.items[0].status.podIP}')
echo
echo "== curl http://$pod:8080/ from the master (across hosts, through flannel's vxlan)"
$TB ssh node1 curl -s --max-time 5 "http://$pod:8080/"
$TB ssh node1 kubectl expose deployment hello --port 80 --target-port 8080 >/dev/null
cip=$($TB ssh node1 kubectl get service hello -o 'jsonpath={.spec.clusterIP}')
echo "== curl http://$cip/ (the Service's ClusterIP), three times from node2"
for _ in 1 2 3; do
	for _ in $(seq 20); do $TB ssh node2 curl -s --max-time 2 "http://$cip/" && break; sleep 1; done
done
echo
echo "The hosts are still up: '$TB ssh node1 kubectl get pods -A', 'KORCH_STATE=$KORCH_STATE build/korch status'."
echo "'$TB down' removes them."
