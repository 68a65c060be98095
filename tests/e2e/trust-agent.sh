#!/usr/bin/env bash
# End-to-end: what root runs on a host and which host keys korch accepts,
# on two booted test-bed hosts, as the SSH user ops with become: sudo.
# Usage: trust-agent.sh BUILD_DIR
#
# Swapped agent: ops replaces its copy of the agent with a script that
# prints the right greeting and writes a canary; the next apply never runs
# it as root (the bootstrap runs only root's own copy under
# /var/lib/korch/agent, hashed before each exec; a bad upload is replaced).
# The same with ~ops/.korch world-writable; without become that is refused.
# Pinning: the key seen first is pinned; a changed host key is refused even
# when known_hosts is rewritten to it, until `korch hosts trust`; a
# @revoked key is refused; --accept-new-hostkeys does not add a key of a
# new type for a host known_hosts knows.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

e2e_begin trust-agent "$@"
trap 'rm -rf "$W"' EXIT
PB=$E2E_ROOT/examples/demo/playbooks
SHA=$("$KORCH" version | awk '$1 == "agent" { print $2 }')
PROTO=$(awk '$2 == "KP_VERSION" { print $3 }' "$E2E_ROOT/proto/wire.h")

echo "# booting 2 test-bed hosts"
"$TB" up 2 >&2 || { notok "test bed up 2"; finish; exit 1; }
make_inventory "$INV" --user ops --become etcd,master node
KH=$(awk '/^  known_hosts:/ { print $2 }' "$INV")
A2=$(host_addr node2)
# keyscan ADDR TYPE: "TYPE BASE64" of the host key ADDR offers now, as an
# operator would fetch it (the bed's own ssh checks host keys against $KH,
# so it cannot ask a host whose key changed); fp KEY: its fingerprint.
keyscan() { retry 40 0.5 bash -c 'ssh-keyscan -t "$2" "$1" 2>/dev/null | grep -q .' _ "$1" "$2"; ssh-keyscan -t "$2" "$1" 2>/dev/null | awk '{ print $2 " " $3; exit }'; }
fp() { ssh-keygen -lf /dev/stdin <<<"x $1" | awk '{ print $2 }'; }

# canary_none HOST: no canary written on HOST, by anyone.
canary_none() { [ -z "$(on "$1" 'ls /tmp/korch-canary-* 2>/dev/null')" ]; }
# swap HOST: as ops, replace ops' copy of the agent with an impostor that
# greets with the right build hash and writes a canary file.
swap() {
	printf '#!/bin/sh\ntouch /tmp/korch-canary-$(id -u)\necho "KORCH-AGENT-READY %s %s"\nexec cat\n' \
	    "$PROTO" "$SHA" |
	    on -l ops "$1" "mkdir -p ~/.korch && cat > ~/.korch/agent-$SHA && chmod 0700 ~/.korch/agent-$SHA"
}
# ops_copy_ok HOST: ops' copy of the agent is the real build again.
ops_copy_ok() { [ "$(on -l ops "$1" "sha256sum ~/.korch/agent-$SHA" | cut -c1-64)" = "$SHA" ]; }

# ---- first apply: the agent root runs is root's own copy; keys pinned
apply "$W/a1" --playbooks "$PB"
check "first apply as ops with become exits 0" [ "$RC" -eq 0 ]
check "root's agent directory is root's, 0700" \
    [ "$(on node1 "stat -c '%U %a' /var/lib/korch/agent")" = "root 700" ]
check "root's copy of the agent is root's, 0700, and the build" \
    [ "$(on node1 "stat -c '%U %a' /var/lib/korch/agent/agent-$SHA; sha256sum < /var/lib/korch/agent/agent-$SHA | cut -c1-64" | tr '\n' ' ')" = "root 700 $SHA " ]
check "ops' ~/.korch is 0700" [ "$(on node1 stat -c %a /home/ops/.korch)" = 700 ]
korch hosts1 hosts --json
check "korch hosts --json lists both pins" \
    [ "$(json "$W/hosts1.out" "len(d['hosts'])")" = 2 ]
fp2=$(fp "$(keyscan "$A2" ed25519)")
check "node2 is pinned to its ed25519 key" \
    [ "$(json "$W/hosts1.out" "[h['key_type'] + ' ' + h['fingerprint'] for h in d['hosts'] if h['host'] == 'node2'][0]")" = "ssh-ed25519 $fp2" ]
korch hosts1t hosts
check "korch hosts shows host, address, type, fingerprint, time" \
    awk -v a="$A2" -v f="$fp2" '$1 == "node2" && $2 == a && $3 == "ssh-ed25519" && $4 == f && $5 ~ /^[0-9][0-9][0-9][0-9]-/ { ok = 1 } END { exit !ok }' "$W/hosts1t.out"

# ---- swapped agent, root's copy in place: never run as root
swap node1
# The impostor is there and does write its canary when run (here as ops,
# by hand): so "no canary" below means it did not run.
check "ops' copy is now the impostor" \
    [ "$(on -l ops node1 "sha256sum ~/.korch/agent-$SHA" | cut -c1-64)" != "$SHA" ]
on -l ops node1 "~/.korch/agent-$SHA </dev/null >/dev/null"
check "the impostor writes its canary when it runs" \
    on node1 'test -f /tmp/korch-canary-$(id -u ops)'
on node1 'rm -f /tmp/korch-canary-*'
set_host_var "$INV" node1 greeting swapped-1
apply "$W/s1" --playbooks "$PB"
check "apply with ops' agent swapped exits 0" [ "$RC" -eq 0 ]
check "the swapped agent never ran (no canary)" canary_none node1
check "the change was applied by the real agent" on node1 grep -q swapped-1 /etc/korch-demo/app.conf

# ---- swapped agent, no root copy (a new korch dir): reinstalled
swap node1
on node1 rm -rf /var/lib/korch/agent
set_host_var "$INV" node1 greeting swapped-2
apply "$W/s2" --playbooks "$PB"
check "apply with the swap and no root copy exits 0" [ "$RC" -eq 0 ]
check "the swapped agent never ran (no canary)" canary_none node1
check "korch uploaded the agent again" [ "$(host_field "$W/s2.json" node1 agent_uploaded)" = true ]
check "ops' copy is the real build again" ops_copy_ok node1
check "root's copy is back, the build" \
    [ "$(on node1 "sha256sum < /var/lib/korch/agent/agent-$SHA" | cut -c1-64)" = "$SHA" ]

# ---- ~ops/.korch world-writable, swapped: with become, root's copy runs
swap node1
on node1 chmod 0777 /home/ops/.korch
set_host_var "$INV" node1 greeting swapped-3
apply "$W/s3" --playbooks "$PB"
check "become with a world-writable ~/.korch exits 0" [ "$RC" -eq 0 ]
check "the swapped agent never ran (no canary)" canary_none node1
check "the change was applied" on node1 grep -q swapped-3 /etc/korch-demo/app.conf

# ---- the same without become: refused, clearly
make_inventory "$W/nobecome.yaml" --user ops etcd,master node
"$KORCH" plan "$W/nobecome.yaml" --playbooks "$PB" --json >"$W/nb.json" 2>"$W/nb.err"
check "without become, a world-writable ~/.korch fails the host (exit 2)" [ $? -eq 2 ]
err=$(host_field "$W/nb.json" node1 error)
echo "# node1: $err"
check "the refusal names ~/.korch and what to do" \
    grep -q "/home/ops/.korch must be a directory owned by uid" <<<"$err"
check "node2 (a sane ~/.korch) is reached" [ "$(host_field "$W/nb.json" node2 unreachable)" = false ]
check "the swapped agent never ran as ops either (no canary)" canary_none node1
on node1 chmod 0700 /home/ops/.korch

# ---- pinning: a changed host key, known_hosts rewritten to it: refused
on node2 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh'
new2=$(keyscan "$A2" ed25519)
newfp2=$(fp "$(keyscan "$A2" ed25519)")
ssh-keygen -R "$A2" -f "$KH" >/dev/null 2>&1
ssh-keygen -R node2 -f "$KH" >/dev/null 2>&1
echo "$A2,node2 $new2" >>"$KH"
apply "$W/p1" --playbooks "$PB"
check "a changed host key is refused despite known_hosts (exit 2)" \
    bash -c '[ "$1" -eq 2 ] && [ -n "$2" ] && grep -qF "$2" "$3"' _ "$RC" "$new2" "$KH"
err=$(host_field "$W/p1.json" node2 error)
echo "# node2: $err"
check "the refusal names the pin, the new key and korch hosts trust" \
    bash -c 'grep -qF "pinned ssh-ed25519 $2" <<<"$1" && grep -qF "$3" <<<"$1" && grep -q "korch hosts trust node2" <<<"$1"' _ "$err" "$fp2" "$newfp2"
check "node1 converged meanwhile" [ "$(host_field "$W/p1.json" node1 failed)" -eq 0 ]
korch trust1 hosts trust node2
check "korch hosts trust node2 exits 0" [ "$RC" -eq 0 ]
korch trust2 hosts trust node2
check "trusting a host with no pin says so (exit 1)" \
    bash -c '[ "$1" -eq 1 ] && grep -q "no host key is pinned for node2" "$2"' _ "$RC" "$W/trust2.err"
apply "$W/p2" --playbooks "$PB"
check "after korch hosts trust, the new key is accepted" [ "$RC" -eq 0 ]
korch hosts2 hosts --json
check "node2 is pinned to its new key" \
    [ "$(json "$W/hosts2.out" "[h['fingerprint'] for h in d['hosts'] if h['host'] == 'node2'][0]")" = "$newfp2" ]

# ---- a revoked key is refused, even though known_hosts lists it
cp "$KH" "$W/kh.saved"
echo "@revoked * $new2" >>"$KH"
apply "$W/r1" --playbooks "$PB"
check "a @revoked key is refused (exit 2)" [ "$RC" -eq 2 ]
check "the refusal says revoked" grep -q "is revoked" <<<"$(host_field "$W/r1.json" node2 error)"
cp "$W/kh.saved" "$KH"

# ---- a new key type for a known host is not added by --accept-new-hostkeys
on node2 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -q -t ecdsa -N "" -f /etc/ssh/ssh_host_ecdsa_key && systemctl restart ssh'
check "node2's sshd offers its new ECDSA key" [ -n "$(keyscan "$A2" ecdsa)" ]
"$KORCH" hosts trust node2 >/dev/null	# not the pin: known_hosts decides
apply "$W/t1" --playbooks "$PB" --accept-new-hostkeys
check "--accept-new-hostkeys refuses a new key type for a known host (exit 2)" [ "$RC" -eq 2 ]
err=$(host_field "$W/t1.json" node2 error)
echo "# node2: $err"
check "the refusal names both key types" \
    bash -c 'grep -q "offered a ecdsa-sha2-nistp256 key" <<<"$1" && grep -q "has its ssh-ed25519 key" <<<"$1"' _ "$err"
check "nothing was added to known_hosts" cmp -s "$KH" "$W/kh.saved"

"$TB" down >&2
finish
