# Shared code of korch's test stand-ins for the Kubernetes 1.8/1.9 and
# flannel binaries (tests/standins/README.md says what each one honours).
# Python 3 standard library only.  Never part of the product.
#
# tests/bundle/make-bundle packs each program with this module and a
# _stamp module (VERSION, FLANNEL_VERSION) into one executable zip file.
# Run from the source tree, the version comes from $KORCH_STANDIN_VERSION
# (default 1.8.15).

import base64
import datetime
import hashlib
import http.client
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

try:
    import _stamp  # written by make-bundle
    VERSION = _stamp.VERSION
    FLANNEL_VERSION = _stamp.FLANNEL_VERSION
except ImportError:
    VERSION = os.environ.get("KORCH_STANDIN_VERSION", "1.8.15").lstrip("v")
    FLANNEL_VERSION = os.environ.get("KORCH_STANDIN_FLANNEL_VERSION", "")

_m = re.match(r"^1\.(\d+)\.(\d+)", VERSION)
MINOR = int(_m.group(1)) if _m else 8
PATCH = int(_m.group(2)) if _m else 0


def flannel_version_for(kube_version):
    m = re.match(r"^v?1\.(\d+)", kube_version)
    minor = int(m.group(1)) if m else 8
    if minor <= 7:
        return "v0.8.0"
    if minor == 8:
        return "v0.9.1"
    return "v0.10.0"


if not FLANNEL_VERSION:
    FLANNEL_VERSION = flannel_version_for(VERSION)

# Real release commits for the versions the tests use; others are derived.
_COMMITS = {
    "1.8.15": ("c2bd642c70b3629223ea3b7db566a267a1e2d0df", "2018-07-11T17:52:10Z"),
    "1.9.11": ("1bfeeb6f212135a22dc787b73e1980e5bccef13d", "2018-09-28T16:39:50Z"),
}
_GO = {7: "go1.8.3", 8: "go1.8.3", 9: "go1.9.3", 10: "go1.9.3", 11: "go1.10.3"}


def version_info():
    commit, date = _COMMITS.get(VERSION, (
        hashlib.sha1(("v" + VERSION).encode()).hexdigest(), "2018-01-01T00:00:00Z"))
    return {
        "major": "1", "minor": str(MINOR), "gitVersion": "v" + VERSION,
        "gitCommit": commit, "gitTreeState": "clean", "buildDate": date,
        "goVersion": _GO.get(MINOR, "go1.10.8"), "compiler": "gc",
        "platform": "linux/amd64",
    }


def version_info_go(vi):
    """kubectl's and --version=raw's Go struct rendering."""
    return ('version.Info{Major:"%s", Minor:"%s", GitVersion:"%s", GitCommit:"%s", '
            'GitTreeState:"%s", BuildDate:"%s", GoVersion:"%s", Compiler:"%s", '
            'Platform:"%s"}' % (vi["major"], vi["minor"], vi["gitVersion"],
                                vi["gitCommit"], vi["gitTreeState"], vi["buildDate"],
                                vi["goVersion"], vi["compiler"], vi["platform"]))


# ---------------------------------------------------------------- logging --
PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "standin"
VERBOSITY = 0
_log_lock = threading.Lock()


def _log(sev, msg, depth=2, where=None):
    t = datetime.datetime.now()
    try:
        f = sys._getframe(depth)
        fn = os.path.basename(f.f_code.co_filename)
        if fn in ("__main__.py", PROG) or not fn.endswith(".py"):
            fn = PROG
        where = where or "%s:%d" % (fn, f.f_lineno)
    except ValueError:
        where = where or PROG + ":0"
    line = "%s%02d%02d %02d:%02d:%02d.%06d %7d %s] %s\n" % (
        sev, t.month, t.day, t.hour, t.minute, t.second, t.microsecond,
        os.getpid(), where, msg)
    with _log_lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def info(msg, v=0):
    if v <= VERBOSITY:
        _log("I", msg)


def warn(msg):
    _log("W", msg)


def error(msg):
    _log("E", msg)


def fatal(msg, code=1):
    """glog.Fatal-like: log and exit (Go's glog exits 255; we use the code)."""
    _log("F", msg)
    os._exit(code)


def die(msg, code=1):
    """The `fmt.Fprintf(os.Stderr, "%v\\n", err); os.Exit(1)` of the mains."""
    try:
        sys.stderr.write(msg.rstrip("\n") + "\n")
        sys.stderr.flush()
    finally:
        os._exit(code)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s):
    try:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0


def default_signals():
    """Die on SIGTERM/SIGINT like a Go program (no Python traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def sleep_forever():
    while True:
        time.sleep(3600)


def sd_notify(msg="READY=1"):
    """sd_notify(3): lets Type=notify units work too (the real apiserver,
    flanneld and etcd notify; Type=simple units ignore it)."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.connect(path)
        s.sendall(msg.encode())
        s.close()
    except OSError as e:
        warn("sd_notify failed: %s" % e)


# ------------------------------------------------------------------ flags --
_GO_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False,
            "False": False}


class FlagError(Exception):
    pass


def parse_duration(s):
    """Go (1.8/1.9) time.ParseDuration -> seconds (float), same error texts."""
    orig = s
    mult = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60,
            "h": 3600}
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if s == "":
        raise ValueError("time: invalid duration " + orig)
    total = 0.0
    while s:
        m = re.match(r"(\d*)(\.?)(\d*)", s)
        if not (m.group(1) or m.group(3)) or (not m.group(2) and m.group(3) and not m.group(1)):
            raise ValueError("time: invalid duration " + orig)
        num = float((m.group(1) or "0") + "." + (m.group(3) or "0"))
        s = s[m.end():]
        u = re.match(r"[^\d.]*", s).group(0)
        if not u:
            raise ValueError("time: missing unit in duration " + orig)
        if u not in mult:
            raise ValueError("time: unknown unit " + u + " in duration " + orig)
        total += num * mult[u]
        s = s[len(u):]
    return -total if neg else total


class Flags:
    """Go command-line flags, parsed and refused the way the real program does.

    Names: "_" and "-" are the same (Kubernetes' WordSepNormalizeFunc) except
    for style "goflag".  Values: --name=value, --name value, booleans --name /
    --name=false, shorthands -v 2 / -v=2 / -v2.  Kinds: string, bool, int,
    float, duration, strings (comma list, repeatable), list (repeatable, no
    splitting), version (k8s --version: true, false or raw).

    style (what a bad command line prints; see README.md):
      "cobra"   a cobra command (kube-proxy, 1.9+ scheduler, 1.10 apiserver
                and controller-manager, kubectl): "Error: unknown flag: --foo",
                the usage, then main's "error: ..." (main_error), exit 1;
                -h/--help: the help on stdout, exit 0.
      "pflag"   spf13/pflag's CommandLine with ExitOnError (the 1.7-1.9
                apiserver, controller-manager, kubelet, 1.7/1.8 scheduler):
                "unknown flag: --foo", "Usage of ARGV0:" and the flags on
                stderr, exit 2; --help / -h too print the usage and exit 2.
      "kubelet" the 1.10 kubelet's own flag set under a cobra command with
                DisableFlagParsing: the usage on stderr, then glog.Fatal's
                "F... server.go:145] unknown flag: --foo", exit 255.
      "goflag"  Go's flag package (flanneld): "flag provided but not defined:
                -foo", usage, exit 2.
    A flag marked deprecated (table "!msg") still works and prints pflag's
    "Flag --name has been deprecated, msg" on stderr when given.
    """

    def __init__(self, prog, style="cobra"):
        self.prog = prog
        self.style = style
        self.defs = {}
        self.short = {}
        self.values = {}
        self.changed = set()
        self.args = []
        self.off = set()         # defined by the code, not a flag of this version
        self.deprecated = {}
        self.ptypes = {}         # the real pflag type names (usage text)
        self.main_error = None   # cobra mains: fmt.Fprintf(os.Stderr, main_error, err)
        self.old_pflag = MINOR <= 9  # pflag before 2018: 'for --name:' in value errors
        # WordSepNormalizeFunc ("_" = "-"): pflag.CommandLine and the 1.10
        # kubelet's flag set have it, the cobra commands of 1.7-1.10 do not
        # (kube_flags turns it off for them); Go's flag package never.
        self.normalize = style != "goflag"

    def add(self, name, kind="string", default=None, short=None, help=""):
        if default is None:
            default = {"bool": False, "int": 0, "float": 0.0, "duration": 0.0,
                       "strings": [], "list": [], "version": "false"}.get(kind, "")
        if kind == "duration" and isinstance(default, str):
            default = parse_duration(default)
        name = self._norm(name)
        self.defs[name] = (kind, default, help)
        self.values[name] = list(default) if isinstance(default, list) else default
        if short:
            self.short[short] = name
        return self

    def many(self, kind, names, default=None):
        for n in names.split():
            if "=" in n:
                n, d = n.split("=", 1)
                self.add(n, kind, self._conv(n, kind, d) if kind != "strings" else
                         [x for x in d.split(",") if x])
            else:
                self.add(n, kind, default)
        return self

    def use_table(self, table):
        """Make the flag set exactly the real program's for MINOR (a
        FlagTable): flags the code defines but that version lacks are refused
        (their defaults stay readable), the version's other flags are accepted
        with their pflag kinds, deprecations warn."""
        spec = table.for_minor(MINOR)
        for name in self.defs:
            if name not in spec:
                self.off.add(name)
        for name, (ptype, short, dep) in spec.items():
            kind = pflag_kind(ptype)
            if name in self.defs:
                have = self.defs[name][0]
                if (have in ("bool", "version")) != (kind in ("bool", "version")):
                    raise RuntimeError("%s: --%s is %s in the code but %s in 1.%d" % (
                        self.prog, name, have, ptype, MINOR))
            else:
                self.add(name, kind)
            if short:
                self.short[short] = name
            if dep:
                self.deprecated[name] = dep
            self.ptypes[name] = ptype
        for c, n in list(self.short.items()):
            if n in self.off:
                del self.short[c]
        if "help" in spec:
            self.help_flag = True
        return self

    help_flag = False

    def __getitem__(self, name):
        return self.values[name]

    def __contains__(self, name):
        return name in self.changed

    def known(self, name):
        return name in self.defs and name not in self.off

    def _norm(self, name):
        return name.replace("_", "-") if self.normalize else name

    def _conv(self, name, kind, val):
        try:
            if kind == "bool":
                if val not in _GO_BOOL:
                    raise ValueError('strconv.ParseBool: parsing "%s": invalid syntax' % val)
                return _GO_BOOL[val]
            if kind == "int":
                if not re.fullmatch(r"[+-]?\d+", val):
                    raise ValueError('strconv.ParseInt: parsing "%s": invalid syntax' % val)
                return int(val)
            if kind == "float":
                return float(val)
            if kind == "duration":
                return parse_duration(val)
            return val
        except ValueError as e:
            if self.style == "goflag":
                raise FlagError('invalid value "%s" for flag -%s: %s' % (val, name, e))
            if self.old_pflag and self.style != "kubelet":
                raise FlagError('invalid argument "%s" for --%s: %s' % (val, name, e))
            raise FlagError('invalid argument "%s" for "--%s" flag: %s' % (val, name, e))

    def _set(self, name, val):
        kind = self.defs[name][0]
        if kind == "strings":
            if name not in self.changed:
                self.values[name] = []
            self.values[name] += [x.strip() for x in val.split(",") if x.strip()] if val else []
        elif kind == "list":
            if name not in self.changed:
                self.values[name] = []
            self.values[name].append(val)
        elif kind == "version":
            if val not in ("raw",) and val not in _GO_BOOL:
                raise FlagError('invalid argument "%s" for "--version" flag: '
                                'strconv.ParseBool: parsing "%s": invalid syntax' % (val, val))
            self.values[name] = "raw" if val == "raw" else ("true" if _GO_BOOL[val] else "false")
        else:
            self.values[name] = self._conv(name, kind, val)
        self.changed.add(name)
        if name in self.deprecated:
            sys.stderr.write("Flag --%s has been deprecated, %s\n" % (name, self.deprecated[name]))
            sys.stderr.flush()

    def _flag_lines(self):
        out = []
        for n in sorted(self.defs):
            if n in self.off or n in self.deprecated:
                continue
            kind = self.defs[n][0]
            sh = [s for s, v in self.short.items() if v == n]
            lead = ("  -%s, --%s" % (sh[0], n)) if sh else ("      --%s" % n)
            out.append(("%s %s" % (lead, self.ptypes.get(n, kind) if kind not in (
                "bool", "version") else "")).rstrip())
        return "\n".join(out) + "\n"

    def usage(self, out=None):
        out = out or sys.stderr
        if self.style == "goflag":
            out.write("Usage: %s [OPTION]...\n" % self.prog)
            for n in sorted(self.defs):
                kind, default, h = self.defs[n]
                out.write("  -%s%s\n    \t%s\n" % (n, "" if kind == "bool" else " " + kind, h))
        elif self.style == "pflag":
            out.write("Usage of %s:\n%s" % (sys.argv[0] if sys.argv else self.prog,
                                             self._flag_lines()))
        else:
            out.write("Usage:\n  %s [flags]\n\nFlags:\n%s" % (self.prog, self._flag_lines()))

    def help(self):
        """-h/--help: pflag's CommandLine prints the usage and exits 2 (no
        ErrHelp special case before 2018); cobra prints the help on stdout."""
        if self.style in ("pflag", "goflag"):
            self.usage()
            sys.exit(2 if self.style == "pflag" else 0)
        self.usage(sys.stdout)
        sys.exit(0)

    def fail(self, msg):
        if self.style == "pflag":
            sys.stderr.write("%s\n" % msg)
            self.usage()
            sys.exit(2)
        if self.style == "kubelet":
            self.usage()
            sys.stderr.flush()
            _log("F", msg, depth=1, where="server.go:145")
            os._exit(255)
        if self.style == "goflag":
            sys.stderr.write("%s\n" % msg)
            self.usage()
            sys.exit(2)
        sys.stderr.write("Error: %s\n" % msg)
        self.usage()
        sys.stderr.write("\n")
        if self.main_error:
            sys.stderr.write(self.main_error % msg + "\n")
        sys.exit(1)

    def parse(self, argv, interspersed=True):
        try:
            self._parse(list(argv), interspersed)
        except FlagError as e:
            self.fail(str(e))
        return self.args

    def _parse(self, argv, interspersed):
        i = 0
        while i < len(argv):
            a = argv[i]
            i += 1
            if a == "--":
                self.args += argv[i:]
                return
            if not a.startswith("-") or a == "-":
                if not interspersed:
                    self.args += argv[i - 1:]
                    return
                self.args.append(a)
                continue
            if self.style == "goflag" or a.startswith("--"):
                body = a[2:] if a.startswith("--") else a[1:]
                if (self.style == "goflag" and (body.startswith("-") or body.startswith("="))) \
                        or (self.style != "goflag" and (not body or body[0] in "-=")):
                    raise FlagError("bad flag syntax: %s" % a)
                raw, eq, val = body.partition("=")
                name = self._norm(raw)
                if name in ("help", "h") and not self.known(name):
                    if self.style == "goflag" or name == "help":
                        self.help()
                if not self.known(name):
                    if self.style != "goflag":
                        raise FlagError("unknown flag: --%s" % raw)
                    raise FlagError("flag provided but not defined: -%s" % raw)
                kind = self.defs[name][0]
                if name == "help" and self.help_flag:
                    if not eq or _GO_BOOL.get(val):
                        self.help()
                    continue
                if kind in ("bool", "version"):
                    self._set(name, val if eq else "true")
                    continue
                if not eq:
                    if i >= len(argv):
                        if self.style != "goflag":
                            raise FlagError("flag needs an argument: %s" % a)
                        raise FlagError("flag needs an argument: -%s" % name)
                    val = argv[i]
                    i += 1
                self._set(name, val)
                continue
            # pflag shorthand(s)
            body = a[1:]
            while body:
                c = body[0]
                if c not in self.short:
                    if c == "h":
                        self.help()
                    raise FlagError("unknown shorthand flag: '%s' in -%s" % (c, body))
                name = self.short[c]
                if name == "help":
                    self.help()
                kind = self.defs[name][0]
                rest = body[1:]
                if kind in ("bool", "version"):
                    if rest.startswith("="):
                        self._set(name, rest[1:])
                        rest = ""
                    else:
                        self._set(name, "true")
                    body = rest
                    continue
                if rest.startswith("="):
                    val = rest[1:]
                elif rest:
                    val = rest
                else:
                    if i >= len(argv):
                        raise FlagError("flag needs an argument: '%s' in -%s" % (c, c))
                    val = argv[i]
                    i += 1
                self._set(name, val)
                body = ""

    def env_defaults(self, prefix):
        """flanneld's flagutil.SetFlagsFromEnv: PREFIX_SOME_FLAG for unset flags."""
        for n in self.defs:
            if n in self.changed:
                continue
            v = os.environ.get(prefix + "_" + n.upper().replace("-", "_"))
            if v:
                try:
                    self._set(n, v)
                except FlagError as e:
                    self.fail(str(e))


# pflag value types -> our kinds (everything else parses as a string)
_PFLAG_KINDS = {"bool": "bool", "int": "int", "int32": "int", "int64": "int", "uint": "int",
                "uint32": "int", "uint64": "int", "Level": "int", "float32": "float",
                "float64": "float", "duration": "duration", "stringSlice": "strings",
                "stringArray": "list", "version": "version"}


def pflag_kind(ptype):
    return _PFLAG_KINDS.get(ptype, "string")


class FlagTable:
    """The flag set of one real Kubernetes program in each minor it knows.

    Text: sections "@1.N SOURCE".  The first is complete, one flag a line:
    "name pflag-type [-s] [>=1.N.P] [!deprecation message]" (-s: its
    shorthand; >=1.N.P: only from that patch release on).  A later section
    "@1.M < 1.N SOURCE" is 1.N's set changed by "+name ..." lines (added or
    replaced) and "-name" lines (gone).  A line "!key message" names a
    deprecation message that flags then give as "!=key".  "#" starts a
    comment line.  Minors without a section use the nearest one."""

    def __init__(self, text):
        self.sets = {}
        msgs = {}
        cur = None
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("!"):
                key, _, msg = line[1:].partition(" ")
                msgs[key] = msg.strip()
                continue
            if line.startswith("@"):
                m = re.match(r"@1\.(\d+)(?:\s*<\s*1\.(\d+))?", line)
                minor = int(m.group(1))
                cur = dict(self.sets[int(m.group(2))]) if m.group(2) else {}
                self.sets[minor] = cur
                continue
            op = ""
            if line[0] in "+-":
                op, line = line[0], line[1:]
            head, _, dep = line.partition(" !")
            parts = head.split()
            if op == "-":
                if parts[0] not in cur:
                    raise ValueError("FlagTable: -%s is not in the set" % parts[0])
                del cur[parts[0]]
                continue
            short, since = None, 0
            for tok in parts[2:]:
                if tok.startswith(">="):
                    since = int(tok.rsplit(".", 1)[1])
                elif tok.startswith("-"):
                    short = tok[1:]
            dep = dep.strip()
            if dep.startswith("="):
                dep = msgs[dep[1:]]
            cur[parts[0]] = (parts[1], short, dep or None, since)

    def for_minor(self, minor, patch=None):
        """{name: (pflag type, shorthand, deprecation)} of 1.MINOR.PATCH"""
        patch = PATCH if patch is None else patch
        near = minor if minor in self.sets else min(self.sets, key=lambda m: (abs(m - minor), -m))
        return {n: v[:3] for n, v in self.sets[near].items()
                if near != minor or patch >= v[3]}


def add_glog_flags(f):
    """The glog/klog flags every Kubernetes binary of that era accepts."""
    f.add("alsologtostderr", "bool")
    f.add("log-backtrace-at", "string", ":0")
    f.add("log-dir", "string")
    f.add("logtostderr", "bool", True)
    f.add("stderrthreshold", "string", "2")
    f.add("v", "int", 0, short="v")
    f.add("vmodule", "string")
    f.add("log-flush-frequency", "duration", "5s")
    f.add("version", "version")
    return f


def cli_style(prog, minor=None):
    """How the real PROG of that minor parses its command line (Flags' styles):
    kube-proxy is a cobra command from 1.7, the scheduler from 1.9, the
    apiserver and controller-manager from 1.10; the kubelet parses its own
    flag set from 1.10; the others use pflag.CommandLine."""
    minor = MINOR if minor is None else minor
    if prog == "kube-proxy":
        return "cobra"
    if prog == "kube-scheduler":
        return "cobra" if minor >= 9 else "pflag"
    if prog == "kubelet":
        return "kubelet" if minor >= 10 else "pflag"
    return "cobra" if minor >= 10 else "pflag"


def kube_flags(prog):
    f = Flags(prog, cli_style(prog))
    if f.style == "cobra":
        f.main_error = "error: %s"
        f.normalize = False
    return add_glog_flags(f)


def handle_kube_version(f):
    """verflag.PrintAndExitIfRequested + glog verbosity."""
    global VERBOSITY
    VERBOSITY = f["v"]
    if f["version"] == "raw":
        print("%s" % version_info_go(version_info()))
        sys.exit(0)
    if f["version"] == "true":
        print("Kubernetes v%s" % VERSION)
        sys.exit(0)


# ------------------------------------------------------------------- YAML --
class YAMLError(Exception):
    pass


def _strip_comment(line):
    q = None
    for i, ch in enumerate(line):
        if q:
            if ch == q:
                q = None
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t:-[{,"):
            q = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(s):
    s = s.strip()
    if s.startswith('"'):
        end = _quote_end(s, 0)
        try:
            return json.loads(s[:end + 1])
        except ValueError:
            return s[1:end]
    if s.startswith("'"):
        end = _quote_end(s, 0)
        return s[1:end].replace("''", "'")
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    if s in ("true", "True", "TRUE"):
        return True
    if s in ("false", "False", "FALSE"):
        return False
    if re.fullmatch(r"[-+]?(0|[1-9]\d*)", s):
        return int(s)
    return s


def _quote_end(s, start):
    q = s[start]
    i = start + 1
    while i < len(s):
        if q == '"' and s[i] == "\\":
            i += 2
            continue
        if s[i] == q:
            if q == "'" and i + 1 < len(s) and s[i + 1] == "'":
                i += 2
                continue
            return i
        i += 1
    raise YAMLError("unterminated quoted scalar: %s" % s)


def _flow(s, i):
    """Parse a flow collection or scalar at s[i]; return (value, next_i)."""
    while i < len(s) and s[i] in " \t":
        i += 1
    if i < len(s) and s[i] in "[{":
        close = "]" if s[i] == "[" else "}"
        is_map = s[i] == "{"
        out = {} if is_map else []
        i += 1
        while True:
            while i < len(s) and s[i] in " \t,":
                i += 1
            if i >= len(s):
                raise YAMLError("unterminated flow collection")
            if s[i] == close:
                return out, i + 1
            if is_map:
                key, i = _flow_scalar(s, i, ":" + close + ",")
                while i < len(s) and s[i] in " \t":
                    i += 1
                if i < len(s) and s[i] == ":":
                    val, i = _flow(s, i + 1)
                else:
                    val = None
                out[key] = val
            else:
                val, i = _flow(s, i)
                out.append(val)

    return _flow_scalar(s, i, ",]}")


def _flow_scalar(s, i, stops):
    while i < len(s) and s[i] in " \t":
        i += 1
    if i < len(s) and s[i] in "'\"":
        end = _quote_end(s, i)
        return _scalar(s[i:end + 1]), end + 1
    j = i
    while j < len(s):
        if s[j] in ",]}":
            break
        if s[j] == ":" and ":" in stops and (j + 1 >= len(s) or s[j + 1] in " \t,]}"):
            break
        j += 1
    return _scalar(s[i:j]), j


class _YAML:
    def __init__(self, text):
        self.lines = text.split("\n")
        self.i = 0

    def peek(self):
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            c = _strip_comment(raw).rstrip()
            st = c.strip()
            if st == "" or st in ("---", "...") or st.startswith("%"):
                self.i += 1
                continue
            if "\t" in c[:len(c) - len(c.lstrip())]:
                raise YAMLError("line %d: found a tab character where an indentation "
                                "space is expected" % (self.i + 1))
            return len(c) - len(c.lstrip(" ")), st
        return None

    @staticmethod
    def is_seq(c):
        return c == "-" or c.startswith("- ")

    def node(self, indent):
        p = self.peek()
        if p is None or p[0] < indent:
            return None
        ind, c = p
        if self.is_seq(c):
            return self.seq(ind)
        if c[0] in "[{" or not self._key_split(c):
            self.i += 1
            return self.value(c, ind)
        return self.map(ind)

    @staticmethod
    def _key_split(c):
        if c[0] in "'\"":
            try:
                end = _quote_end(c, 0)
            except YAMLError:
                return None
            rest = c[end + 1:].lstrip()
            if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
                return _scalar(c[:end + 1]), rest[1:].strip()
            return None
        m = re.match(r"^([^:]*?):(?:\s+(.*))?$", c)
        if not m or not m.group(1) or m.group(1)[0] in "[{":
            return None
        return m.group(1).strip(), (m.group(2) or "").strip()

    def value(self, rest, ind):
        if rest in ("|", "|-", "|+", ">", ">-", ">+"):
            return self.block_scalar(ind, rest)
        if rest[0] in "[{":
            v, j = _flow(rest, 0)
            if rest[j:].strip():
                raise YAMLError("line %d: junk after flow collection" % self.i)
            return v
        return _scalar(rest)

    def block_scalar(self, ind, style):
        out = []
        block_ind = None
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.strip() == "":
                out.append("")
                self.i += 1
                continue
            li = len(raw) - len(raw.lstrip(" "))
            if li <= ind:
                break
            if block_ind is None:
                block_ind = li
            out.append(raw[block_ind:])
            self.i += 1
        while out and out[-1] == "" and style[-1] != "+":
            out.pop()
        text = "\n".join(out) if style[0] == "|" else " ".join(x for x in out)
        if style[-1] != "-":
            text += "\n"
        return text

    def seq(self, ind):
        out = []
        while True:
            p = self.peek()
            if p is None or p[0] != ind or not self.is_seq(p[1]):
                return out
            c = p[1]
            rest = c[1:].lstrip()
            if rest == "":
                self.i += 1
                out.append(self.node(ind + 1))
                continue
            col = ind + len(c) - len(rest)
            if self.is_seq(rest):
                self.lines[self.i] = " " * col + rest  # compact nested sequence
                out.append(self.seq(col))
            elif rest[0] not in "[{" and self._key_split(rest):
                self.lines[self.i] = " " * col + rest  # compact nested mapping
                out.append(self.map(col))
            else:
                self.i += 1
                out.append(self.value(rest, ind))

    def map(self, ind):
        out = {}
        while True:
            p = self.peek()
            if p is None or p[0] != ind or self.is_seq(p[1]):
                if p is not None and p[0] > ind:
                    raise YAMLError("line %d: bad indentation" % (self.i + 1))
                return out
            kv = self._key_split(p[1])
            if kv is None:
                raise YAMLError("line %d: could not find expected ':'" % (self.i + 1))
            key, rest = kv
            self.i += 1
            if rest == "":
                q = self.peek()
                if q is not None and (q[0] > ind or (q[0] == ind and self.is_seq(q[1]))):
                    out[key] = self.node(q[0])
                else:
                    out[key] = None
            else:
                out[key] = self.value(rest, ind)


def yaml_load(text):
    s = text.strip()
    if s.startswith("{") or s.startswith("["):
        try:
            return json.loads(s)
        except ValueError:
            pass
    y = _YAML(text)
    v = y.node(0)
    if y.peek() is not None:
        raise YAMLError("line %d: unexpected content" % (y.i + 1))
    return v


# -------------------------------------------------------------------- TLS --
def _tmp_pem(data):
    fd, path = tempfile.mkstemp(prefix="standin-", suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def client_ctx(cafile=None, cadata=None, certfile=None, keyfile=None,
               certdata=None, keydata=None, insecure=False):
    """TLS client context.  The server name is checked against the
    certificate's subjectAltName (no CN fallback)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif cafile or cadata:
        if cafile:
            ctx.load_verify_locations(cafile=cafile)
        if cadata:
            ctx.load_verify_locations(cadata=cadata if isinstance(cadata, str)
                                      else cadata.decode())
    else:
        ctx.load_default_certs()
    tmp = []
    try:
        if certdata:
            certfile = _tmp_pem(certdata)
            tmp.append(certfile)
        if keydata:
            keyfile = _tmp_pem(keydata)
            tmp.append(keyfile)
        if certfile:
            ctx.load_cert_chain(certfile, keyfile or None)
    finally:
        for p in tmp:
            os.unlink(p)
    return ctx


def server_ctx(certfile, keyfile, client_ca=None, require_client_cert=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    if client_ca:
        ctx.load_verify_locations(cafile=client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def peer_identity(cert):
    """(user, [groups]) of an x509 client cert: CN and the O values."""
    user, groups = None, []
    for rdn in (cert or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                user = v
            elif k == "organizationName":
                groups.append(v)
    return user, groups


def read_file_or_die(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        die("%s: open %s: %s" % (what, path, e.strerror.lower() if e.strerror else e))


def check_pem(path, what, kinds):
    data = read_file_or_die(path, what)
    if not any(b"-----BEGIN " + k.encode() in data for k in kinds):
        die("%s: data does not contain any valid %s in %s" % (what, " or ".join(kinds), path))
    return data


# ------------------------------------------------------------ HTTP client --
class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def http_request(url, method="GET", body=None, headers=None, ctx=None, timeout=10):
    """-> (status, headers, body bytes).  Raises OSError/ssl.SSLError on
    transport failure.  url may be unix:///path/sock + path via '#'? no:
    use http_unix for sockets."""
    u = urllib.parse.urlsplit(url)
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx,
                                           timeout=timeout)
    elif u.scheme == "http":
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    else:
        raise OSError("unsupported URL scheme %r in %s" % (u.scheme, url))
    return _do(conn, method, path, body, headers)


def http_unix(sock_path, path, method="GET", body=None, headers=None, timeout=10):
    return _do(UnixHTTPConnection(sock_path, timeout), method, path, body, headers)


def _do(conn, method, path, body, headers):
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, r.headers, data
    finally:
        conn.close()


def describe_conn_error(e):
    """A Go-ish description of a transport error."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return "x509: %s" % (e.verify_message or e)
    if isinstance(e, ssl.SSLEOFError) or (isinstance(e, ssl.SSLError) and "ALERT" in str(e.reason)):
        return "remote error: tls: bad certificate"
    if isinstance(e, ssl.SSLError):
        return "tls: %s" % str(e.reason or e).lower().replace("_", " ")
    if isinstance(e, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(e, socket.timeout):
        return "i/o timeout"
    return str(e)


# ------------------------------------------------------------- kubeconfig --
class KubeConfigError(Exception):
    pass


def _resolve(base, p):
    if not p:
        return p
    p = os.path.expanduser(p)
    return p if os.path.isabs(p) else os.path.join(base, p)


class KubeClient:
    """A client for the apiserver made from a kubeconfig (or a bare --master)."""

    def __init__(self, server, ctx=None, token=None, basic=None, user_desc=""):
        self.server = server.rstrip("/")
        self.ctx = ctx
        self.token = token
        self.basic = basic
        self.user_desc = user_desc

    def request(self, method, path, body=None, ctype=None, timeout=10):
        headers = {"Accept": "application/json", "User-Agent": "%s/v%s" % (PROG, VERSION)}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        elif self.basic:
            headers["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % self.basic).encode()).decode()
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers["Content-Type"] = ctype or "application/json"
        st, _, data = http_request(self.server + path, method, body, headers,
                                   self.ctx, timeout)
        try:
            obj = json.loads(data) if data[:1] in (b"{", b"[") else data.decode("utf-8", "replace")
        except ValueError:
            obj = data.decode("utf-8", "replace")
        return st, obj

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


def load_kubeconfig(path, master=None, context=None, overrides=None):
    """clientcmd: current-context -> cluster + user.  File paths in the
    kubeconfig are relative to its directory; *-data fields are base64."""
    overrides = overrides or {}
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise KubeConfigError("stat %s: %s" % (path, e.strerror.lower() if e.strerror else e))
    try:
        cfg = yaml_load(text) or {}
    except YAMLError as e:
        raise KubeConfigError("error loading config file \"%s\": yaml: %s" % (path, e))
    if not isinstance(cfg, dict):
        raise KubeConfigError("error loading config file \"%s\": not a mapping" % path)
    base = os.path.dirname(os.path.abspath(path))

    def named(section, name):
        for item in cfg.get(section) or []:
            if isinstance(item, dict) and item.get("name") == name:
                return item.get(section[:-1]) or {}
        return None

    ctxname = context or cfg.get("current-context")
    ctxobj = named("contexts", ctxname) if ctxname else None
    if ctxname and ctxobj is None and not (overrides.get("cluster") or master):
        raise KubeConfigError('invalid configuration: context was not found for '
                              'specified context: %s' % ctxname)
    ctxobj = ctxobj or {}
    cname = overrides.get("cluster") or ctxobj.get("cluster")
    uname = overrides.get("user") or ctxobj.get("user")
    cluster = (named("clusters", cname) if cname else None) or {}
    user = (named("users", uname) if uname else None) or {}
    server = master or overrides.get("server") or cluster.get("server")
    if not server:
        raise KubeConfigError("invalid configuration: no configuration has been provided")
    if "://" not in server:
        server = "https://" + server
    ctx = None
    if server.startswith("https://"):
        def data(obj, key):
            v = obj.get(key + "-data")
            return base64.b64decode(v) if v else None
        insecure = bool(overrides.get("insecure") or cluster.get("insecure-skip-tls-verify"))
        cafile = overrides.get("ca") or _resolve(base, cluster.get("certificate-authority"))
        certfile = overrides.get("cert") or _resolve(base, user.get("client-certificate"))
        keyfile = overrides.get("key") or _resolve(base, user.get("client-key"))
        try:
            ctx = client_ctx(cafile=cafile or None,
                             cadata=None if overrides.get("ca") else data(cluster, "certificate-authority"),
                             certfile=certfile or None, keyfile=keyfile or None,
                             certdata=None if overrides.get("cert") else data(user, "client-certificate"),
                             keydata=None if overrides.get("key") else data(user, "client-key"),
                             insecure=insecure)
        except (OSError, ssl.SSLError, ValueError) as e:
            raise KubeConfigError("invalid configuration: unable to load TLS material "
                                  "from %s: %s" % (path, e))
    token = overrides.get("token") or user.get("token")
    if not token and user.get("tokenFile"):
        try:
            token = open(_resolve(base, user["tokenFile"])).read().strip()
        except OSError as e:
            raise KubeConfigError("invalid configuration: %s" % e)
    basic = (user["username"], user.get("password", "")) if user.get("username") else None
    return KubeClient(server, ctx, token, basic, uname or "")


def client_from_flags(kubeconfig, master):
    """The clientcmd.BuildConfigFromFlags of the control-plane components."""
    if kubeconfig:
        return load_kubeconfig(kubeconfig, master=master or None)
    if master:
        if "://" not in master:
            master = "http://" + master
        return KubeClient(master, client_ctx() if master.startswith("https") else None)
    raise KubeConfigError("invalid configuration: no configuration has been provided")


# ------------------------------------------------------------ HTTP server --
class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"

    def log_message(self, fmt, *args):
        info("%s %s" % (self.address_string(), fmt % args), v=4)

    def _dispatch(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            peer = None
            if isinstance(self.connection, ssl.SSLSocket):
                peer = self.connection.getpeercert()
            res = self.server.app(self.command, self.path, self.headers, body, peer,
                                  self.client_address)
            code, ctype, data = res[:3]
            extra = res[3] if len(res) > 3 else {}
            if isinstance(data, (dict, list)):
                data = (json.dumps(data, indent=2) + "\n").encode()
            elif isinstance(data, str):
                data = data.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # keep serving; report like a Go panic handler
            error("handler panic on %s %s: %r" % (self.command, self.path, e))
            try:
                self.send_error(500)
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, app, ssl_ctx, name):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.name = name
        super().__init__(addr, _Handler)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)

    def finish_request(self, request, client_address):
        if self.ssl_ctx is not None:
            request.settimeout(10)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                # what Go's net/http logs for a refused client
                info("http: TLS handshake error from %s:%d: %s" % (
                    client_address[0], client_address[1], describe_conn_error(e)), v=0)
                return
            request.settimeout(None)
        try:
            _Handler(request, client_address, self)
        finally:
            if self.ssl_ctx is not None:
                try:
                    request.close()
                except OSError:
                    pass


def serve(host, port, app, ssl_ctx=None, name="http"):
    """Serve app(method, path, headers, body, peercert, client) -> (code,
    ctype, body[, headers]) on host:port in a daemon thread.  Exits the
    program (like a Go ListenAndServe failure) when the port is taken."""
    if host in ("", "0.0.0.0", "::"):
        host = "0.0.0.0" if host != "::" else "::"
    try:
        srv = _Server((host, port), app, ssl_ctx, name)
    except OSError as e:
        die("failed to listen on %s: listen tcp %s:%d: bind: %s" % (
            name, host, port, (e.strerror or str(e)).lower()))
    t = threading.Thread(target=srv.serve_forever, name=name, daemon=True)
    t.start()
    return srv


def healthz_app(extra=None):
    """/healthz -> ok (the plain healthz of the control-plane components)."""
    def app(method, path, headers, body, peer, client):
        p = path.split("?")[0]
        if extra:
            r = extra(method, p)
            if r is not None:
                return r
        if p in ("/healthz", "/healthz/ping", "/healthz/"):
            return 200, "text/plain; charset=utf-8", "ok"
        if p == "/metrics":
            return 200, "text/plain; version=0.0.4", "# stand-in: no metrics\n"
        return 404, "text/plain; charset=utf-8", "404 page not found\n"
    return app


def split_hostport(s, default_host="0.0.0.0"):
    if s.startswith("["):
        h, _, p = s[1:].partition("]:")
        return h, int(p)
    if s.count(":") == 1:
        h, p = s.split(":")
        return h or default_host, int(p)
    return s, None


# ------------------------------------------------------------------- etcd --
class EtcdError(Exception):
    pass


class EtcdUnavailable(EtcdError):
    pass


def etcd_tls(cafile, certfile, keyfile):
    if not (cafile or certfile):
        return None
    return client_ctx(cafile=cafile or None, certfile=certfile or None,
                      keyfile=keyfile or None)


class Etcd:
    """etcd over HTTP(S): the v3 JSON gateway (/v3/kv/*) and the v2 keys API.
    Tries the endpoints in order and fails over on transport errors."""

    def __init__(self, endpoints, ctx=None, timeout=5, auth=None):
        self.endpoints = [e.strip().rstrip("/") for e in endpoints if e.strip()]
        self.ctx = ctx
        self.timeout = timeout
        self.auth = auth
        self.good = 0

    def _req(self, method, path, body=None, headers=None, timeout=None):
        errs = []
        n = len(self.endpoints)
        for k in range(n):
            idx = (self.good + k) % n
            ep = self.endpoints[idx]
            h = dict(headers or {})
            if self.auth:
                h["Authorization"] = "Basic " + base64.b64encode(
                    ("%s:%s" % self.auth).encode()).decode()
            try:
                st, hd, data = http_request(ep + path, method, body, h,
                                            self.ctx if ep.startswith("https") else None,
                                            timeout or self.timeout)
            except (OSError, ssl.SSLError, http.client.HTTPException) as e:
                errs.append("%s: %s" % (ep, describe_conn_error(e)))
                continue
            self.good = idx
            return st, hd, data
        raise EtcdUnavailable("client: etcd cluster is unavailable or misconfigured; "
                              "error #0: " + "; ".join(errs))

    # ---- health
    def health(self, timeout=2):
        st, _, data = self._req("GET", "/health", timeout=timeout)
        try:
            return st == 200 and json.loads(data).get("health") in ("true", True)
        except ValueError:
            return False

    def version(self):
        st, _, data = self._req("GET", "/version")
        if st != 200:
            raise EtcdError("etcd /version: HTTP %d" % st)
        return json.loads(data)

    # ---- v3 gateway
    @staticmethod
    def _b64(s):
        return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()

    def _v3(self, op, req):
        st, _, data = self._req("POST", "/v3/" + op, json.dumps(req).encode(),
                                {"Content-Type": "application/json"})
        try:
            obj = json.loads(data)
        except ValueError:
            obj = {"error": data.decode("utf-8", "replace")}
        if st != 200:
            raise EtcdError("etcd v3 %s: HTTP %d: %s" % (op, st, obj.get("error") or obj.get("message")))
        return obj

    @staticmethod
    def _prefix_end(p):
        b = bytearray(p.encode())
        for i in range(len(b) - 1, -1, -1):
            if b[i] < 0xFF:
                b[i] += 1
                return bytes(b[:i + 1])
        return b"\0"

    def get(self, key):
        """-> (value bytes, mod_revision int) or None"""
        r = self._v3("kv/range", {"key": self._b64(key)})
        for kv in r.get("kvs") or []:
            return base64.b64decode(kv.get("value", "")), int(kv.get("mod_revision", 0))
        return None

    def range_prefix(self, prefix):
        r = self._v3("kv/range", {"key": self._b64(prefix),
                                  "range_end": self._b64(self._prefix_end(prefix))})
        out = []
        for kv in r.get("kvs") or []:
            out.append((base64.b64decode(kv["key"]).decode(),
                        base64.b64decode(kv.get("value", "")), int(kv.get("mod_revision", 0))))
        return out, int(r.get("header", {}).get("revision", 0))

    def put_if(self, key, value, mod_revision):
        """Atomic put: mod_revision 0 = only if absent, else only if unchanged.
        -> new revision, or None when the compare failed."""
        if mod_revision == 0:
            cmp = {"key": self._b64(key), "result": "EQUAL", "target": "CREATE",
                   "create_revision": "0"}
        else:
            cmp = {"key": self._b64(key), "result": "EQUAL", "target": "MOD",
                   "mod_revision": str(mod_revision)}
        r = self._v3("kv/txn", {"compare": [cmp], "success": [
            {"request_put": {"key": self._b64(key), "value": self._b64(value)}}]})
        if not r.get("succeeded"):
            return None
        return int(r.get("header", {}).get("revision", 0))

    def revision(self):
        r = self._v3("kv/range", {"key": self._b64("/"), "limit": "1", "count_only": True})
        return int(r.get("header", {}).get("revision", 0))

    def compact(self, revision):
        self._v3("kv/compaction", {"revision": str(revision)})

    def delete_if(self, key, mod_revision):
        cmp = {"key": self._b64(key), "result": "EQUAL", "target": "MOD",
               "mod_revision": str(mod_revision)}
        r = self._v3("kv/txn", {"compare": [cmp], "success": [
            {"request_delete_range": {"key": self._b64(key)}}]})
        return bool(r.get("succeeded"))

    # ---- v2 keys API (what flannel 0.9/0.10 uses)
    def v2(self, method, key, params=None, form=None):
        """-> (http status, decoded JSON).  etcd errors come back as JSON with
        errorCode (100 key not found, 105 key exists, 101 compare failed)."""
        path = "/v2/keys" + ("" if key.startswith("/") else "/") + key
        if params:
            path += "?" + urllib.parse.urlencode(params)
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        st, _, data = self._req(method, path, body, headers)
        try:
            return st, json.loads(data)
        except ValueError:
            if st == 404:
                raise EtcdError("etcd v2 API not available at %s (404): etcd 3.4 must "
                                "run with --enable-v2" % self.endpoints[self.good])
            raise EtcdError("etcd v2 %s %s: HTTP %d: %r" % (method, key, st, data[:200]))


# ------------------------------------------------------------------ misc --
def hostname():
    return socket.gethostname().lower()


def default_route_ip():
    """IPv4 address of the default route's interface (read locally: no
    socket is connected anywhere)."""
    name = default_route_iface()
    return iface_ipv4(name) if name else None


def hosts_ip(name):
    """the first non-loopback IPv4 address /etc/hosts gives NAME (no DNS)"""
    try:
        for line in open("/etc/hosts"):
            p = line.split("#")[0].split()
            if len(p) > 1 and name in p[1:] and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", p[0]) \
                    and not p[0].startswith("127."):
                return p[0]
    except OSError:
        pass
    return None


def default_route_iface():
    try:
        with open("/proc/net/route") as f:
            for l in list(f)[1:]:
                p = l.split()
                if len(p) > 2 and p[1] == "00000000":
                    return p[0]
    except OSError:
        pass
    return None


def iface_ipv4(name):
    import fcntl
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        r = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
        return socket.inet_ntoa(r[20:24])
    except OSError:
        return None
    finally:
        s.close()


def iface_mtu(name):
    try:
        with open("/sys/class/net/%s/mtu" % name) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def iface_by_ip(ip):
    for name in sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []:
        if iface_ipv4(name) == ip:
            return name
    # secondary addresses are invisible to SIOCGIFADDR: ask iproute2
    try:
        import subprocess
        out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                             text=True, timeout=5).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) > 3 and p[3].split("/")[0] == ip:
                return p[1].rstrip(":").split("@")[0]
    except (OSError, ValueError):
        pass
    return None


def ip2int(ip):
    return int.from_bytes(socket.inet_aton(ip), "big")


def int2ip(n):
    return socket.inet_ntoa(n.to_bytes(4, "big"))


def parse_cidr(s):
    """'10.244.0.0/16' -> (network int, prefix len).  ValueError if bad."""
    ip, _, plen = s.partition("/")
    if not plen:
        raise ValueError("invalid CIDR address: %s" % s)
    plen = int(plen)
    if not 0 <= plen <= 32:
        raise ValueError("invalid CIDR address: %s" % s)
    n = ip2int(ip)
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    return n & mask, plen


def new_uid():
    return str(uuid.uuid4())


def write_atomic(path, data, mode=0o644):
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, "." + os.path.basename(path))
    with open(tmp, "w") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def boot_id():
    try:
        return open("/proc/sys/kernel/random/boot_id").read().strip()
    except OSError:
        return ""


def machine_id():
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            return open(p).read().strip()
        except OSError:
            pass
    return ""


def os_image():
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


# ------------------------------------------------- control-plane helpers --
def leader_flags(f, lock_name=None):
    f.add("leader-elect", "bool", True)
    f.add("leader-elect-lease-duration", "duration", "15s")
    f.add("leader-elect-renew-deadline", "duration", "10s")
    f.add("leader-elect-retry-period", "duration", "2s")
    f.add("leader-elect-resource-lock", "string", "endpoints")
    if lock_name:
        f.add("lock-object-namespace", "string", "kube-system")
        f.add("lock-object-name", "string", lock_name)
    return f


class LeaderElector:
    """client-go leaderelection with an EndpointsLock: the record lives in
    the control-plane.alpha.kubernetes.io/leader annotation of the
    kube-system/<name> Endpoints object.  Losing the lease is fatal, as in
    the real components (systemd restarts them)."""

    ANN = "control-plane.alpha.kubernetes.io/leader"

    def __init__(self, client, ns, name, lease, renew, retry, on_lead):
        self.client = client
        self.ns = ns
        self.name = name
        self.lease = lease
        self.renew = renew
        self.retry = retry
        self.on_lead = on_lead
        self.id = "%s_%s" % (hostname(), new_uid())
        self.path = "/api/v1/namespaces/%s/endpoints/%s" % (ns, name)
        self.observed = (None, 0.0)

    def try_acquire(self):
        now = now_rfc3339()
        st, obj = self.client.get(self.path)
        rec = {"holderIdentity": self.id, "leaseDurationSeconds": int(self.lease),
               "acquireTime": now, "renewTime": now, "leaderTransitions": 0}
        if st == 404:
            body = {"kind": "Endpoints", "apiVersion": "v1", "metadata": {
                "name": self.name, "namespace": self.ns,
                "annotations": {self.ANN: json.dumps(rec)}}}
            st, obj = self.client.request("POST", "/api/v1/namespaces/%s/endpoints" % self.ns, body)
            if st == 201:
                return True
            raise OSError("create %s/%s: %s" % (self.ns, self.name, _msg(obj)))
        if st != 200:
            raise OSError("get %s/%s: %s" % (self.ns, self.name, _msg(obj)))
        try:
            old = json.loads((obj.get("metadata", {}).get("annotations") or {}).get(self.ANN) or "{}")
        except ValueError:
            old = {}
        holder = old.get("holderIdentity")
        if holder != self.observed[0] or old.get("renewTime") != getattr(self, "_seen_renew", None):
            self.observed = (holder, time.time())
            self._seen_renew = old.get("renewTime")
        if holder and holder != self.id and \
                self.observed[1] + float(old.get("leaseDurationSeconds") or self.lease) > time.time():
            return False
        if holder == self.id:
            rec["acquireTime"] = old.get("acquireTime", now)
            rec["leaderTransitions"] = old.get("leaderTransitions", 0)
        else:
            rec["leaderTransitions"] = int(old.get("leaderTransitions") or 0) + (1 if holder else 0)
        obj.setdefault("metadata", {}).setdefault("annotations", {})[self.ANN] = json.dumps(rec)
        st, res = self.client.request("PUT", self.path, obj)
        if st == 200:
            return True
        if st == 409:
            return False
        raise OSError("update %s/%s: %s" % (self.ns, self.name, _msg(res)))

    def run(self):
        info("attempting to acquire leader lease %s/%s..." % (self.ns, self.name))
        while True:
            try:
                if self.try_acquire():
                    break
            except (OSError, ssl.SSLError, http.client.HTTPException) as e:
                error("error retrieving resource lock %s/%s: %s" % (
                    self.ns, self.name, describe_conn_error(e)))
            time.sleep(self.retry)
        info("successfully acquired lease %s/%s" % (self.ns, self.name))
        threading.Thread(target=self.on_lead, daemon=True).start()
        last_ok = time.time()
        while True:
            time.sleep(self.retry)
            try:
                if self.try_acquire():
                    last_ok = time.time()
                    continue
            except (OSError, ssl.SSLError, http.client.HTTPException) as e:
                error("error renewing resource lock %s/%s: %s" % (
                    self.ns, self.name, describe_conn_error(e)))
            if time.time() - last_ok > self.renew:
                info("failed to renew lease %s/%s: timed out waiting for the condition" % (
                    self.ns, self.name))
                fatal("leaderelection lost")


def _msg(obj):
    return obj.get("message") if isinstance(obj, dict) else str(obj)[:200]


def watch_apiserver(client, what, period=5.0, on_ok=None):
    """Poll the apiserver's /healthz with the component's credentials and
    log every change (the real components' reflectors log their errors)."""
    state = None
    while True:
        try:
            st, body = client.get("/healthz", timeout=5)
            ok = st == 200
            why = "HTTP %d: %s" % (st, (body if isinstance(body, str) else _msg(body)).strip()[:200])
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            ok, why = False, "Get %s/healthz: %s" % (client.server, describe_conn_error(e))
        if ok and on_ok:
            on_ok()
        if ok != state:
            if ok:
                info("%s: apiserver %s is healthy (credentials accepted)" % (what, client.server))
            else:
                error("%s: cannot reach the apiserver: %s" % (what, why))
            state = ok
        time.sleep(period)
