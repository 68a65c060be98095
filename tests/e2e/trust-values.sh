#!/usr/bin/env bash
# End-to-end: what an inventory value, a file left on a host or a mirror
# cannot do, on one booted test-bed host.  Usage: trust-values.sh BUILD
#
# Hostile values (tests/e2e/hostile.py; the full table over every field is
# the unit test test_hostile): each one that must be refused is, with its
# file:line and a message with no control byte; every one that loads is
# applied in a unit file's ExecStart=, a config file, an env file, an argv
# element and a path, and comes out inert: no canary runs, systemd reads
# back exactly the value's words, the env file sourced by a shell gives
# back the value, no write lands outside its directory.  A 0644 state.db
# becomes 0600.  Repositories: a repository signed by another key than the
# inventory's is refused by apt; the right key is accepted; no key at all
# stops the run at the pre-flight; repo_allow_unsigned: true is warned.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin trust-values "$@"
trap '[ -n "${KORCH_E2E_KEEP:-}" ] || rm -rf "$W"' EXIT
H=node1

echo "# booting 1 test-bed host"
"$TB" up 1 >&2 || { notok "test bed up 1"; finish; exit 1; }
"$TB" inventory node >"$W/base.yaml"

# ---- hostile values
on $H 'rm -f /tmp/korch-canary*'
python3 "$E2E_ROOT/tests/e2e/hostile.py" "$W" "$W/base.yaml" || notok "hostile.py"
nbad=$(json "$W/values.json" "len(d['bad'])")
nok=$(json "$W/values.json" "len(d['loads'])")
refused_ok=0
for ((i = 0; i < nbad; i++)); do
	line=$(json "$W/values.json" "d['bad'][$i]")
	"$KORCH" apply "$W/bad-$i.yaml" --playbooks "$W/pb" >"$W/bad-$i.out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "bad-$i.yaml:$line:" "$W/bad-$i.out" &&
	    python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); sys.exit(any((c < 32 and c != 10) or c == 127 for c in b) or b"\xe2\x80\xae" in b)' "$W/bad-$i.out"; then
		refused_ok=$((refused_ok + 1))
	else
		echo "# bad-$i: exit $rc, want 1 and bad-$i.yaml:$line:"; head -3 "$W/bad-$i.out" | cat -v | sed 's/^/#   /'
	fi
done
check "$nbad hostile values refused at their file:line, printable messages" [ "$refused_ok" -eq "$nbad" ]
check "no host was contacted for them" [ ! -e "$KORCH_STATE" ] || [ "$(sqlite3 "$KORCH_STATE" 'select count(*) from hosts')" -eq 0 ]

INV=$W/ok.yaml
apply "$W/h1" --playbooks "$W/pb"
check "the $nok values that load apply (exit 0)" [ "$RC" -eq 0 ]
# A path with a '/' or '..' in the value: its own run, which may fail (no parent,
# or '..' refused) but never writes elsewhere (checked below).
npaths=0 pathfail=0
for i in $(json "$W/values.json" "' '.join(map(str, d['paths']))"); do
	apply "$W/p$i" --playbooks "$W/pbpath$i" >/dev/null
	npaths=$((npaths + 1))
	[ "$RC" -eq 0 ] || pathfail=$((pathfail + 1))
done
echo "# $npaths values with a '/' or '..' as a path: $pathfail refused by the agent"
check "each path run that failed was refused for its path (no parent, or '..')" python3 -c '
import glob, json, re, sys
for f in glob.glob(sys.argv[1] + "/p[0-9]*.json"):
    for h in json.load(open(f))["hosts"]:
        for t in h["tasks"]:
            if t["status"] == "failed" and not re.search("does not exist|must not contain ..|path too long", t["message"]):
                sys.exit("%s: %s" % (f, t["message"]))' "$W"
check "no canary ran on the host" on $H '! ls /tmp/korch-canary* /korch-canary* 2>/dev/null | grep -q .'
check "no canary ran on the controller" bash -c '! ls /tmp/korch-canary* 2>/dev/null | grep -q .'
on $H 'cd /srv/korch-hostile && tar cf - unit* conf* arg* env d' >"$W/out.tar" 2>/dev/null
mkdir -p "$W/out" && tar -C "$W/out" -xf "$W/out.tar"
on $H 'bash -c "set -a; . /srv/korch-hostile/env; env -0"' >"$W/env.out" 2>"$W/env.err"
# Where the '..' values would land, were they followed.
on $H 'ls -d /etc/cron.d/korch-hostile /srv/korch-hostile/b /srv/korch-hostile/x /etc/cron.d/korch-hostile 2>/dev/null; find /etc /srv /tmp /root -xdev -name "korch-hostile*" -not -path "/srv/korch-hostile*" -not -path "/etc/systemd/system/*" 2>/dev/null' >"$W/escaped.out"
python3 - "$W" "$nok" >"$W/inert.out" <<'EOF'
import json, os, sys
w, n = sys.argv[1], int(sys.argv[2])
vals = [bytes(v) for v in json.load(open(os.path.join(w, "values.json")))["loads"]]
env = {}
for kv in open(os.path.join(w, "env.out"), "rb").read().split(b"\0"):
    if b"=" in kv:
        k, v = kv.split(b"=", 1)
        env[k] = v
bad = 0
for i, v in enumerate(vals):
    out = os.path.join(w, "out")
    def rd(name):
        try:
            return open(os.path.join(out, name), "rb").read()
        except OSError:
            return None
    want_unit = b"".join(x + b"|" for x in v.split())
    checks = {
        "unit": rd("unit%d" % i) == want_unit,
        "conf": rd("conf%d" % i) == b"# hostile %d\nvalue=" % i + v + b"\n",
        "arg": rd("arg%d" % i) == v,
        "env": env.get(b"H%d" % i) == v,
    }
    for k, good in checks.items():
        if not good:
            bad += 1
            print("# value %d %r: %s not inert (got %r)" % (i, v[:60], k,
                  ((rd(k + str(i)) or b"") if k != "env" else env.get(b"H%d" % i, b""))[:80]))
print("bad=%d" % bad)
EOF
cat "$W/inert.out" | grep '^#' | head -20
check "$nok loaded values inert in a unit's ExecStart, a config, an env file sourced by sh, an argv element" \
    grep -qx "bad=0" "$W/inert.out"
check "no write escaped its directory" [ ! -s "$W/escaped.out" ]
check "the unit file kept the template's $((nok + 5)) lines (no injected directive)" \
    on $H '[ "$(grep -c . /etc/systemd/system/korch-hostile.service)" -eq '$((nok + 5))' ] && ! grep -q "^ExecStartPre" /etc/systemd/system/korch-hostile.service'

# ---- a state.db left world-readable is made 0600
chmod 0644 "$KORCH_STATE"
for f in "$KORCH_STATE-wal" "$KORCH_STATE-shm"; do [ -e "$f" ] && chmod 0644 "$f"; done
"$KORCH" status >/dev/null 2>&1
check "a 0644 state.db is 0600 after the next korch command" [ "$(stat -c %a "$KORCH_STATE")" = 600 ]
for f in "$KORCH_STATE-wal" "$KORCH_STATE-shm"; do
	[ -e "$f" ] && check "$(basename "$f") is 0600 too" [ "$(stat -c %a "$f")" = 600 ]
done

# ---- signed repositories
export GNUPGHOME=$W/gnupg
mkdir -m 700 "$GNUPGHOME"
for k in A B; do
	gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "korch test $k" ed25519 sign never 2>/dev/null
	gpg --batch --armor --export "korch test $k" >"$W/$k.asc"
done
R=$W/repo/korch-repo
mkdir -p "$R/dists/stable/main/binary-amd64"
: >"$R/dists/stable/main/binary-amd64/Packages"
{
	printf 'Origin: korch-test\nLabel: korch-test\nSuite: stable\nCodename: stable\n'
	printf 'Date: %s\nArchitectures: amd64\nComponents: main\nSHA256:\n' "$(LC_ALL=C date -u -R)"
	printf ' %s %s main/binary-amd64/Packages\n' "$(sha256sum <"$R/dists/stable/main/binary-amd64/Packages" | cut -d' ' -f1)" 0
} >"$R/dists/stable/Release"
gpg --batch --yes --pinentry-mode loopback --passphrase '' -u "korch test A" --clearsign \
    -o "$R/dists/stable/InRelease" "$R/dists/stable/Release" 2>/dev/null
check "a test repository signed by key A" [ -s "$R/dists/stable/InRelease" ]
tar -C "$W/repo" -cf - korch-repo | on $H 'rm -rf /srv/korch-repo && tar -C /srv -xf -'

mkdir -p "$W/rpb/templates"
cp "$E2E_ROOT/playbooks/10-preflight.yaml" "$E2E_ROOT/playbooks/20-repos.yaml" "$W/rpb/"
cp "$E2E_ROOT"/playbooks/templates/korch*.tmpl "$W/rpb/templates/"
# repo_inventory OUT KEYFILE|none UNSIGNED: the bed's inventory with the
# local repository and its key as a multi-line var.
repo_inventory() {
	python3 - "$W/base.yaml" "$1" "$2" "$3" <<'EOF'
import sys
base, out, key, unsigned = sys.argv[1:5]
v = ['    apt_repo_url: "file:/srv/korch-repo"', "    apt_repo_suite: stable",
     "    apt_repo_components: main", "    yum_repo_baseurl: none",
     '    repo_key_bundle: "no"', '    repo_allow_unsigned: "%s"' % unsigned]
if key == "none":
    v.append("    repo_key: none")
else:
    v.append("    repo_key: |")
    v += [("      " + l) if l else "" for l in open(key).read().splitlines()]
lines = []
for l in open(base).read().splitlines():
    lines.append(l)
    if l.startswith("  service_cidr:"):
        lines += ["  vars:"] + v
open(out, "w").write("\n".join(lines) + "\n")
EOF
}
apt_update() { on $H 'apt-get update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/korch.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 2>&1; echo "rc=$?"'; }

INV=$W/repo-b.yaml
repo_inventory "$INV" "$W/B.asc" false
apply "$W/r1" --playbooks "$W/rpb"
check "apply with repo_key B exits 0" [ "$RC" -eq 0 ]
check "korch.list names the repository signed-by korch's keyring" \
    on $H 'grep -q "^deb \[signed-by=/etc/apt/keyrings/korch.asc\] file:/srv/korch-repo stable main" /etc/apt/sources.list.d/korch.list'
check "the keyring is key B" bash -c "[ \"\$('$TB' ssh $H cat /etc/apt/keyrings/korch.asc)\" = \"\$(cat '$W/B.asc')\" ]"
apt_update >"$W/apt-b.out"
check "apt refuses the repository signed by another key" grep -q "rc=100" "$W/apt-b.out"
check "apt says why (NO_PUBKEY / not signed)" grep -qE "NO_PUBKEY|is not signed|couldn't be verified" "$W/apt-b.out"
[ "$T_FAIL" -eq 0 ] || sed 's/^/#   /' "$W/apt-b.out" | tail -5

INV=$W/repo-a.yaml
repo_inventory "$INV" "$W/A.asc" false
apply "$W/r2" --playbooks "$W/rpb"
check "apply with repo_key A exits 0" [ "$RC" -eq 0 ]
apt_update >"$W/apt-a.out"
check "apt takes the repository signed by its key" grep -q "rc=0" "$W/apt-a.out"
check "... with no signature warning" bash -c "! grep -qE 'NO_PUBKEY|not signed|W: GPG' '$W/apt-a.out'"

INV=$W/repo-none.yaml
repo_inventory "$INV" none false
apply "$W/r3" --playbooks "$W/rpb"
check "a repository without a key stops the run (exit 2)" [ "$RC" -eq 2 ]
check "the pre-flight says what to set" grep -q "set repo_key" "$W/r3.json"
INV=$W/repo-unsigned.yaml
repo_inventory "$INV" none true
apply "$W/r4" --playbooks "$W/rpb"
check "repo_allow_unsigned: true applies (exit 0)" [ "$RC" -eq 0 ]
check "and warns on stderr" grep -q "warning: repo_allow_unsigned is true" "$W/r4.err"
check "korch.list is [trusted=yes] then" on $H 'grep -q "^deb \[trusted=yes\] file:/srv/korch-repo" /etc/apt/sources.list.d/korch.list'
"$KORCH" plan "$INV" --playbooks "$W/rpb" >/dev/null 2>"$W/p4.err"
check "warned again on the next run (plan)" grep -q "warning: repo_allow_unsigned" "$W/p4.err"

[ -n "${KORCH_E2E_KEEP:-}" ] || "$TB" down >&2
finish
