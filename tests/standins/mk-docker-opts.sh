#!/bin/sh
# mk-docker-opts.sh stand-in (korch tests only): the helper that ships in
# flannel's release tarball next to flanneld.  Same options and output:
# turns flanneld's subnet.env into Docker daemon options.
#   mk-docker-opts.sh -k DOCKER_NETWORK_OPTIONS -d /run/flannel/docker.env
# writes
#   DOCKER_OPT_BIP="--bip=10.244.30.1/24"
#   DOCKER_OPT_IPMASQ="--ip-masq=true"
#   DOCKER_OPT_MTU="--mtu=1450"
#   DOCKER_NETWORK_OPTIONS=" --bip=10.244.30.1/24 --ip-masq=true --mtu=1450"

usage() {
	echo "$0 [-f FLANNEL-ENV-FILE] [-d DOCKER-ENV-FILE] [-i] [-c] [-m] [-k COMBINED-KEY]

Generate Docker daemon options based on flannel env file
OPTIONS:
	-f	Path to flannel env file. Defaults to /run/flannel/subnet.env
	-d	Path to Docker env file to write to. Defaults to /run/docker_opts.env
	-i	Output each Docker option as individual var. e.g. DOCKER_OPT_MTU=1500
	-c	Output combined Docker options into DOCKER_OPTS var
	-k	Set the combined options key to this value (default DOCKER_OPTS=)
	-m	Do not output --ip-masq (useful for older Docker version)
" >&2
	exit 1
}

flannel_env="/run/flannel/subnet.env"
docker_env="/run/docker_opts.env"
combined_opts_key="DOCKER_OPTS"
indiv_opts=false
combined_opts=false
ipmasq=true

while getopts "f:d:ick:m" opt; do
	case $opt in
	f) flannel_env=$OPTARG ;;
	d) docker_env=$OPTARG ;;
	i) indiv_opts=true ;;
	c) combined_opts=true ;;
	k) combined_opts_key=$OPTARG ;;
	m) ipmasq=false ;;
	*) usage ;;
	esac
done

if [ $indiv_opts = false ] && [ $combined_opts = false ]; then
	indiv_opts=true
	combined_opts=true
fi

if [ -f "$flannel_env" ]; then
	. "$flannel_env"
fi

if [ -n "$FLANNEL_SUBNET" ]; then
	DOCKER_OPT_BIP="--bip=$FLANNEL_SUBNET"
fi
if [ -n "$FLANNEL_MTU" ]; then
	DOCKER_OPT_MTU="--mtu=$FLANNEL_MTU"
fi
if [ -n "$FLANNEL_IPMASQ" ] && [ $ipmasq = true ]; then
	if [ "$FLANNEL_IPMASQ" = true ]; then
		DOCKER_OPT_IPMASQ="--ip-masq=false"
	elif [ "$FLANNEL_IPMASQ" = false ]; then
		DOCKER_OPT_IPMASQ="--ip-masq=true"
	else
		echo "Invalid value of FLANNEL_IPMASQ: $FLANNEL_IPMASQ" >&2
		exit 1
	fi
fi

tmp="$docker_env.tmp.$$"
: >"$tmp" || exit 1
docker_opts=""
for name in DOCKER_OPT_BIP DOCKER_OPT_IPMASQ DOCKER_OPT_MTU; do
	eval value=\$$name
	[ -n "$value" ] || continue
	if [ $indiv_opts = true ]; then
		echo "$name=\"$value\"" >>"$tmp"
	fi
	docker_opts="$docker_opts $value"
done
if [ $combined_opts = true ]; then
	echo "$combined_opts_key=\"$docker_opts\"" >>"$tmp"
fi
mv -f "$tmp" "$docker_env"
