#!/usr/bin/env python3
"""bench.py - korch's speed-at-scale benchmark (run through tests/bench/run.sh).

On the test bed's light hosts (sshd in its own namespaces, no systemd), for
each N in --sizes, measured side by side in one run:

  floor              OpenSSH `ssh -o BatchMode=yes -o KexAlgorithms=curve25519-sha256
                     host true` to all N hosts at once, fresh connections
  floor-default-kex  the same with OpenSSH's default (post-quantum) key exchange
  korch-converge     `korch apply` of tests/bench/playbooks on fresh hosts and a
                     fresh state: the agent is not on the hosts, so this run
                     includes uploading it (checked: agent_uploaded on every host)
  korch-converge-warm  the same with the agent already on the hosts (files,
                     sysctls and state reset): the converge without the upload
  korch-noop         `korch apply` again on the converged hosts (checked: zero
                     changes, no upload, no task row written to the state)
  korch-noop-forks64 (N > 64) the no-op with korch's default --forks
and, with a bastion (--bastion-hosts, default 64): korch-converge-bastion and
korch-noop-bastion, through node1's sshd as the bastion.

Each figure is the median of --runs runs: wall time, controller user+sys CPU
and peak RSS from wait4() of the measured processes (for the floor: the sum
of CPU over the N ssh processes, and the sum of their peak RSS, since they
all run at once).  Host resets between runs are not measured.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ansible_bench  # noqa: E402
import pngplot  # noqa: E402

BENCH_FILES = ("/etc/korch-bench /var/lib/korch-bench "
               "/etc/sysctl.d/90-korch-bench-forward.conf "
               "/etc/sysctl.d/91-korch-bench-rpfilter.conf "
               "/etc/sysctl.d/92-korch-bench-somaxconn.conf "
               "/etc/systemd/system/korch-bench-agent.service "
               "/etc/systemd/system/korch-bench-proxy.service "
               "/etc/default/korch-bench-agent /etc/default/korch-bench-proxy")
# Back to a fresh network namespace's values.
SYSCTL_RESET = ("echo 0 >/proc/sys/net/ipv4/ip_forward; "
                "echo 0 >/proc/sys/net/ipv4/conf/all/rp_filter; "
                "echo 4096 >/proc/sys/net/core/somaxconn")
TASKS_PER_HOST = 12
# korch's ssh.connect_timeout in the bench's inventories.  The test bed
# writes 10 s (korch's default, as Ansible's); at 1,000 light hosts all
# handshakes queue on this machine's 2 CPUs and a few banners take longer
# (3 of 1,000 hosts cut at 10 s on 2026-12-02), while the floor's ssh waits
# without any limit.  60 s is an operator's setting for a fleet that large.
CONNECT_TIMEOUT = 60
# The test bed's instance (tests/testbed/testbed): its hosts' cgroup and dir.
TB_INST = os.environ.get("KORCH_TESTBED_INSTANCE", "0")
TB_CG = "korch-tb" if TB_INST == "0" else "korch-tb" + TB_INST


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def die(msg):
    print("bench: error: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- the bed --

class Bed:
    def __init__(self, root):
        self.tb = os.path.join(root, "tests/testbed/testbed")
        self.dir = os.environ.get("KORCH_TESTBED_DIR", "/var/tmp/korch-testbed" +
                                  (TB_INST if TB_INST != "0" else ""))
        self.env = dict(os.environ, KORCH_TESTBED_OWNER=str(os.getpid()))

    def run(self, *args):
        return subprocess.run([self.tb, *args], env=self.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def up(self, n, wait_max):
        """light-up n hosts; while another engineer holds the bed, wait."""
        deadline = time.monotonic() + wait_max
        while True:
            t0 = time.monotonic()
            p = self.run("light-up", str(n))
            if p.returncode == 0:
                log("test bed: %d light hosts up in %.0f s" % (n, time.monotonic() - t0))
                return
            err = p.stderr.strip()
            busy = "locked" in err or "is up, held by" in err
            if not busy or time.monotonic() > deadline:
                die("testbed light-up %d failed:\n%s" % (n, err))
            log("test bed busy (%s); retrying in 30 s" % err.splitlines()[-1][:200])
            time.sleep(30)

    def down(self):
        p = self.run("down")
        if p.returncode != 0:
            log("testbed down failed: " + p.stderr.strip())

    def hosts(self):
        out = []
        with open(os.path.join(self.dir, "hosts.tsv")) as f:
            for line in f:
                name, addr, port, _ns = line.split()
                out.append((name, addr, int(port)))
        return out

    def inventory_header(self):
        p = self.run("inventory")
        if p.returncode != 0:
            die("testbed inventory: " + p.stderr.strip())
        head = p.stdout.split("\nhosts:\n")[0]
        return head + "\n"

    @property
    def key(self):
        return os.path.join(self.dir, "id_ed25519")

    @property
    def known_hosts(self):
        return os.path.join(self.dir, "known_hosts")


def write_inventory(path, header, hosts, bastion=None):
    header, n = re.subn(r"(?m)^(  connect_timeout: )\d+$", r"\g<1>%d" % CONNECT_TIMEOUT, header)
    if n != 1:
        die("the test bed's inventory has no ssh.connect_timeout line to set")
    with open(path, "w") as f:
        f.write(header)
        if bastion is not None:
            f.write("  bastion: {address: %s, port: %d, user: root}\n" %
                    (bastion[1], bastion[2]))
        f.write("hosts:\n")
        for name, addr, port in hosts:
            f.write("  - name: %s\n    address: %s\n" % (name, addr))
            if port != 22:
                f.write("    port: %d\n" % port)
            f.write("    roles: [node]\n")


# ------------------------------------------------------------ measuring --

def ssh_argv(bed, host, cmd, kex=None):
    name, addr, port = host
    argv = ["ssh", "-F", "/dev/null", "-i", bed.key,
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "UserKnownHostsFile=" + bed.known_hosts,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "CheckHostIP=no",
            "-o", "ControlMaster=no", "-o", "ControlPath=none",
            "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR",
            "-p", str(port)]
    if kex:
        argv += ["-o", "KexAlgorithms=" + kex]
    return argv + ["root@" + addr, cmd]


HOSTS_CPU = "/sys/fs/cgroup/cpuacct/%s/cpuacct.usage" % TB_CG
HOSTS_CPU_V2 = "/sys/fs/cgroup/%s/cpu.stat" % TB_CG


def hosts_cpu():
    """CPU seconds used so far by every test-bed host (sshd, shells, agents)."""
    try:
        with open(HOSTS_CPU) as f:
            return int(f.read()) / 1e9
    except (OSError, ValueError):
        pass
    try:                                # cgroup v2
        with open(HOSTS_CPU_V2) as f:
            for line in f:
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
    except (OSError, ValueError):
        pass
    return None


def busy_cpu():
    """CPU seconds the whole machine has been busy (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(max_wait, limit=0.25, window=2.0):
    """Wait (up to max_wait s) until the machine has been idle but for
    `limit` CPUs for `window` seconds: other people's work on a shared
    machine is not ours to measure.  -> seconds waited."""
    t0 = time.monotonic()
    while True:
        a = busy_cpu()
        time.sleep(window)
        if (busy_cpu() - a) / window <= limit or time.monotonic() - t0 > max_wait:
            return time.monotonic() - t0


CPU_CG = "/sys/fs/cgroup/cpu"     # cgroup v1 cpu controller


class Isolation:
    """Shield the measurement from other work on a shared machine.

    The test bed puts every host in korch-tb/NAME in each cgroup hierarchy,
    so on the cpu controller all hosts together weigh as much as ONE other
    process at the top level: a single busy process elsewhere takes as much
    CPU as the whole bed, and it hurts a one-process controller (korch) far
    more than 256 ssh processes, which each weigh as much.  While measuring,
    the hosts (korch-tb) and the measured client side (korch-bench: this
    process and its children, i.e. korch or every ssh of the floor) each get
    `shares` times a normal process's weight.  Both sides of the comparison
    are treated alike; the old settings come back at the end."""

    def __init__(self, shares):
        self.shares = shares
        self.saved = None
        self.mine = os.path.join(CPU_CG, "korch-bench" + TB_INST)

    @staticmethod
    def _write(path, value):
        with open(path, "w") as f:
            f.write(str(value))

    def __enter__(self):
        tb = os.path.join(CPU_CG, TB_CG, "cpu.shares")
        if self.shares <= 0 or not os.path.exists(tb):
            if self.shares > 0:
                log("no cgroup v1 cpu controller: measuring without isolation")
            return self
        with open(tb) as f:
            self.saved = int(f.read())
        self._write(tb, self.shares * 1024)
        os.makedirs(self.mine, exist_ok=True)
        self._write(os.path.join(self.mine, "cpu.shares"), self.shares * 1024)
        self._write(os.path.join(self.mine, "cgroup.procs"), os.getpid())
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            return False
        try:
            self._write(os.path.join(CPU_CG, "cgroup.procs"), os.getpid())
            self._write(os.path.join(CPU_CG, TB_CG, "cpu.shares"), self.saved)
            os.rmdir(self.mine)
        except OSError as e:
            log("restoring cgroups: %s" % e)
        return False


def rusage_of(ru):
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def measure_parallel(argvs, errpath):
    """Start every argv at once; wait for all.  -> dict, failures"""
    with open(errpath, "ab") as err:
        h0, b0 = hosts_cpu(), busy_cpu()
        t0 = time.monotonic()
        pids = {}
        for a in argvs:
            p = subprocess.Popen(a, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err)
            p.returncode = 0        # reaped below with wait4, not by Popen
            pids[p.pid] = a
        cpu = rss_sum = rss_max = 0.0
        failed = 0
        while pids:
            pid, status, ru = os.wait4(-1, 0)
            if pid not in pids:
                continue
            del pids[pid]
            c, r = rusage_of(ru)
            cpu += c
            rss_sum += r
            rss_max = max(rss_max, r)
            if os.waitstatus_to_exitcode(status) != 0:
                failed += 1
        wall = time.monotonic() - t0
        h1, b1 = hosts_cpu(), busy_cpu()
    hcpu = h1 - h0 if h0 is not None else 0.0
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": rss_sum,
            "rss_max_mb": rss_max,
            "hosts_cpu_s": hcpu if h0 is not None else None,
            "other_cpu_s": max(0.0, b1 - b0 - cpu - hcpu)}, failed


CPUACCT = "/sys/fs/cgroup/cpuacct"


class ClientCgroup:
    """The measured client side in a cpuacct cgroup of its own: the CPU of
    every process it starts counts, also those no wait4() sees (Ansible's
    ControlPersist masters daemonize).  Peak memory: the sum of the RSS of
    the cgroup's processes, sampled every 0.2 s (Ansible runs a process per
    fork and an ssh master per host at once)."""

    def __init__(self):
        self.path = os.path.join(CPUACCT, "korch-bench%s-client" % TB_INST)
        self.ok = False
        try:
            os.makedirs(self.path, exist_ok=True)
            self.ok = True
        except OSError as e:
            log("no client cpuacct cgroup (%s): client CPU from wait4 only" % e)

    def join(self):
        """preexec_fn: the child joins the cgroup before exec."""
        if self.ok:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def usage(self):
        if not self.ok:
            return None
        with open(os.path.join(self.path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def rss_mb(self):
        if not self.ok:
            return 0.0
        total = 0
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                pids = f.read().split()
        except OSError:
            return 0.0
        for pid in pids:
            try:
                with open("/proc/%s/statm" % pid) as f:
                    total += int(f.read().split()[1])
            except (OSError, ValueError, IndexError):
                pass
        return total * os.sysconf("SC_PAGE_SIZE") / 2**20

    def remove(self):
        if self.ok:
            try:
                os.rmdir(self.path)
            except OSError as e:
                log("could not remove %s: %s" % (self.path, e))


CLIENT = None       # the ClientCgroup, set by Bench.main


def measure_one(argv, outpath, errpath, env=None):
    with open(outpath, "wb") as out, open(errpath, "wb") as err:
        h0, b0 = hosts_cpu(), busy_cpu()
        c0 = CLIENT.usage() if CLIENT else None
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             env=env, preexec_fn=CLIENT.join if CLIENT else None)
        peak = [0.0]
        done = threading.Event()

        def sample():
            while not done.wait(0.2):
                peak[0] = max(peak[0], CLIENT.rss_mb())
        sampler = threading.Thread(target=sample, daemon=True)
        if CLIENT:
            sampler.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        done.set()
        if CLIENT:
            sampler.join()
        h1, b1 = hosts_cpu(), busy_cpu()
        c1 = CLIENT.usage() if CLIENT else None
        p.returncode = os.waitstatus_to_exitcode(status)
    cpu, rss = rusage_of(ru)
    if c0 is not None and c1 is not None:
        cpu = max(cpu, c1 - c0)
    hcpu = h1 - h0 if h0 is not None else 0.0
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": max(rss, peak[0]),
            "hosts_cpu_s": hcpu if h0 is not None else None,
            "other_cpu_s": max(0.0, b1 - b0 - cpu - hcpu)}, p.returncode


def run_pool(argvs, jobs=48):
    """Unmeasured helper runs (host resets), jobs at a time; -> failures."""
    running, failed, i = [], 0, 0
    while i < len(argvs) or running:
        while i < len(argvs) and len(running) < jobs:
            running.append(subprocess.Popen(argvs[i], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE))
            i += 1
        p = running.pop(0)
        _, e = p.communicate()
        if p.returncode != 0:
            failed += 1
            log("reset failed: %s" % e.decode(errors="replace").strip()[:200])
    return failed


# ---------------------------------------------------------------- bench --

class Bench:
    def __init__(self, args):
        self.a = args
        self.root = args.root
        self.korch = os.path.join(self.root, os.environ.get("BUILD", "build"), "korch")
        self.playbooks = os.path.join(self.root, "tests/bench/playbooks")
        self.bed = Bed(self.root)
        self.work = tempfile.mkdtemp(prefix="korch-bench.")
        self.sqltime = self.build_sqltime()
        self.results = []       # every run
        self.lines = []         # printed summary lines

    # -- resets (not measured) --
    def reset_hosts(self, hosts, agent):
        cmd = "rm -rf %s; %s" % (BENCH_FILES, SYSCTL_RESET)
        if agent:
            cmd += "; rm -rf \"$HOME/.korch\""
        bad = run_pool([ssh_argv(self.bed, h, cmd, "curve25519-sha256") for h in hosts])
        if bad:
            die("could not reset %d host(s)" % bad)

    # -- one measurement --
    def record(self, name, n, m, **extra):
        m = dict(m, name=name, hosts=n, **extra)
        self.results.append(m)
        log("%-24s hosts=%-4d wall_s=%.3f cpu_s=%.3f rss_mb=%.1f hosts_cpu_s=%s "
            "other_cpu_s=%.2f%s" % (
            name, n, m["wall_s"], m["cpu_s"], m["rss_mb"],
            "%.3f" % m["hosts_cpu_s"] if m.get("hosts_cpu_s") is not None else "?",
            m["other_cpu_s"],
            "".join(" %s=%s" % kv for kv in sorted(extra.items()))))

    def quiet(self):
        if self.a.quiet_wait > 0:
            w = wait_quiet(self.a.quiet_wait)
            if w > 5:
                log("waited %.0f s for the machine to be quiet" % w)

    def floor(self, name, hosts, kex):
        argvs = [ssh_argv(self.bed, h, "true", kex) for h in hosts]
        self.quiet()
        m, failed = measure_parallel(argvs, os.path.join(self.work, "floor.err"))
        if failed:
            die("%s: %d of %d ssh runs failed (see %s/floor.err)" %
                (name, failed, len(hosts), self.work))
        self.record(name, len(hosts), m)

    def korch_run(self, name, inv, state, hosts, forks, expect):
        out = os.path.join(self.work, "korch.json")
        err = os.path.join(self.work, "korch.err")
        argv = [self.korch, "apply", inv, "--playbooks", self.playbooks,
                "--state", state, "--forks", str(forks), "--json"]
        sqlt = os.path.join(self.work, "sqltime.txt")
        if os.path.exists(sqlt):
            os.unlink(sqlt)
        env = dict(os.environ, LD_PRELOAD=self.sqltime, KORCH_SQLTIME=sqlt)
        self.quiet()
        m, rc = measure_one(argv, out, err, env)
        with open(err) as f:
            errtext = f.read()
        try:
            with open(out) as f:
                res = json.load(f)
        except ValueError:
            die("%s: korch printed no JSON (exit %d): %s" % (name, rc, errtext[-2000:]))
        n = len(hosts)
        changed = sum(h["changed"] for h in res["hosts"])
        uploaded = sum(1 for h in res["hosts"] if h.get("agent_uploaded"))
        bad = [h for h in res["hosts"] if h["failed"] or h["unreachable"] or h["error"]]
        if rc != 0 or not res.get("converged") or bad:
            die("%s: korch did not converge (exit %d): %s\n%s" % (
                name, rc, json.dumps(bad[:3]), errtext[-2000:]))
        if expect == "converge" and changed != TASKS_PER_HOST * n:
            die("%s: %d changes, expected %d" % (name, changed, TASKS_PER_HOST * n))
        if expect == "noop" and changed != 0:
            die("%s: a no-op changed %d tasks" % (name, changed))
        extra = {"changed": changed, "uploaded": uploaded}
        sql = self.sqlite_time(sqlt)
        if sql is not None:
            m["sqlite_wall_s"], m["sqlite_cpu_s"] = sql
        if expect == "noop":
            extra["db_task_rows"] = self.rows_written(state, res["run_id"])
        self.record(name, n, m, **extra)
        return uploaded

    @staticmethod
    def sqlite_time(path):
        """(wall s, CPU s) korch spent inside SQLite (tests/bench/sqltime.c)."""
        try:
            with open(path) as f:
                kv = dict(x.split("=") for x in f.read().split())
            return int(kv["wall_ns"]) / 1e9, int(kv["cpu_ns"]) / 1e9
        except (OSError, ValueError, KeyError):
            return None

    def build_sqltime(self):
        so = os.path.join(self.work, "sqltime.so")
        p = subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                            "-shared", "-fPIC", "-o", so,
                            os.path.join(self.root, "tests/bench/sqltime.c"), "-ldl"],
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            die("building tests/bench/sqltime.c:\n" + p.stdout)
        return so

    @staticmethod
    def rows_written(state, run_id):
        """Task rows (results + observed) a run wrote: 0 for a no-op."""
        db = sqlite3.connect("file:%s?mode=ro" % state, uri=True)
        try:
            a = db.execute("SELECT count(*) FROM task_results WHERE run_id = ?",
                           (run_id,)).fetchone()[0]
            b = db.execute("SELECT count(*) FROM observed WHERE run_id = ?",
                           (run_id,)).fetchone()[0]
        finally:
            db.close()
        return a + b

    def converge(self, name, inv, hosts, forks, agent):
        state = os.path.join(self.work, "state-%s.db" % name)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(state + suffix):
                os.unlink(state + suffix)
        self.reset_hosts(hosts, agent)
        up = self.korch_run(name, inv, state, hosts, forks, "converge")
        if agent and up != len(hosts):
            die("%s: agent uploaded to %d of %d fresh hosts" % (name, up, len(hosts)))
        if not agent and up != 0:
            die("%s: agent uploaded again to %d hosts" % (name, up))
        return state

    def noop(self, name, inv, state, hosts, forks):
        up = self.korch_run(name, inv, state, hosts, forks, "noop")
        if up:
            die("%s: the agent was uploaded again to %d hosts" % (name, up))

    # -- Ansible (tests/bench/ansible_bench.py) --
    def ansible_run(self, name, profile, hosts, expect):
        n = len(hosts)
        d = tempfile.mkdtemp(prefix="ans-", dir=self.work)
        inv = os.path.join(d, "hosts.ini")
        ansible_bench.write_inventory(inv, hosts, self.bed)
        cfg = ansible_bench.write_cfg(os.path.join(d, "ansible.cfg"), profile, n,
                                      self.bed, d)
        argv, env = ansible_bench.argv_env(cfg, inv)
        out, err = os.path.join(d, "out.json"), os.path.join(d, "err")
        self.quiet()
        m, rc = measure_one(argv, out, err, env)
        ansible_bench.close_masters(hosts, d, self.bed)
        want = TASKS_PER_HOST if expect == "converge" else 0
        changed, bad = ansible_bench.check(out, hosts, want)
        if rc != 0 or bad:
            with open(err) as f:
                die("%s: ansible-playbook (exit %d): %s\n%s" % (
                    name, rc, bad, f.read()[-2000:]))
        self.record(name, n, m, changed=changed)

    def ansible(self, n, all_hosts):
        hosts = all_hosts[:n]
        for profile in ansible_bench.PROFILES:
            if profile == "default" and n > self.a.ansible_default_max:
                continue
            log("N=%d: ansible, %s profile" % (n, profile))
            for _ in range(self.a.runs):
                self.reset_hosts(hosts, True)
                self.ansible_run("ansible-%s-converge" % profile, profile, hosts,
                                 "converge")
                self.ansible_run("ansible-%s-noop" % profile, profile, hosts, "noop")

    # -- a size --
    def size(self, n, all_hosts, header):
        hosts = all_hosts[:n]
        inv = os.path.join(self.work, "inventory-%d.yaml" % n)
        write_inventory(inv, header, hosts)
        runs = self.a.runs
        log("N=%d: floors" % n)
        for _ in range(runs):
            self.floor("floor", hosts, "curve25519-sha256")
            if n <= 256:        # 4x the floor's CPU: minutes at 1,000
                self.floor("floor-default-kex", hosts, None)
        log("N=%d: korch" % n)
        for _ in range(runs):
            self.converge("korch-converge", inv, hosts, n, agent=True)
        for _ in range(runs):
            state = self.converge("korch-converge-warm", inv, hosts, n, agent=False)
        for _ in range(runs):
            self.noop("korch-noop", inv, state, hosts, n)
        if n > 64:
            for _ in range(runs):
                self.noop("korch-noop-forks64", inv, state, hosts, 64)

    def bastion(self, n, all_hosts, header):
        bastion, hosts = all_hosts[0], all_hosts[1:n + 1]
        inv = os.path.join(self.work, "inventory-bastion-%d.yaml" % n)
        write_inventory(inv, header, hosts, bastion)
        log("N=%d behind bastion %s" % (n, bastion[0]))
        for _ in range(self.a.runs):
            state = self.converge("korch-converge-bastion", inv, hosts, n, agent=True)
        for _ in range(self.a.runs):
            self.noop("korch-noop-bastion", inv, state, hosts, n)

    # -- summary --
    def medians(self):
        med = {}
        for r in self.results:
            med.setdefault((r["name"], r["hosts"]), []).append(r)
        out = {}
        for k, rs in med.items():
            out[k] = {f: statistics.median(r[f] for r in rs)
                      for f in ("wall_s", "cpu_s", "rss_mb", "other_cpu_s")}
            for f in ("hosts_cpu_s", "sqlite_wall_s", "sqlite_cpu_s"):
                v = [r[f] for r in rs if r.get(f) is not None]
                out[k][f] = statistics.median(v) if v else None
            out[k]["runs"] = len(rs)
        return out

    ORDER = ["floor", "floor-default-kex", "korch-converge", "korch-noop",
             "korch-converge-warm", "korch-noop-forks64",
             "korch-converge-bastion", "korch-noop-bastion",
             "ansible-default-converge", "ansible-default-noop",
             "ansible-tuned-converge", "ansible-tuned-noop"]

    def summary(self):
        med = self.medians()
        printed = []

        def emit(line):
            print(line, flush=True)
            printed.append(line)
        order = self.ORDER
        keys = sorted(med, key=lambda k: (k[1], order.index(k[0]) if k[0] in order else 99))
        for name, n in keys:
            m = med[(name, n)]
            hc = m.get("hosts_cpu_s")
            line = "bench name=%s hosts=%d wall_s=%.3f cpu_s=%.3f rss_mb=%.1f " \
                "hosts_cpu_s=%s cpu_ms_per_host=%.2f" % (
                    name, n, m["wall_s"], m["cpu_s"], m["rss_mb"],
                    "%.2f" % hc if hc is not None else "?", m["cpu_s"] * 1000.0 / n)
            if m.get("sqlite_wall_s") is not None:
                line += " sqlite_ms_per_host=%.3f sqlite_cpu_ms_per_host=%.3f" % (
                    m["sqlite_wall_s"] * 1000.0 / n, m["sqlite_cpu_s"] * 1000.0 / n)
            emit(line)
        for name, n in keys:
            if not name.startswith("korch"):
                continue
            f = med.get(("floor", n))
            fd = med.get(("floor-default-kex", n))
            if f is None:
                continue
            m = med[(name, n)]
            line = "ratio name=%s hosts=%d vs=floor wall=%.2f cpu=%.2f" % (
                name, n, m["wall_s"] / f["wall_s"], m["cpu_s"] / f["cpu_s"])
            if fd:
                line += " vs=floor-default-kex wall=%.2f cpu=%.2f" % (
                    m["wall_s"] / fd["wall_s"], m["cpu_s"] / fd["cpu_s"])
            emit(line + " cpu_ms_per_host=%.2f" % (m["cpu_s"] * 1000.0 / n))
        # korch against Ansible: converge vs converge, no-op vs no-op; hosts'
        # CPU too, since Ansible's cost is mostly Python on the hosts
        for name, n in keys:
            if name not in ("korch-converge", "korch-noop"):
                continue
            kind = name.split("-", 1)[1]
            m = med[(name, n)]
            for prof in ansible_bench.PROFILES:
                a = med.get(("ansible-%s-%s" % (prof, kind), n))
                if a is None:
                    continue
                hk, ha = m.get("hosts_cpu_s"), a.get("hosts_cpu_s")
                emit("ratio name=%s hosts=%d vs=ansible-%s-%s wall=%.3f cpu=%.3f%s" % (
                    name, n, prof, kind, m["wall_s"] / a["wall_s"], m["cpu_s"] / a["cpu_s"],
                    " hosts_cpu=%.3f" % (hk / ha) if hk is not None and ha else ""))
        return med, printed

    def machine(self):
        def sh(cmd):
            try:
                p = subprocess.run(cmd, shell=True, text=True, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
                return p.stdout.strip()
            except OSError:
                return "?"
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "kernel": platform.release(),
            "libssh2": sh("pkg-config --modversion libssh2"),
            "openssh": sh("ssh -V 2>&1").split(",")[0],
            "openssl": " ".join(sh("openssl version").split()[:2]),
            "libevent": sh("pkg-config --modversion libevent"),
            "sqlite": sh("pkg-config --modversion sqlite3"),
            "korch": (sh("git -C %s rev-parse --short HEAD 2>/dev/null" % self.root) or "?") +
                     (" + working tree" if sh("git -C %s status --porcelain "
                                            "--untracked-files=no 2>/dev/null" % self.root)
                      else ""),
            "nofile": sh("ulimit -n"),
            "ansible": ansible_bench.version() if ansible_bench.available() else "no Ansible",
            "runs": self.a.runs,
        }

    def write_docs(self, med, printed):
        out = self.a.out
        if not out:
            return
        os.makedirs(out, exist_ok=True)
        mach = self.machine()
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"machine": mach, "runs": self.results,
                       "medians": [dict(v, name=k[0], hosts=k[1]) for k, v in med.items()]},
                      f, indent=1)
        sizes = sorted({n for (_, n) in med if not _.endswith("bastion")})
        rows = []
        for name in self.ORDER:
            for n in sorted({k[1] for k in med if k[0] == name}):
                m = med[(name, n)]
                f = med.get(("floor", n))
                ratio = "%.2f" % (m["wall_s"] / f["wall_s"]) if f and name != "floor" else "—"
                cpuh = "%.2f" % (m["cpu_s"] * 1000.0 / n)
                hc = "%.2f" % m["hosts_cpu_s"] if m.get("hosts_cpu_s") is not None else "?"
                sq = ("%.3f" % (m["sqlite_wall_s"] * 1000.0 / n)
                      if m.get("sqlite_wall_s") is not None else "—")
                rows.append("| %s | %d | %.2f | %.2f | %s | %.0f | %s | %s | %s |" % (
                    name, n, m["wall_s"], m["cpu_s"], cpuh, m["rss_mb"], hc, sq, ratio))
        md = [
            "# korch benchmark results",
            "",
            "Written by `make bench` (tests/bench/run.sh) on %s; see "
            "[../PERFORMANCE.md](../PERFORMANCE.md) for what the numbers mean." % mach["date"],
            "",
            "Machine: %s CPU(s) (%s), %s GB RAM, Linux %s; %s; libssh2 %s; %s; "
            "libevent %s; SQLite %s; %s; korch %s.  Median of %d runs each." % (
                mach["nproc"], mach["cpu"], mach["mem_gb"], mach["kernel"],
                mach["openssh"], mach["libssh2"], mach["openssl"], mach["libevent"],
                mach["sqlite"], mach["ansible"], mach["korch"], mach["runs"]),
            "",
            "Hosts are the test bed's light hosts on the same machine: every sshd, "
            "shell, agent and Python module competes with the controller for the same "
            "two CPUs, as does anything else running on the machine (on a shared one, "
            "other people's tests): wall times are noisy (the bench waits up to %d s for a quiet "
            "machine before each run and weighs its own cgroups up, but cannot stop "
            "others).  The CPU figures, taken from cgroups and wait4(), are the "
            "steadier ones." % self.a.quiet_wait,
            "",
            "| measurement | hosts | wall s | client CPU s | client CPU ms/host | "
            "client peak RSS MB | hosts' CPU s | SQLite ms/host | wall / floor |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ] + rows + [
            "",
            "- client = the controller side: korch itself; Ansible with every fork and "
            "ssh process it started (its cpuacct cgroup; RSS the peak of their sum, "
            "sampled); for the floors every ssh process (CPU summed, RSS the sum of "
            "their peaks: they run at once).  hosts' CPU = everything the test-bed "
            "hosts ran (sshd, shells, agents, Ansible's Python), from their cgroups; on "
            "real hosts that is spread over the hosts' own CPUs.",
            "- floor: `ssh -o BatchMode=yes -o KexAlgorithms=curve25519-sha256 host true` "
            "to all hosts at once (fresh connections, ControlMaster off).",
            "- floor-default-kex: the same with OpenSSH's default key exchange "
            "(sntrup761x25519-sha512); not run above 256 hosts.",
            "- korch-converge: fresh state and fresh hosts, so it includes uploading "
            "the agent to every host; korch-converge-warm: the agent already there.",
            "- korch-noop: the same apply again (0 changes, 0 uploads, 0 task rows "
            "written to SQLite); korch-noop-forks64: with the default `--forks 64`; "
            "all other korch runs use `--forks N`; every korch run has "
            "`ssh.connect_timeout: %d` (the floor's ssh has no limit at all)." % CONNECT_TIMEOUT,
            "- SQLite ms/host: wall time inside SQLite calls (open, prepare, step, "
            "reset, finalize, exec, close: every query and commit with its fsync), "
            "measured by tests/bench/sqltime.c preloaded into korch, over hosts.",
            "- bastion: %d hosts reached through one SSH session to a light host "
            "(direct-tcpip channels, 8 handshakes at a time)." % self.a.bastion_hosts,
            "- ansible-*: ansible-core's `ansible-playbook` with "
            "tests/bench/ansible/bench.yml, the same 12 tasks on the same hosts "
            "(checked: 12 changed per host in the PLAY RECAP on the converge, "
            "0 on the no-op).  default: forks 5, facts gathered, no pipelining, "
            "Ansible's ssh_args (ControlPersist 60 s); tuned: forks N, strategy free, "
            "no facts, pipelining, ControlPersist, /usr/bin/python3.  Each run starts "
            "from fresh connections (own ControlPath, masters closed after it); both "
            "use OpenSSH's default key exchange, as an operator's ssh does.",
            "",
            "## The lines `make bench` printed",
            "",
            "```",
        ] + printed + [
            "```",
            "",
            "![wall time against hosts](wall.png)",
            "",
            "![client + hosts' CPU per host](cpu.png)",
            "",
        ]
        with open(os.path.join(out, "RESULTS.md"), "w") as f:
            f.write("\n".join(md))
        colors = {"floor": (40, 40, 40), "floor-default-kex": (150, 150, 150),
                  "korch-converge": (220, 120, 20), "korch-noop": (20, 110, 220),
                  "ansible-tuned-converge": (200, 30, 30),
                  "ansible-tuned-noop": (30, 160, 60),
                  "ansible-default-converge": (150, 60, 150),
                  "ansible-default-noop": (120, 120, 30)}
        wall, cpu = [], []
        for name, c in colors.items():
            if not any((name, n) in med for n in sizes):
                continue
            wall.append((name, [med[(name, n)]["wall_s"] if (name, n) in med else None
                                for n in sizes], c))
            cpu.append((name, [(med[(name, n)]["cpu_s"] + (med[(name, n)]["hosts_cpu_s"] or 0))
                               * 1000.0 / n if (name, n) in med else None for n in sizes], c))
        if sizes:
            pngplot.plot_png(os.path.join(out, "wall.png"),
                             "wall time, median of %d runs (%s cpus)" % (mach["runs"], mach["nproc"]),
                             "hosts", "seconds", sizes, wall)
            pngplot.plot_png(os.path.join(out, "cpu.png"),
                             "client + hosts cpu per host, median of %d runs" % mach["runs"],
                             "hosts", "ms per host", sizes, cpu)
        log("wrote %s/RESULTS.md, results.json, wall.png, cpu.png" % out)

    def main(self):
        if not os.access(self.korch, os.X_OK):
            die("no %s: run make first" % self.korch)
        global CLIENT
        if self.a.ansible_sizes and not ansible_bench.available():
            die("no /usr/bin/ansible-playbook: apt-get install ansible-core "
                "(or BENCH_ANSIBLE_SIZES='' to leave Ansible out)")
        bad = set(self.a.ansible_sizes) - set(self.a.sizes)
        if bad:
            die("Ansible sizes %s are not among --sizes" % sorted(bad))
        CLIENT = ClientCgroup()
        nmax = max(self.a.sizes + ([self.a.bastion_hosts + 1] if self.a.bastion_hosts else []))
        if not self.a.no_bed:
            self.bed.up(nmax, self.a.wait)
        try:
            all_hosts = self.bed.hosts()
            if len(all_hosts) < nmax:
                die("the bed has %d hosts, need %d" % (len(all_hosts), nmax))
            header = self.bed.inventory_header()
            with Isolation(self.a.isolate):
                for n in self.a.sizes:
                    self.size(n, all_hosts, header)
                    if n in self.a.ansible_sizes:
                        self.ansible(n, all_hosts)
                if self.a.bastion_hosts:
                    self.bastion(self.a.bastion_hosts, all_hosts, header)
            med, printed = self.summary()
            self.write_docs(med, printed)
        finally:
            if not self.a.keep and not self.a.no_bed:
                self.bed.down()
            if CLIENT:
                CLIENT.remove()
            if not self.a.keep_work:
                shutil.rmtree(self.work, ignore_errors=True)
            else:
                log("kept " + self.work)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "16 64 256"),
                    help="host counts (default: 16 64 256; 1000 did not come up on the shared 2-CPU machine, see docs/PERFORMANCE.md)")
    ap.add_argument("--ansible-sizes", default=os.environ.get("BENCH_ANSIBLE_SIZES", "16"),
                    help="of those, where Ansible runs too (default: 16; '' for none): about 10 CPU-seconds per host and run on this machine")
    ap.add_argument("--ansible-default-max", type=int, default=64,
                    help="the largest size for Ansible's default profile (forks 5)")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--bastion-hosts", type=int, default=64,
                    help="hosts behind a bastion (0: skip)")
    ap.add_argument("--out", default=None,
                    help="where the table and plot go (default docs/bench; '' for none)")
    ap.add_argument("--keep", action="store_true", help="leave the bed up")
    ap.add_argument("--keep-work", action="store_true", help="keep the temp dir")
    ap.add_argument("--no-bed", action="store_true",
                    help="use the light bed that is up (do not start or stop it)")
    ap.add_argument("--quiet-wait", type=int, default=10,
                    help="before each measurement, wait up to this many seconds "
                    "for other processes to leave the CPUs alone (0: don't)")
    ap.add_argument("--isolate", type=int, default=16,
                    help="CPU weight (x a normal process) for the hosts and for the "
                    "measured client side while measuring (0: leave cgroups alone)")
    ap.add_argument("--wait", type=int, default=7200,
                    help="seconds to wait for a busy test bed (default 7200)")
    a = ap.parse_args()
    a.sizes = [int(x) for x in re.split(r"[ ,]+", a.sizes.strip()) if x]
    a.ansible_sizes = [int(x) for x in re.split(r"[ ,]+", a.ansible_sizes.strip()) if x]
    if a.out is None:
        a.out = os.environ.get("BENCH_OUT", os.path.join(a.root, "docs/bench"))
    if a.runs < 1 or not a.sizes:
        die("bad --runs or --sizes")
    Bench(a).main()


if __name__ == "__main__":
    main()
