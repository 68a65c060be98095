# shellcheck shell=bash
# Sourced by run.sh after apply.sh ($T, $PORT, $BUILD, $ROOT, $K,
# it_inventory, a_check, a_json): what the agent does when its controller
# goes away, and the host lock between controllers.
#   - a controller killed (-9) while its step's command (timeout 0) runs:
#     the command is gone from the host within seconds;
#   - the step timeout: the controller gives up, the command goes too;
#   - a second controller (another state) is refused while the first
#     drives the host, naming it; once the first ended, it runs.
# Prints the figures as "# " lines.
PBL=$ROOT/tests/integration/playbook-long
S_ROOT=$T/long
mkdir -p "$S_ROOT"

# long_inv FILE SECS: the host, running a sleep of SECS seconds.
long_inv() { it_inventory "$1" "{ root: $S_ROOT, secs: \"$2\" }"; }

# wait_file PATH TRIES: PATH is there and not empty within TRIES * 0.1 s.
wait_file() {
	local i=0
	while [ $i -lt "$2" ]; do
		[ -s "$1" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# gone_within PID TENTHS: ms it took for PID to go (or a zombie), or fail.
gone_ms() {
	local pid=$1 max=$2 t0 i=0 st
	t0=$(date +%s%N)
	while [ $i -lt "$max" ]; do
		st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || st=
		if [ -z "$st" ] || [ "$st" = Z ]; then
			echo $(( ($(date +%s%N) - t0) / 1000000 ))
			return 0
		fi
		sleep 0.05; i=$((i + 1))
	done
	return 1
}

# ---- the controller killed mid-step --------------------------------------
long_inv "$T/inv-long.yaml" 300
rm -f "$S_ROOT/long.pid"
KORCH_STATE=$T/state-long.db "$K" apply "$T/inv-long.yaml" --playbooks "$PBL" \
    >"$T/long1.out" 2>"$T/apply.err" &
CTL=$!
a_check "orphan: the long command started" wait_file "$S_ROOT/long.pid" 300
SLEEP_PID=$(cat "$S_ROOT/long.pid" 2>/dev/null)
a_check "orphan: it runs while its controller lives" \
    [ -n "$SLEEP_PID" ] && kill -0 "$SLEEP_PID" 2>/dev/null
kill -9 "$CTL"; wait "$CTL" 2>/dev/null
ms=$(gone_ms "$SLEEP_PID" 300)
a_check "orphan: the command is gone within 15 s of kill -9 of its controller" [ -n "$ms" ]
echo "# orphan: sleep gone ${ms:-never} ms after the controller's kill -9"
kill -9 "$SLEEP_PID" 2>/dev/null

# ---- the step timeout ----------------------------------------------------
rm -f "$S_ROOT/long.pid"
t0=$(date +%s)
KORCH_STATE=$T/state-long.db "$K" apply "$T/inv-long.yaml" --playbooks "$PBL" \
    --step-timeout 2 --json >"$T/long2.json" 2>"$T/apply.err"
rc=$?
SLEEP_PID=$(cat "$S_ROOT/long.pid" 2>/dev/null)
a_check "step timeout: apply fails" [ "$rc" -ne 0 ]
a_check "step timeout: the host's error says the step ran too long" \
    bash -c "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"hosts\"][0].get(\"error\") or \"\")' '$T/long2.json' | grep -q 'a step ran longer than 2 s'"
ms=$(gone_ms "$SLEEP_PID" 300)
a_check "step timeout: the command is gone within 15 s of the controller giving up" \
    [ -n "$SLEEP_PID" ] && [ -n "$ms" ]
echo "# step timeout: apply took $(( $(date +%s) - t0 )) s; sleep gone ${ms:-never} ms after it returned"
[ -n "$SLEEP_PID" ] && kill -9 "$SLEEP_PID" 2>/dev/null

# ---- the host lock -------------------------------------------------------
long_inv "$T/inv-lock.yaml" 8
rm -f "$S_ROOT/long.pid"
KORCH_STATE=$T/state-lock-a.db "$K" apply "$T/inv-lock.yaml" --playbooks "$PBL" \
    >"$T/lock-a.out" 2>"$T/lock-a.err" &
CTL=$!
a_check "host lock: the first controller drives the host" wait_file "$S_ROOT/long.pid" 300
KORCH_STATE=$T/state-lock-b.db "$K" apply "$T/inv.yaml" --playbooks "$PB" \
    --json >"$T/lock-b.json" 2>"$T/apply.err"
rc=$?
err=$(a_json "$T/lock-b.json" "d['hosts'][0].get('error') or ''" 2>/dev/null)
echo "# host lock: second controller's error: $err"
a_check "host lock: a second controller (another state) is refused" [ "$rc" -ne 0 ]
a_check "host lock: the refusal names the first controller's pid and state" \
    bash -c "case \"\$1\" in *'host locked by korch pid $CTL on '*'(state $T/state-lock-a.db, run '*') since '*) ;; *) exit 1;; esac" _ "$err"
a_check "host lock: the refused run changed nothing on the host" \
    [ "$(a_json "$T/lock-b.json" "d['hosts'][0]['changed']")" -eq 0 ]
wait "$CTL"
a_check "host lock: the first controller converged" [ $? -eq 0 ]
KORCH_STATE=$T/state-lock-b.db "$K" apply "$T/inv.yaml" --playbooks "$PB" \
    --json >"$T/lock-c.json" 2>"$T/apply.err"
a_check "host lock: once the first ended, the second runs" [ $? -eq 0 ]
# A lock left by a killed controller (the file still names it) is taken over.
rm -f "$S_ROOT/long.pid"
long_inv "$T/inv-lock.yaml" 300
KORCH_STATE=$T/state-lock-a.db "$K" apply "$T/inv-lock.yaml" --playbooks "$PBL" \
    >"$T/lock-d.out" 2>"$T/apply.err" &
CTL=$!
wait_file "$S_ROOT/long.pid" 300
kill -9 "$CTL"; wait "$CTL" 2>/dev/null
SLEEP_PID=$(cat "$S_ROOT/long.pid" 2>/dev/null)
gone_ms "$SLEEP_PID" 300 >/dev/null
# the agent exits once its command is killed; give it its grace
sleep 1
cp "$T/host.lock" "$T/host.lock.before" 2>/dev/null
KORCH_STATE=$T/state-lock-b.db "$K" apply "$T/inv.yaml" --playbooks "$PB" \
    >"$T/lock-e.out" 2>"$T/apply.err"
a_check "host lock: a killed controller's lock is taken over" [ $? -eq 0 ]
a_check "host lock: the file still named the killed holder before that" \
    grep -qx "pid=$CTL" "$T/host.lock.before"
