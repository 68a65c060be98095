#!/usr/bin/env bash
# Every end-to-end suite, in order, on the test bed.  Usage: run.sh BUILD_DIR
set -uo pipefail
BUILD=$(cd "${1:-build}" && pwd) || exit 1
cd "$(dirname "$0")"
rc=0
for suite in engine.sh cluster.sh trust-agent.sh; do
	echo "# suite $suite"
	./"$suite" "$BUILD" || rc=1
done
exit $rc
