#!/usr/bin/env bash
# tests/valgrind-agent.sh [BUILD_DIR] - the agent's serve loop under
# valgrind memcheck, on a recorded session: the bytes a real controller
# sent to its agent in one integration apply (every module the
# integration playbook uses, then BYE; tests/integration/record.sh made
# tests/integration/data/agent-session.rec) are fed to
# `korch-agent-glibc serve` (the unsanitized glibc build: valgrind and
# ASan do not mix, and a static binary hides malloc from valgrind).
# The session's host paths are under /var/tmp/korch-agent-replay: as
# root that is a tmpfs in a mount namespace of this script's own, so
# concurrent runs do not meet.  Passes when valgrind finds 0 errors, no
# leak, and the agent did the session's work and ended it cleanly.
# Prints TAP and the error counts.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
REC=$ROOT/tests/integration/data/agent-session.rec
REPLAY_ROOT=/var/tmp/korch-agent-replay
AGENT=$BUILD/korch-agent-glibc
pass=0 fail=0
check() { if eval "$2"; then echo "ok - $1"; pass=$((pass + 1)); else echo "not ok - $1"; fail=$((fail + 1)); fi; }

command -v valgrind >/dev/null || { echo "not ok - valgrind not installed (apt-get install valgrind)"; echo "0 passed, 1 failed"; exit 1; }
make -C "$ROOT" --no-print-directory BUILD="$BUILD" "$AGENT" >/dev/null || { echo "not ok - cannot build $AGENT"; exit 1; }
if ldd "$AGENT" | grep -q libasan; then echo "not ok - $AGENT is sanitized; give an unsanitized build dir"; exit 1; fi
W=$(mktemp -d "${TMPDIR:-/tmp}/korch-vg.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/procsys/net/ipv4" "$W/bin"
echo 0 > "$W/procsys/net/ipv4/ip_forward"
printf '#!/bin/sh\nexit 0\n' > "$W/bin/systemctl"; chmod 755 "$W/bin/systemctl"

clean_root() {	# empty it (it may be a mount point)
	mkdir -p "$REPLAY_ROOT" && find "$REPLAY_ROOT" -mindepth 1 -delete
}
run_replay() {
	clean_root
	env KORCH_AGENT_PROCSYS="$W/procsys" KORCH_AGENT_SYSTEMCTL="$W/bin/systemctl" \
	    KORCH_AGENT_LOCK="$W/host.lock" \
	    valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	    --errors-for-leak-kinds=definite,indirect --track-fds=no \
	    --log-file="$W/vg.log" "$AGENT" serve < "$REC" > "$W/out.bin"
	echo $? > "$W/rc"
	[ -f "$REPLAY_ROOT/etc/app/app.conf" ] && echo yes > "$W/did"
	clean_root
}
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	export -f run_replay clean_root; export W AGENT REC REPLAY_ROOT
	unshare -m bash -c 'mkdir -p "$REPLAY_ROOT" && mount --make-rprivate / && mount -t tmpfs tmpfs "$REPLAY_ROOT" && run_replay'
else
	run_replay
fi
rc=$(cat "$W/rc" 2>/dev/null || echo none)
errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$W/vg.log" | tail -1)
lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$W/vg.log" | tail -1)
echo "# valgrind memcheck of the agent on $(wc -c < "$REC") recorded bytes: ${errs:-?} errors, definitely lost ${lost:-0} bytes, exit $rc"
check "valgrind: 0 errors in the agent's serve loop" '[ "${errs:-x}" = 0 ]'
check "valgrind: the agent ended the session cleanly (exit 0)" '[ "$rc" = 0 ]'
check "valgrind: the replayed session did its work (app.conf written)" '[ -f "$W/did" ]'
[ "$fail" = 0 ] || tail -40 "$W/vg.log" | sed 's/^/# /'
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
