#!/usr/bin/env bash
# tests/bench/run.sh [bench.py options]  --  `make bench`
#
# korch against plain parallel OpenSSH on the test bed's light hosts, side by
# side, at N = 16, 64 and 256 (and 64 behind a bastion).  Prints one line per
# measurement:
#
#   bench name=<floor|floor-default-kex|korch-converge|korch-noop|...> hosts=N
#         wall_s=... cpu_s=... rss_mb=...
#
# then the ratios korch/floor, and writes docs/bench/RESULTS.md (table with
# the machine and versions), docs/bench/results.json and docs/bench/wall.png.
# Needs root (the test bed).  Options: tests/bench/bench.py --help.
# Then, with the Ansible sizes, the same workload with ansible-core
# (tests/bench/ansible/, two profiles), and korch's ratios against it; then
# the real cluster's converge (real.sh) if the Kubernetes binaries are cached.
# Environment: BUILD (default build), BENCH_SIZES (default "16 64 256"),
# BENCH_ANSIBLE_SIZES (default "16"), BENCH_RUNS (default 3), BENCH_OUT
# (default docs/bench), BENCH_REAL (0: no real cluster).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ $(id -u) == 0 ]] || { echo "bench: must run as root (the test bed needs it)" >&2; exit 1; }
# Ansible's side needs Debian's ansible-core (2.14); the bench's own setup,
# not tests/deps.sh's, since only the bench uses it.
if [[ ${BENCH_ANSIBLE_SIZES-16} != "" && ! -x /usr/bin/ansible-playbook ]]; then
	echo "bench: installing Debian's ansible-core (apt-get install ansible-core)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ansible-core >&2 ||
		{ echo "bench: could not install ansible-core; BENCH_ANSIBLE_SIZES='' runs without Ansible" >&2; exit 1; }
fi
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
"$PY" "$ROOT/tests/bench/bench.py" --root "$ROOT" "$@"

# The real cluster's converge (tests/bench/real.sh) when the Kubernetes
# binaries are built and cached; building them takes an hour, so the bench
# never starts that build.  BENCH_REAL=0 leaves it out.
OUT=${BENCH_OUT:-$ROOT/docs/bench}
[[ ${BENCH_REAL:-1} != 0 ]] || exit 0
if ! "$ROOT/tests/kube/build" --path >/dev/null 2>&1; then
	echo "bench name=real-converge skipped=\"no cached Kubernetes binaries: run tests/kube/build first\""
	exit 0
fi
REAL=$(mktemp)
trap 'rm -f "$REAL"' EXIT
"$ROOT/tests/bench/real.sh" "$ROOT/${BUILD:-build}" | tee "$REAL"
if [[ -n $OUT && -f $OUT/RESULTS.md ]]; then
	{
		printf '\n## A real cluster (tests/bench/real.sh)\n\n'
		printf 'Fresh 4 full test-bed hosts (etcd+master, 3 nodes), Kubernetes 1.20.2 from the cache, one `korch apply` to every node Ready; bytes = what each host'"'"'s veth sent it.\n\n```\n'
		cat "$REAL"
		printf '```\n'
	} >>"$OUT/RESULTS.md"
fi
