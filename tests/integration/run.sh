#!/usr/bin/env bash
# tests/integration/run.sh BUILD_DIR [BUILD_DIR...]
#
# Integration tests of the SSH transport (controller/ssh/) against a
# throwaway OpenSSH sshd on 127.0.0.1, started here with its own config,
# host keys, authorized_keys and $HOME in a temp dir.  Works as root and
# unprivileged (then it logs in as the current user).
#
# Runs BUILD_DIR/tests/ssh_driver of every BUILD_DIR given (the Makefile
# builds it from the controller's objects: `make it-bin`, or `make
# integration` for plain and ASan+UBSan), then `korch apply` through the
# sshd with the first BUILD_DIR's korch.  Prints TAP lines and a final
# "N passed, M failed"; exits non-zero on any failure.
#
# Env: SSH_DRIVER_ONLY (substring filter of test groups: hostkey upload
# echo noise mismatch auth connect resolve agentauth sudo pin markers
# swapped timeout real concurrent race bastion).  KORCH_AGENT_BIN: a real korch-agent to check
# greeting interop with (default BUILD_DIR/korch-agent when it exists),
# KORCH_DEBUG=1 for state-change logs, IT_KEEP=1 to keep the temp dir (sshd
# config and logs).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SSHD=${SSHD:-/usr/sbin/sshd}

fail() { echo "not ok - $*"; echo "0 passed, 1 failed"; exit 1; }

for tool in "$SSHD" ssh-keygen; do
	command -v "$tool" >/dev/null 2>&1 || fail "integration: $tool not found (apt-get install openssh-server openssh-client)"
done

[ $# -ge 1 ] || fail "usage: run.sh BUILD_DIR [BUILD_DIR...]"
DRIVERS=
for b in "$@"; do
	case $b in /*) ;; *) b=$ROOT/$b ;; esac
	[ -x "$b/tests/ssh_driver" ] ||
	    fail "no $b/tests/ssh_driver (make BUILD=$b it-bin)"
	DRIVERS="$DRIVERS $b/tests/ssh_driver"
done
BUILD=$1
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

# ---- a throwaway sshd -------------------------------------------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/korch-it.XXXXXX") || fail "mktemp"
SSHD_PID=
AGENT_PID=
cleanup() {
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
	[ -n "${IT_KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT INT TERM
chmod 755 "$T"

ssh-keygen -q -t ed25519 -N '' -C it-host -f "$T/host_ed25519" || fail keygen
ssh-keygen -q -t ed25519 -N '' -C it-other -f "$T/other_host" || fail keygen
ssh-keygen -q -t ed25519 -N '' -C it-user -f "$T/id_ed25519" || fail keygen
ssh-keygen -q -t ed25519 -N '' -C it-wrong -f "$T/wrong_ed25519" || fail keygen
ssh-keygen -q -t ecdsa -N '' -C it-ecdsa -f "$T/other_ecdsa" || fail keygen
cp "$T/id_ed25519.pub" "$T/authorized_keys"
cp "$T/id_ed25519" "$T/id_nopub"	# libssh2 must derive the public half

# An ssh-agent holding the wrong key first, then the right one.
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; then
	ssh-agent -a "$T/agent.sock" > "$T/agent.env" 2>/dev/null &&
	AGENT_PID=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$T/agent.env") &&
	SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/wrong_ed25519" 2>/dev/null &&
	SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/id_ed25519" 2>/dev/null &&
	export IT_AGENT_SOCK=$T/agent.sock
fi
unset SSH_AUTH_SOCK
mkdir -p "$T/home"

# The login shell's rc prints noise to stdout while $T/noise.on exists,
# like a .bashrc that echoes a banner.  Debian's bash sources ~/.bashrc
# for commands run by sshd; other bash builds read $BASH_ENV (set below).
# The driver skips the noise tests if the login shell reads neither.
cat > "$T/noise.rc" <<EOF
if [ -f '$T/noise.on' ]; then echo 'Welcome to the noisy host!'; echo 'Last login: never'; fi
EOF

printf '. "%s"\n' "$T/noise.rc" > "$T/home/.bashrc"

# A stand-in sudo first on the session's PATH: runs the command as is, or,
# while $T/sudo.deny exists, answers like `sudo -n` without NOPASSWD.
mkdir -p "$T/bin"
cat > "$T/bin/sudo" <<EOF
#!/bin/sh
[ "\$1" = -n ] || { echo "fake sudo: expected -n" >&2; exit 2; }
shift
if [ -f '$T/sudo.deny' ]; then echo 'sudo: a password is required' >&2; exit 1; fi
# record.sh: the bytes the controller sends, for one session
if [ -f '$T/record.to' ]; then
	f=\$(cat '$T/record.to'); rm -f '$T/record.to'
	tee "\$f" | "\$@"; exit
fi
exec "\$@"
EOF
chmod 755 "$T/bin/sudo"

if [ "$(id -u)" = 0 ]; then
	mkdir -p /run/sshd 2>/dev/null
	chmod 755 /run/sshd 2>/dev/null
fi

start_sshd() {
	PORT=$1
	cat > "$T/sshd_config" <<EOF
ListenAddress 127.0.0.1:$PORT
HostKey $T/host_ed25519
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile $T/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
MaxStartups 500
MaxSessions 200
UseDNS no
LogLevel ERROR
SetEnv HOME=$T/home BASH_ENV=$T/noise.rc PATH=$T/bin:/usr/local/bin:/usr/bin:/bin KORCH_AGENT_PROCSYS=$T/procsys KORCH_AGENT_SYSTEMCTL=$T/bin/systemctl KORCH_AGENT_LOCK=$T/host.lock ASAN_OPTIONS=log_path=$T/agent-san:detect_leaks=1 UBSAN_OPTIONS=log_path=$T/agent-san:print_stacktrace=1:halt_on_error=1
Subsystem sftp internal-sftp -d $T/home
EOF
	"$SSHD" -D -e -f "$T/sshd_config" 2>>"$T/sshd.log" &
	SSHD_PID=$!
	i=0
	while [ $i -lt 50 ]; do
		if ! kill -0 "$SSHD_PID" 2>/dev/null; then
			SSHD_PID=
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# A free port: try a few random ones (sshd exits if the bind fails).
PORT=
for _ in 1 2 3 4 5 6 7 8; do
	p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 ))
	if start_sshd "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || fail "could not start sshd: $(tail -3 "$T/sshd.log")"

# known_hosts files for the driver: plain and hashed.
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/known_hosts"
cp "$T/known_hosts" "$T/known_hosts_hashed"
ssh-keygen -q -H -f "$T/known_hosts_hashed" >/dev/null 2>&1 || fail "ssh-keygen -H"
rm -f "$T/known_hosts_hashed.old"

# ---- run ------------------------------------------------------------------------
total_pass=0
total_fail=0
for d in $DRIVERS; do
	# Named for its build dir: ssh_driver@build, ssh_driver@san.
	name=ssh_driver@$(basename "$(dirname "$(dirname "$d")")")
	rm -rf "$T/home/.korch"
	# The real agent too, if this build dir has one (greeting interop).
	if [ -x "$BUILD/korch-agent" ] && [ -z "${KORCH_AGENT_BIN:-}" ]; then
		export KORCH_AGENT_BIN=$BUILD/korch-agent
	fi
	"$d" "$PORT" "$T" > "$T/$name.out" 2>"$T/$name.err"
	rc=$?
	sed -e "s/^\(ok\|not ok\) [0-9]* - /\1 - [$name] /" -e '/^1\.\./d' \
	    -e '/passed, .* failed$/d' "$T/$name.out"
	p=$(grep -c '^ok ' "$T/$name.out")
	f=$(grep -c '^not ok ' "$T/$name.out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - [$name] driver exited with status $rc"
		sed 's/^/# /' "$T/$name.err" | tail -40
		f=1
	elif [ -s "$T/$name.err" ] && [ "$f" != 0 ]; then
		sed 's/^/# /' "$T/$name.err" | tail -20
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
done
# ---- test hooks: honoured by test builds (make TEST_HOOKS=1) only -----------
# A release korch must upload only the agent it carries, and its agent must
# not let the environment pick what it runs or writes as root.  `korch
# version` says which flavour a build is; the plain build/ that `make all`
# makes must be the release one.
h_check() {
	local what=$1; shift
	if "$@"; then echo "ok - [hooks] $what"; total_pass=$((total_pass + 1))
	else echo "not ok - [hooks] $what"; total_fail=$((total_fail + 1)); fi
}
printf '#!/bin/sh\necho not the agent\n' > "$T/fake-agent"
fake_sha=$(sha256sum < "$T/fake-agent" | cut -c1-64)
for b in "$@"; do
	case $b in /*) ;; *) b=$ROOT/$b ;; esac
	[ -x "$b/korch" ] || continue
	n=$(basename "$b")
	real=$(env -u KORCH_AGENT_IMAGE "$b/korch" version | awk '$1 == "agent" { print $2 }')
	got=$(KORCH_AGENT_IMAGE=$T/fake-agent "$b/korch" version | awk '$1 == "agent" { print $2 }')
	if "$b/korch" version | grep -q '^test build:'; then
		h_check "$n (test build) honours KORCH_AGENT_IMAGE" [ "$got" = "$fake_sha" ]
		h_check "$n (test build): its agent has the systemctl and /proc/sys hooks" \
		    grep -qa KORCH_AGENT_SYSTEMCTL "$b/korch"
	else
		h_check "$n (release) ignores KORCH_AGENT_IMAGE: uploads its own agent" \
		    [ -n "$real" -a "$got" = "$real" ]
		h_check "$n (release): neither korch nor its agent reads a test hook" \
		    bash -c '! grep -qaE "KORCH_AGENT_(IMAGE|SYSTEMCTL|PROCSYS)" "$1/korch" "$1/korch-agent"' _ "$b"
	fi
	if [ "$b" = "$ROOT/build" ]; then
		h_check "build/korch (what make all makes) is a release build" \
		    bash -c '! "$1/korch" version | grep -q "^test build:"' _ "$b"
	fi
done

# ---- korch apply end to end through this sshd (when BUILD has korch) --------
if [ -x "$BUILD/korch" ]; then
	rm -f "$T/noise.on" "$T/sudo.deny"
	# A sanitized build's agent (glibc, ASan+UBSan) is the one korch
	# uploads, so the agent's serve loop runs under the sanitizers
	# through every session below; they log to $T/agent-san.* (sshd's
	# SetEnv), and any such file fails the suite.
	SAN_AGENT=
	if [ -z "${KORCH_AGENT_IMAGE:-}" ] && [ -x "$BUILD/korch-agent-glibc" ] &&
	    ldd "$BUILD/korch-agent-glibc" 2>/dev/null | grep -q libasan; then
		export KORCH_AGENT_IMAGE=$BUILD/korch-agent-glibc
		SAN_AGENT=1
	fi
	. "$ROOT/tests/integration/apply.sh"
	. "$ROOT/tests/integration/session.sh"
	. "$ROOT/tests/integration/statedb.sh"
	[ -z "${IT_RECORD:-}" ] || . "$ROOT/tests/integration/record.sh"
	if [ -n "$SAN_AGENT" ]; then
		n=$(ls "$T"/agent-san.* 2>/dev/null | wc -l)
		echo "# agent under ASan+UBSan: $n sanitizer reports"
		a_check "the sanitized agent reported nothing (ASan+UBSan)" [ "$n" -eq 0 ]
		[ "$n" -eq 0 ] || head -40 "$T"/agent-san.* | sed 's/^/#   /'
	fi
	unset KORCH_AGENT_IMAGE
	total_pass=$((total_pass + A_PASS))
	total_fail=$((total_fail + A_FAIL))
fi

if [ "$total_fail" != 0 ] && [ -s "$T/sshd.log" ]; then
	echo "# sshd log:"
	tail -20 "$T/sshd.log" | sed 's/^/#   /'
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
