"""ansible_bench.py - the Ansible side of the benchmark (used by bench.py).

Debian 12's ansible-core (2.14) runs tests/bench/ansible/bench.yml, the same
12 tasks per host as korch's tests/bench/playbooks, on the same light hosts,
with the bed's key and known_hosts (strict host key checking, as korch).
Two profiles:

  default  what an operator gets out of the box: forks 5, facts gathered,
           no pipelining, interpreter discovery, Ansible's own ssh_args
           (ControlMaster=auto, ControlPersist=60s)
  tuned    what a careful operator sets: -f N, strategy free, no facts,
           pipelining, ControlPersist 300s, /usr/bin/python3 fixed

Every measured run gets its own ControlPath directory, and the masters it
left are closed (ssh -O exit) after the clock stops: each run starts from
fresh connections, as each korch run does.
"""
import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, "ansible", "bench.yml")
PROFILES = ("default", "tuned")


def available():
    return os.access("/usr/bin/ansible-playbook", os.X_OK)


def version():
    p = subprocess.run(["/usr/bin/ansible-playbook", "--version"], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = (p.stdout.splitlines() or ["?"])[0]
    return first.replace("ansible-playbook ", "ansible-core ").replace("[core ", "").rstrip("]")


def write_inventory(path, hosts, bed):
    """An INI inventory of the hosts; cluster vars as korch's inventory has them."""
    with open(path, "w") as f:
        f.write("[all]\n")
        for name, addr, port in hosts:
            f.write("%s ansible_host=%s ansible_port=%d\n" % (name, addr, port))
        f.write("\n[all:vars]\nansible_user=root\ncluster_name=testbed\n"
                "pod_cidr=10.244.0.0/16\nansible_ssh_private_key_file=%s\n" % bed.key)


def _ssh_args(ctl_dir, persist):
    return ("-o ControlMaster=auto -o ControlPersist=%ds -o ControlPath=%s/%%C" %
            (persist, ctl_dir))


def write_cfg(path, profile, n, bed, ctl_dir):
    """ansible.cfg for a profile.  -> ansible.cfg's path"""
    common = ("-F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes "
              "-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null "
              "-o StrictHostKeyChecking=yes -o CheckHostIP=no" % bed.known_hosts)
    lines = ["[defaults]", "host_key_checking = True", "retry_files_enabled = False",
             "library = %s" % os.path.join(HERE, "ansible", "library"),
             "local_tmp = %s/local" % ctl_dir]
    if profile == "default":
        lines += ["forks = 5", "gathering = implicit",
                  "interpreter_python = auto_silent",
                  "[ssh_connection]", "pipelining = False",
                  # Ansible's default ssh_args, with our ControlPath
                  "ssh_args = -C " + _ssh_args(ctl_dir, 60),
                  "ssh_common_args = " + common]
    else:
        lines += ["forks = %d" % n, "strategy = free", "gathering = explicit",
                  "interpreter_python = /usr/bin/python3",
                  "[ssh_connection]", "pipelining = True",
                  "ssh_args = " + _ssh_args(ctl_dir, 300),
                  "ssh_common_args = " + common]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def argv_env(cfg, inv):
    """The profile lives in cfg; the playbook says nothing about facts, so
    `gathering` decides (implicit: gathered)."""
    argv = ["/usr/bin/ansible-playbook", "-i", inv, PLAYBOOK]
    # ansible-core has no json callback (it is in ansible.posix): the
    # default one, whose PLAY RECAP check() reads
    env = dict(os.environ, ANSIBLE_CONFIG=cfg, ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_HOME=os.path.dirname(cfg))
    return argv, env


def close_masters(hosts, ctl_dir, bed):
    """Close the ControlPersist masters a run left (not measured)."""
    for name, addr, port in hosts:
        subprocess.run(["ssh", "-F", "/dev/null", "-o", "ControlPath=%s/%%C" % ctl_dir,
                        "-O", "exit", "-p", str(port), "root@" + addr],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


RECAP = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$")


def check(outpath, hosts, expect_changed):
    """Read the PLAY RECAP.  -> (total changed, error or None)"""
    try:
        with open(outpath) as f:
            text = f.read()
    except OSError as e:
        return 0, "no output from ansible-playbook (%s)" % e
    if "PLAY RECAP" not in text:
        return 0, "no PLAY RECAP in ansible-playbook's output"
    stats = {}
    for line in text.split("PLAY RECAP", 1)[1].splitlines():
        m = RECAP.match(line.strip())
        if m:
            stats[m.group(1)] = {k: int(v) for k, v in
                                 (kv.split("=") for kv in m.group(2).split())}
    total, bad = 0, []
    for name, _, _ in hosts:
        s = stats.get(name)
        if s is None:
            bad.append("%s: not in the recap" % name)
            continue
        total += s.get("changed", 0)
        if s.get("failed") or s.get("unreachable"):
            bad.append("%s: %s" % (name, json.dumps(s)))
        elif s.get("changed") != expect_changed:
            bad.append("%s: changed %d, expected %d" % (name, s.get("changed"),
                                                        expect_changed))
    if len(stats) != len(hosts):
        bad.append("%d hosts in the recap, %d in the inventory" % (len(stats), len(hosts)))
    return total, ("; ".join(bad[:5]) if bad else None)
