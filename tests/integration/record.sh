# shellcheck shell=bash
# Sourced by run.sh when IT_RECORD=1: record the bytes a controller sends
# to its agent in one real session (the integration playbook's first
# apply, through sudo, whose stand-in tees the agent's stdin) into
# tests/integration/data/agent-session.rec, for tests/valgrind-agent.sh to
# replay into the agent under valgrind.  The host root is the fixed
# REPLAY_ROOT so the replay can give the agent the same paths (in a
# mount namespace of its own).
REPLAY_ROOT=/var/tmp/korch-agent-replay
REC=$ROOT/tests/integration/data/agent-session.rec
rm -rf "$REPLAY_ROOT"
mkdir -p "$REPLAY_ROOT"
cat > "$T/inv-rec.yaml" <<EOI
cluster:
  name: it
  vars: { color: blue }
ssh:
  user: $(id -un)
  port: $PORT
  private_key: $T/id_ed25519
  known_hosts: $T/known_hosts
  become: sudo
hosts:
  - name: local
    address: 127.0.0.1
    roles: [node]
    vars: { root: $REPLAY_ROOT }
EOI
# the agent must be on the host already: one session, not an upload
KORCH_STATE=$T/state-rec0.db "$K" apply "$T/inv-rec.yaml" --playbooks "$PB" >/dev/null 2>&1
rm -rf "$REPLAY_ROOT"; mkdir -p "$REPLAY_ROOT"
echo "$REC" > "$T/record.to"
KORCH_STATE=$T/state-rec.db "$K" apply "$T/inv-rec.yaml" --playbooks "$PB" >"$T/rec.out" 2>"$T/apply.err"
a_check "record: the recorded apply converged" [ $? -eq 0 ]
a_check "record: the session was recorded" [ -s "$REC" ] && [ ! -e "$T/record.to" ]
echo "# record: $(wc -c < "$REC") bytes into $REC"
rm -rf "$REPLAY_ROOT"
