# shellcheck shell=bash
# Sourced by run.sh once its throwaway sshd is up ($T, $PORT, $BUILD, $ROOT):
# `korch apply` / `plan` / `status` end to end, controller -> sshd -> the
# real static agent, under the build's korch (run.sh is given the ASan+UBSan
# build by make check).  The agent's systemctl and /proc/sys are redirected
# by the sshd's SetEnv (KORCH_AGENT_SYSTEMCTL, KORCH_AGENT_PROCSYS), so no
# root and no systemd are needed; the real ones are covered on the test bed.
A_PASS=0
A_FAIL=0
a_check() {
	local what=$1; shift
	if "$@"; then
		echo "ok - [apply] $what"; A_PASS=$((A_PASS + 1))
	else
		echo "not ok - [apply] $what"; A_FAIL=$((A_FAIL + 1))
		sed 's/^/#   /' "$T/apply.err" 2>/dev/null | tail -15
	fi
}
a_json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"
}
# it_inventory FILE HOST-VARS [CLUSTER-VARS]: an inventory of the one host
# "local" (127.0.0.1, this sshd, role node) with vars HOST-VARS, and the
# cluster "it" with vars CLUSTER-VARS (YAML flow mappings).
it_inventory() {
	{
		printf 'cluster:\n  name: it\n'
		[ -z "${3:-}" ] || printf '  vars: %s\n' "$3"
		cat <<EOF
ssh:
  user: $(id -un)
  port: $PORT
  private_key: $T/id_ed25519
  known_hosts: $T/known_hosts
hosts:
  - name: local
    address: 127.0.0.1
    roles: [node]
    vars: $2
EOF
	} > "$1"
}

# A systemctl stand-in that keeps unit state in files and logs each call.
cat > "$T/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >> '$T/systemctl.log'
u=\$2; d='$T/units.state'; mkdir -p "\$d"
case \$1 in
is-enabled) [ -f "\$d/\$u.enabled" ] ;;
is-active) [ -f "\$d/\$u.active" ] ;;
enable) touch "\$d/\$u.enabled" ;;
start|restart) touch "\$d/\$u.active" ;;
stop) rm -f "\$d/\$u.active" ;;
daemon-reload) : ;;
*) exit 0 ;;
esac
EOF
chmod 755 "$T/bin/systemctl"
mkdir -p "$T/procsys/net/ipv4" "$T/target"
echo 0 > "$T/procsys/net/ipv4/ip_forward"
: > "$T/systemctl.log"

it_inventory "$T/inv.yaml" "{ root: $T/target }" "{ color: blue }"
export KORCH_STATE=$T/state.db
rm -rf "$T/home/.korch"
PB=$ROOT/tests/integration/playbook
K=$BUILD/korch

"$K" apply "$T/inv.yaml" --playbooks "$PB" --json >"$T/a1.json" 2>"$T/apply.err"
a_check "first apply exits 0" [ $? -eq 0 ]
a_check "first apply changed every task" [ "$(a_json "$T/a1.json" "d['hosts'][0]['changed']")" -eq 7 ]
a_check "agent uploaded" [ "$(a_json "$T/a1.json" "d['hosts'][0]['agent_uploaded']")" = True ]
a_check "template rendered with host and cluster vars" \
    grep -q "written by korch for local in cluster it" "$T/target/etc/app/app.conf"
a_check "file mode applied" [ "$(stat -c %a "$T/target/etc/app/app.conf")" = 640 ]
a_check "env file line" grep -qx 'OPTIONS="--color blue"' "$T/target/etc/app/env"
a_check "live sysctl set" [ "$(cat "$T/procsys/net/ipv4/ip_forward")" = 1 ]
a_check "service enabled and started after daemon-reload" \
    bash -c "grep -q daemon-reload '$T/systemctl.log' && grep -q '^enable it-app' '$T/systemctl.log' && grep -q '^start it-app' '$T/systemctl.log'"

: > "$T/systemctl.log"
"$K" apply "$T/inv.yaml" --playbooks "$PB" --json >"$T/a2.json" 2>"$T/apply.err"
a_check "second apply exits 0" [ $? -eq 0 ]
a_check "second apply: 0 changed" [ "$(a_json "$T/a2.json" "d['hosts'][0]['changed']")" -eq 0 ]
a_check "second apply: agent not uploaded again" [ "$(a_json "$T/a2.json" "d['hosts'][0]['agent_uploaded']")" = False ]
a_check "second apply: no restart, no daemon-reload" \
    bash -c "! grep -qE 'restart|daemon-reload' '$T/systemctl.log'"

# Drift on the host: plan sees it and changes nothing; apply repairs it
# and restarts the service watching the file.
echo "tampered" > "$T/target/etc/app/app.conf"
"$K" plan "$T/inv.yaml" --playbooks "$PB" >"$T/plan.out" 2>"$T/apply.err"
a_check "plan exits 0" [ $? -eq 0 ]
a_check "plan shows the drift as a diff" grep -q -- "-tampered" "$T/plan.out"
a_check "plan changed nothing" grep -qx tampered "$T/target/etc/app/app.conf"
: > "$T/systemctl.log"
"$K" apply "$T/inv.yaml" --playbooks "$PB" --json >"$T/a3.json" 2>"$T/apply.err"
a_check "apply repairs drift" grep -q "color = blue" "$T/target/etc/app/app.conf"
a_check "watched change restarts the service" grep -q '^restart it-app' "$T/systemctl.log"
a_check "only the drifted file and the restart changed" \
    [ "$(a_json "$T/a3.json" "d['hosts'][0]['changed']")" -eq 2 ]

"$K" status --json >"$T/s.json" 2>"$T/apply.err"
a_check "status exits 0" [ $? -eq 0 ]
a_check "status knows the host and its facts" \
    [ "$(a_json "$T/s.json" "d['hosts'][0]['facts']['os_id'] != '' and d['hosts'][0]['reachable']")" = True ]
a_check "status lists observed tasks" [ "$(a_json "$T/s.json" "len(d['hosts'][0]['tasks'])")" -eq 7 ]

# ---- fetch: a file from the host back to the controller ----------------------
# The "host" is 127.0.0.1, so the source (written on the host's side) and
# the copy (the controller's) both live under $T, in different trees.
PBF=$ROOT/tests/integration/playbook-fetch
fetch_inv() {	# fetch_inv FILE SRC DEST
	it_inventory "$1" "{ root: $T/target, fetch_src: \"$2\", fetch_dest: \"$3\" }"
}
F_SRC=$T/target/var/lib/etcd/snapshot.db
F_DEST=$T/controller/backups/local/snapshot.db
mkdir -p "$(dirname "$F_SRC")"
# 3 MiB and a bit: three full chunks and a short last one.
head -c $((3 * 1048576 + 12345)) /dev/urandom > "$F_SRC"
fetch_inv "$T/inv-fetch.yaml" "$F_SRC" "$F_DEST"
rm -f "$T/target/after-backup"

"$K" plan "$T/inv-fetch.yaml" --playbooks "$PBF" >"$T/fplan.out" 2>"$T/apply.err"
a_check "fetch: plan exits 0" [ $? -eq 0 ]
a_check "fetch: plan says what it would fetch, copies nothing" \
    bash -c "grep -q 'would fetch $((3 * 1048576 + 12345)) bytes' '$T/fplan.out' && [ ! -e '$F_DEST' ] && [ ! -e '$F_DEST.part' ]"

"$K" apply "$T/inv-fetch.yaml" --playbooks "$PBF" --json >"$T/f1.json" 2>"$T/apply.err"
a_check "fetch: apply exits 0" [ $? -eq 0 ]
a_check "fetch: the copy's sha256 matches the host's file" \
    [ "$(sha256sum < "$F_DEST" 2>/dev/null | cut -d' ' -f1)" = "$(sha256sum < "$F_SRC" | cut -d' ' -f1)" ]
a_check "fetch: the result reports that sha256" \
    [ "$(a_json "$T/f1.json" "[t['message'] for t in d['hosts'][0]['tasks'] if t['task'] == 'backup/snapshot'][0]")" = \
      "fetched $((3 * 1048576 + 12345)) bytes sha256=$(sha256sum < "$F_SRC" | cut -d' ' -f1)" ]
a_check "fetch: copy is 0600 in a 0700 directory, no .part left" \
    bash -c "[ \"\$(stat -c %a '$F_DEST')\" = 600 ] && [ \"\$(stat -c %a '$(dirname "$F_DEST")')\" = 700 ] && [ ! -e '$F_DEST.part' ]"
a_check "fetch: the step that needs the copy ran" [ -f "$T/target/after-backup" ]

# A path that is not there: a clear failure, no copy, no .part, and the
# step that needs the copy does not run.
F_DEST2=$T/controller/backups/missing/snapshot.db
fetch_inv "$T/inv-fetch2.yaml" "$T/target/var/lib/etcd/no-such.db" "$F_DEST2"
rm -f "$T/target/after-backup"
"$K" apply "$T/inv-fetch2.yaml" --playbooks "$PBF" --json >"$T/f2.json" 2>"$T/apply.err"
a_check "fetch missing: apply fails" [ $? -ne 0 ]
a_check "fetch missing: the task failed saying the file is missing" \
    [ "$(a_json "$T/f2.json" "[t['status'] + ': ' + t['message'] for t in d['hosts'][0]['tasks'] if t['task'] == 'backup/snapshot'][0]")" = \
      "failed: $T/target/var/lib/etcd/no-such.db: No such file or directory" ]
a_check "fetch missing: no copy and no .part" \
    bash -c "[ ! -e '$F_DEST2' ] && [ ! -e '$F_DEST2.part' ]"
a_check "fetch missing: the step that needs the copy did not run" \
    [ ! -e "$T/target/after-backup" ]

# The agent sends the file fine but the controller cannot write the copy
# (a file where dest's directory should be): the controller fails the
# task, removes the .part, and the step that needs the copy is not run
# although the agent counted the fetch a success.
mkdir -p "$T/controller"
: > "$T/controller/blocker"
F_DEST3=$T/controller/blocker/snapshot.db
fetch_inv "$T/inv-fetch3.yaml" "$F_SRC" "$F_DEST3"
rm -f "$T/target/after-backup"
"$K" apply "$T/inv-fetch3.yaml" --playbooks "$PBF" --json >"$T/f3.json" 2>"$T/apply.err"
a_check "fetch unwritable: apply fails" [ $? -ne 0 ]
a_check "fetch unwritable: the controller failed the task, saying why" \
    bash -c "a=\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([t[\"status\"] + \": \" + t[\"message\"] for t in d[\"hosts\"][0][\"tasks\"] if t[\"task\"] == \"backup/snapshot\"][0])' '$T/f3.json'); case \$a in 'failed: fetch to $F_DEST3 failed: '*'Not a directory') ;; *) echo \"# got: \$a\"; exit 1;; esac"
a_check "fetch unwritable: the step that needs the copy did not run" \
    [ ! -e "$T/target/after-backup" ]
