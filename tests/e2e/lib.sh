# shellcheck shell=bash
# Shared helpers for the end-to-end suites and tests/demo.sh (sourced, not
# run).
#
# Each check prints one TAP-style line, "ok - WHAT" or "not ok - WHAT (why)",
# which tests/check.sh counts.  Checks never stop the suite: a failed one is
# reported and the next one runs, so one run shows every broken behaviour.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TB=$E2E_ROOT/tests/testbed/testbed
T_PASS=0
T_FAIL=0

# e2e_begin NAME [BUILD]: the suite's globals: BUILD (the build directory,
# default build, made absolute) and its KORCH; a fresh work directory W
# (/tmp/korch-e2e-NAME.*; the suite's EXIT trap removes it), the inventory
# INV in it and the state KORCH_STATE; NO_COLOR for korch's output.
e2e_begin() {
	BUILD=$(cd "${2:-build}" && pwd)
	KORCH=$BUILD/korch
	W=$(mktemp -d "/tmp/korch-e2e-$1.XXXXXX")
	INV=$W/inventory.yaml
	export KORCH_STATE=$W/state.db
	export NO_COLOR=1
}

ok()    { echo "ok - $1"; T_PASS=$((T_PASS + 1)); }
notok() { echo "not ok - $1 (${2:-failed})"; T_FAIL=$((T_FAIL + 1)); }
# check WHAT CONDITION-COMMAND...: ok when the command succeeds.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else notok "$what" "$*"; fi
}
finish() {
	echo "# e2e: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}
# retry TRIES SECS CMD...: run CMD until it succeeds, at most TRIES times,
# SECS apart (a sleep follows every failed try); CMD's success, or 1.
retry() {
	local tries=$1 secs=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep "$secs"
	done
	return 1
}

# Run on a test-bed host (as root unless -l USER).
on() { "$TB" ssh "$@"; }

# jq-free JSON questions: json FILE PYTHON-EXPR (the document is `d`).
json() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(r if not isinstance(r, bool) else ("true" if r else "false"))' "$1" "$2"
}

# The apply --json "hosts" entry of NAME: field FIELD.
host_field() { json "$1" "[h for h in d['hosts'] if h['name'] == '$2'][0]['$3']"; }

# total_changed FILE: the tasks an apply --json report counts changed, summed
# over its hosts.
total_changed() { json "$1" "sum(h['changed'] for h in d['hosts'])"; }

# ---- inventories

# make_inventory FILE [testbed-inventory args...]: the test bed's inventory
# plus the cluster variables the demo templates use.
make_inventory() {
	local out=$1; shift
	"$TB" inventory "$@" | awk '
		{ print }
		/^  service_cidr:/ { print "  vars:"; print "    greeting: hello"; print "    demo_port: \"8080\"" }
	' >"$out"
}

# bundle_inventory FILE BUNDLE [testbed-inventory args...]: the test bed's
# inventory, its cluster installed from the offline bundle BUNDLE.
bundle_inventory() {
	local out=$1 bundle=$2
	shift 2
	"$TB" inventory "$@" | awk -v b="$bundle" '
		{ print }
		/^  service_cidr:/ { print "  bundle: " b }' >"$out"
}

# set_lb FILE MODE [KEY: VALUE...]: the inventory's cluster.apiserver_lb
# (after its bundle: line), and further cluster keys after it.
set_lb() {
	local file=$1 kv
	shift
	for kv in "${@:2}"; do sed -i "/^  bundle: /a\\  $kv" "$file"; done
	sed -i "/^  bundle: /a\\  apiserver_lb: $1" "$file"
}

# set_host_var FILE HOST KEY VALUE: give HOST a vars: entry (new or replaced).
set_host_var() {
	python3 - "$@" <<'EOF'
import sys, re
path, host, key, val = sys.argv[1:5]
lines = open(path).read().split("\n")
out, i = [], 0
while i < len(lines):
    out.append(lines[i])
    if lines[i] == "  - name: " + host:
        i += 1
        while i < len(lines) and lines[i].startswith("    "):
            if not lines[i].startswith("    vars:"):
                out.append(lines[i])
            i += 1
        out.append("    vars: { %s: %s }" % (key, val))
        continue
    i += 1
open(path, "w").write("\n".join(out))
EOF
}

# drop_host FILE NAME: the inventory without host NAME's entry.
drop_host() {
	python3 - "$1" "$2" <<'EOF'
import sys
path, host = sys.argv[1:3]
out, skip = [], False
for l in open(path).read().split("\n"):
    if l.startswith("  - name: "):
        skip = l == "  - name: " + host
    elif not l.startswith("    "):
        skip = False
    if not skip:
        out.append(l)
open(path, "w").write("\n".join(out))
EOF
}

# host_addr NAME: the address of host NAME in the inventory $INV.
host_addr() { awk -v n="$1" '$0 == "  - name: " n { getline; print $2 }' "$INV"; }

# ---- running korch ($KORCH)

# apply OUT [args...]: korch apply $INV --json, the report in OUT.json,
# stderr in OUT.err, the exit status in $RC.  A failed run also prints, as
# comments, the end of its stderr and every failed task and host.
apply() {
	local out=$1; shift
	"$KORCH" apply "$INV" --json "$@" >"$out.json" 2>"$out.err"
	RC=$?
	[ "$RC" -eq 0 ] || { echo "# korch apply exit $RC:"; sed 's/^/#   /' "$out.err" | tail -20; \
	    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for h in d["hosts"]:
    for t in h["tasks"]:
        if t["status"] == "failed": print("#   %s %s: %s" % (h["name"], t["task"], t["message"].replace("\n", "\n#     ")))
    if h["error"]: print("#   %s: %s" % (h["name"], h["error"]))' "$out.json" 2>/dev/null; }
}

# korch OUT ARGS...: run korch, output in $W/OUT.out and $W/OUT.err, status
# in $RC.
korch() {
	local out=$1; shift
	"$KORCH" "$@" >"$W/$out.out" 2>"$W/$out.err"
	RC=$?
}

# ---- units on the hosts

# The time a unit last entered "active", as systemd records it (monotonic
# microseconds): a restart changes it, nothing else does.
unit_started() { on "$1" systemctl show -p ActiveEnterTimestampMonotonic --value "$2" 2>/dev/null; }

# record_starts MASTER "NODE...": T0[HOST/UNIT] := unit_started, for the
# control-plane units on MASTER and the node units on every NODE (the units
# the cluster playbooks run).  T0 is a global associative array, made anew:
# for none_restarted, and for comparing single units after.
record_starts() {
	local masters="etcd kube-apiserver kube-controller-manager kube-scheduler"
	local nodes="flanneld docker kubelet kube-proxy" s n
	unset T0
	declare -gA T0
	for s in $masters; do T0[$1/$s]=$(unit_started "$1" "$s"); done
	for n in $2; do for s in $nodes; do T0[$n/$s]=$(unit_started "$n" "$s"); done; done
}
# none_restarted: true when every unit in T0 still has the start time
# recorded there; names each one that has not ("# restarted: HOST/UNIT").
none_restarted() {
	local k same=1
	for k in "${!T0[@]}"; do
		[ "$(unit_started "${k%%/*}" "${k#*/}")" = "${T0[$k]}" ] || { same=0; echo "# restarted: $k"; }
	done
	[ "$same" -eq 1 ]
}

# etcd_runs_from VERSION HOST...: every HOST's etcd unit starts
# /opt/etcd/VERSION/bin/etcd.
etcd_runs_from() {
	local v=$1 h
	shift
	for h in "$@"; do
		grep -q "/opt/etcd/$v/bin/etcd" <<<"$(on "$h" systemctl show -p ExecStart etcd)" || return 1
	done
}

# ---- Kubernetes

# kc ARGS...: kubectl ARGS on $MASTER; ssh hands the remote shell one
# string, so each argument is quoted for it.
kc() { on "$MASTER" "kubectl $(printf '%q ' "$@")"; }

# web_deployment NAME SPREAD [PAGE]: the YAML of a Deployment NAME of 3
# busybox httpd pods (labelled app=NAME; the bundle's image, never pulled)
# on :8080, Ready once / answers.  Each logs "serving" and serves what the
# shell command PAGE prints (default `hostname`, the pod's name; PAGE stands
# in a YAML double-quoted string).  SPREAD is one-per-node (required
# anti-affinity) or drainable: preferred anti-affinity, so an evicted pod
# may share a node, and the usual graceful drain (a preStop sleep within a
# 30 s grace period) for a rolling upgrade.
web_deployment() {
	local name=$1 spread=$2 page=${3:-hostname}
	case $spread in
	one-per-node | drainable) ;;
	*) echo "web_deployment: SPREAD is one-per-node or drainable, not '$spread'" >&2; return 2 ;;
	esac
	cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: { name: $name }
spec:
  replicas: 3
  selector: { matchLabels: { app: $name } }
  template:
    metadata: { labels: { app: $name } }
    spec:
      affinity:
        podAntiAffinity:
EOF
	if [ "$spread" = one-per-node ]; then
		cat <<EOF
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: { matchLabels: { app: $name } }
              topologyKey: kubernetes.io/hostname
EOF
	else
		cat <<EOF
          # preferred, not required: an evicted pod may share a node
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                labelSelector: { matchLabels: { app: $name } }
                topologyKey: kubernetes.io/hostname
      terminationGracePeriodSeconds: 30
EOF
	fi
	cat <<EOF
      containers:
        - name: httpd
          image: korch.local/busybox:1.35
          imagePullPolicy: Never
          command: [sh, -c, "mkdir -p /www && $page > /www/index.html && echo serving && exec httpd -f -v -p 8080 -h /www"]
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /, port: 8080 }, periodSeconds: 2 }
EOF
	[ "$spread" = one-per-node ] || cat <<'EOF'
          # The usual graceful drain: keep serving while the endpoint
          # removal reaches every kube-proxy.
          lifecycle: { preStop: { exec: { command: [sleep, "5"] } } }
EOF
}

# web_service APP: the YAML of a ClusterIP Service APP, its port 80 to the
# app=APP pods' 8080.
web_service() {
	cat <<EOF
apiVersion: v1
kind: Service
metadata: { name: $1 }
spec:
  selector: { app: $1 }
  ports: [{ port: 80, targetPort: 8080 }]
EOF
}

# ---- korch upgrade: the plan, the journal in the state, the sampler

# plan_is FILE STEP...: the phases `korch upgrade --plan` printed to FILE,
# each as "PHASE HOST" (a node phase as "PHASE HOST BATCH"), are the STEPs
# in order; prints the phases it found when not.
plan_is() {
	python3 - "$@" <<'EOF'
import re, sys
rows = [" ".join(l.split()[1:3]) + (" " + l.split()[4].rstrip(":") if "batch" in l else "")
        for l in open(sys.argv[1]) if re.match(r"\s+\d+\. ", l)]
if rows != sys.argv[2:]:
    print("# %s" % rows)
    sys.exit(1)
EOF
}

# sql QUERY: ask the state ($KORCH_STATE), a row a line, "|" between
# columns (python's sqlite3: the CLI may not be installed).
sql() {
	python3 - "$KORCH_STATE" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
EOF
}
# phase HOST PHASE: its status in the newest journal entry.
phase() { sql "SELECT status FROM upgrade_phases WHERE upgrade_id = (SELECT max(id) FROM upgrades) AND host = '$1' AND phase = '$2'"; }
# wait_phase HOST PHASE STATUS [SECS]: poll until it is so, for at most
# SECS (120) and while korch ($PID) runs.
wait_phase() {
	local i
	for ((i = 0; i < ${4:-120} * 5; i++)); do
		[ "$(phase "$1" "$2")" = "$3" ] && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
# journal_count: the entries (upgrades and rollbacks) in the journal.
journal_count() { sql "SELECT count(*) FROM upgrades"; }

# gaps FILE GOOD,...: "t result" lines (ms at the request's start; a result
# among GOOD is an answer) -> "RATE OUTAGE_S WHEN TOTAL BETWEEN_S SILENCE_S":
# the share answered; the longest outage, from the last answer before a
# failed request to the next answer (or the end); the longest interval
# between two answers whatever happened in it; and the longest interval
# between two requests of any result (the recorder itself stalled: this
# machine is busy), which is no evidence of an outage by itself.
gaps() {
	python3 - "$1" "$2" <<'EOF'
import sys, datetime
rows, ok = [], sys.argv[2].split(",")
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 2 and p[0].isdigit():
        rows.append((int(p[0]), p[1] in ok))
rows.sort()
if not rows or not any(g for _, g in rows):
    print("0 999 - %d 999 999" % len(rows)); sys.exit()
outage, at, between, last, failed = 0, rows[0][0], 0, None, False
for t, g in rows:
    if g:
        if last is not None:
            between = max(between, t - last)
            if failed and t - last > outage:
                outage, at = t - last, last
        last, failed = t, False
    else:
        failed = True
if failed and rows[-1][0] - last > outage:   # failing until the end
    outage, at = rows[-1][0] - last, last
silence = max([b[0] - a[0] for a, b in zip(rows, rows[1:])] or [0])
when = datetime.datetime.fromtimestamp(at / 1000, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
print("%.2f %.2f %s %d %.2f %.2f" % (100.0 * sum(g for _, g in rows) / len(rows), outage / 1000.0, when,
      len(rows), between / 1000.0, silence / 1000.0))
EOF
}

# start_poll NAME HOST CURL-ARGS...: HOST asks with curl every 100 ms, each
# request on its own connection with a 1 s timeout, into
# /tmp/korch-poll-NAME.log ("ms-at-start HTTP-code" lines; 000: no answer).
# The arguments are the test's own (no spaces).  The poller runs at a high
# priority (nice -10): on this 2-CPU machine the bed's hosts hash their
# binaries at once when a run starts, and a starved client times out
# whatever the load balancer does.
start_poll() {
	local name=$1 host=$2
	shift 2
	on "$host" "rm -f /tmp/korch-poll-$name.log /tmp/korch-poll-$name.stop; setsid nice -n -10 sh -c 'while [ ! -e /tmp/korch-poll-$name.stop ]; do
	( t=\$(date +%s%3N); c=\$(curl -s -o /dev/null -w %{http_code} --max-time 1 $*); echo \"\$t \$c\" >> /tmp/korch-poll-$name.log ) &
	sleep 0.1
done' </dev/null >/dev/null 2>&1 &"
}
# stop_poll NAME HOST: ends it (its last requests finish) into $W/NAME.poll.
stop_poll() {
	on "$2" "touch /tmp/korch-poll-$1.stop"
	sleep 1.5
	on "$2" "cat /tmp/korch-poll-$1.log" >"$W/$1.poll"
}

# start_sampler NAME HOST...: tests/e2e/sampler records the HOSTs' units
# into $W/NAME.jsonl in the background ($SAMPLER_PID), 2 s in when this
# returns; stop_sampler ends it.
start_sampler() {
	local name=$1
	shift
	"$E2E_ROOT/tests/e2e/sampler" "$W/$name.jsonl" "$@" 2>"$W/$name.sampler.err" &
	SAMPLER_PID=$!
	sleep 2
}
stop_sampler() {
	kill "$SAMPLER_PID" 2>/dev/null
	wait "$SAMPLER_PID" 2>/dev/null
	SAMPLER_PID=
}
