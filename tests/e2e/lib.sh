# Shared helpers for the end-to-end suites (sourced, not run).
#
# Each check prints one TAP-style line, "ok - WHAT" or "not ok - WHAT (why)",
# which tests/check.sh counts.  Checks never stop the suite: a failed one is
# reported and the next one runs, so one run shows every broken behaviour.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TB=$E2E_ROOT/tests/testbed/testbed
T_PASS=0
T_FAIL=0

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

# inventory FILE [testbed-inventory args...]: the test bed's inventory plus
# the cluster variables the demo templates use.
make_inventory() {
	local out=$1; shift
	"$TB" inventory "$@" | awk '
		{ print }
		/^  service_cidr:/ { print "  vars:"; print "    greeting: hello"; print "    demo_port: \"8080\"" }
	' >"$out"
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

# The time a unit last entered "active", as systemd records it (monotonic
# microseconds): a restart changes it, nothing else does.
unit_started() { on "$1" systemctl show -p ActiveEnterTimestampMonotonic --value "$2" 2>/dev/null; }
