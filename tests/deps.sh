#!/usr/bin/env bash
# Install every Debian package the build, the tests and the test bed need.
# Idempotent and quiet when everything is already there.
set -euo pipefail

pkgs=(
	# build
	gcc make pkg-config musl-tools
	libssh2-1-dev libssl-dev libyaml-dev libevent-dev libsqlite3-dev
	# tests
	libcmocka-dev clang libclang-rt-14-dev sqlite3 openssh-server openssh-client
	python3 curl
	# test bed
	systemd-container debootstrap debian-archive-keyring iproute2 iptables nftables util-linux openssl
	procps psmisc kmod
	# the real Kubernetes binaries, built from Debian's source (tests/kube/build)
	golang-go rsync dpkg-dev
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
