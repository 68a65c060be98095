#!/usr/bin/env bash
# make demo: boot four local test-bed hosts and converge them with korch.
#
# Until the cluster playbooks land this applies the demo playbook set
# (examples/demo/playbooks: sysctls, config files, a small systemd service
# watching its config) to node1..node4, twice: the second run shows that a
# converged cluster reports zero changes.  The hosts stay up afterwards;
# `tests/testbed/testbed down` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."

TB=tests/testbed/testbed
DEMO=build/demo
mkdir -p "$DEMO"

echo "== booting 4 test-bed hosts (the first time builds a Debian base image: ~1-2 min)"
$TB up 4
$TB inventory etcd,master node node node >"$DEMO/inventory.yaml"
echo "== inventory: $DEMO/inventory.yaml"
cat "$DEMO/inventory.yaml"

export KORCH_STATE=$PWD/$DEMO/state.db
echo
echo "== korch apply (first run: converges the hosts)"
build/korch apply "$DEMO/inventory.yaml" --playbooks examples/demo/playbooks
echo
echo "== korch apply (second run: nothing to change)"
build/korch apply "$DEMO/inventory.yaml" --playbooks examples/demo/playbooks
echo
echo "== korch status"
build/korch status
echo
echo "The hosts are still up: try '$TB ssh node1 systemctl status korch-demo'."
echo "Remove them with '$TB down'."
