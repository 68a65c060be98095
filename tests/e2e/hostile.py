#!/usr/bin/env python3
"""Hostile values for tests/e2e/trust-values.sh (the unit table is
tests/unit/test_hostile.c): writes, for one test-bed host,

  DIR/values.json     the values, as lists of byte values
  DIR/ok.yaml         an inventory with every value that must load, as the
                      cluster vars h0, h1, ...
  DIR/bad-N.yaml      one inventory per value that must be refused; its line
                      in DIR/bad.json
  DIR/pb/             a playbook putting each loaded value in a unit file
                      (ExecStart= argv), a config file, an env file, an argv
                      element and a path
  DIR/pbpathN/        for a value N with a / or ..: a playbook writing the path
                      alone (values.json "paths")

usage: hostile.py DIR INVENTORY   (INVENTORY: the test bed's, one host)
"""
import json
import os
import sys

CANARY = "/tmp/korch-canary"
LOADS = [
    "'", '"', "it's \"quoted\"", "$(touch %s)" % CANARY, "`touch %s`" % CANARY,
    "; touch %s" % CANARY, "x;touch %s" % CANARY, "| touch %s" % CANARY,
    "&& touch %s" % CANARY, "x || touch %s" % CANARY,
    "--x ; /bin/touch %s" % CANARY, "\" ExecStartPre=\"/bin/touch %s" % CANARY,
    "' ExecStartPre='/bin/touch %s" % CANARY,
    "../../../../etc/cron.d/korch-hostile", "..", "../x", "a/../../b",
    "/etc/shadow", "${PATH}", "$PATH", "$$", "%n %h %%", "%", "\\", "a\\",
    "\\n", "#comment", "[Service]", "x = y", "{{ pki.ca_key }}", "*", "~root",
    "-rf /", "$((1+1))", "'; DROP TABLE hosts; --", "<script>", "%00",
    "caf\u00e9", "\U0001f433", "a b  c", "$(touch %s)'\"`" % CANARY,
    "x" * 4096,
]
REFUSED = [
    b"--x\nExecStartPre=/bin/touch " + CANARY.encode(),
    b"--x\r\nExecStartPre=/bin/touch " + CANARY.encode(),
    b"a\rb", b"a\0b", b"\xe2\x80\xae" b"evil", b"a\xe2\x80\x8bb",
    b"\xef\xbb\xbfbom", b"\xc0\xaf", b"\xc0\x80", b"\xe0\x80\xaf", b"\x80",
    b"\xff", b"\xed\xa0\x80", b"\x1b[31mred", b"a\tb", b"a\x7fb",
    b"A" * 65536, b"B" * 4097,
]


def yaml_dq(b):
    """A YAML double-quoted scalar of bytes b: controls escaped, bytes
    >= 0x80 raw (so bad UTF-8 reaches the reader)."""
    out = bytearray(b'"')
    for c in b:
        if c in (0x22, 0x5c):
            out += b"\\" + bytes([c])
        elif c == 0:
            out += b"\\0"
        elif c < 0x20 or c == 0x7f:
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return bytes(out + b'"')


def inventory(base, vars_lines):
    """base with a vars: block (each line bytes) under cluster:; and the
    line number of each var."""
    out, lines, n = [], [], 0
    for line in base.splitlines():
        out.append(line.encode())
        n += 1
        if line.startswith("  service_cidr:"):
            out.append(b"  vars:")
            n += 1
            for v in vars_lines:
                out.append(v)
                n += 1
                lines.append(n)
    return b"\n".join(out) + b"\n", lines


def main():
    d, inv = sys.argv[1], sys.argv[2]
    base = open(inv).read()
    ok, _ = inventory(base, [b"    h%d: " % i + yaml_dq(v.encode())
                             for i, v in enumerate(LOADS)])
    open(os.path.join(d, "ok.yaml"), "wb").write(ok)
    bad = []
    for i, v in enumerate(REFUSED):
        text, lines = inventory(base, [b"    h: " + yaml_dq(v)])
        open(os.path.join(d, "bad-%d.yaml" % i), "wb").write(text)
        bad.append(lines[0])
    pb = os.path.join(d, "pb")
    paths = []
    os.makedirs(os.path.join(pb, "templates"), exist_ok=True)
    steps = ["- name: base\n  hosts: [all]\n  tasks:\n"
             "    - name: dir\n      directory: { path: /srv/korch-hostile/d, parents: \"1\" }\n",
             "- name: h\n  hosts: [all]\n  needs: [base]\n  tasks:\n",
             "- name: paths\n  hosts: [all]\n  needs: [h]\n  tasks:\n"]
    # One oneshot unit, one ExecStart= per value (a unit per value would
    # have systemd reload 40 times on a loaded machine).
    unit = ("[Unit]\nDescription=korch hostile values {{ h0 }}\n\n"
            "[Service]\nType=oneshot\nRemainAfterExit=yes\n")
    for i in range(len(LOADS)):
        unit += ("ExecStart=/bin/sh -c 'printf \"%%%%s|\" \"$$@\" > /srv/korch-hostile/unit%d' sh {{ h%d }}\n"
                 % (i, i))
    open(os.path.join(pb, "templates", "h.service.tmpl"), "w").write(unit)
    steps[1] += "    - name: unit\n      service: { name: korch-hostile, unit_template: h.service.tmpl }\n"
    for i in range(len(LOADS)):
        open(os.path.join(pb, "templates", "h%d.conf.tmpl" % i), "w").write(
            "# hostile %d\nvalue={{ h%d }}\n" % (i, i))
        steps[1] += (
            "    - name: conf%d\n      file: { path: /srv/korch-hostile/conf%d, template: h%d.conf.tmpl }\n"
            "    - name: env%d\n      envfile: { path: /srv/korch-hostile/env, key: H%d, value: \"{{ h%d }}\" }\n"
            "    - name: arg%d\n      command: { argv: [/bin/sh, -c, 'printf %%s \"$1\" > /srv/korch-hostile/arg%d', sh, \"{{ h%d }}\"] }\n"
            % ((i,) * 9))
        task = ("    - name: path%d\n      file: { path: \"/srv/korch-hostile/d/{{ h%d }}\", content: \"x\" }\n"
                % (i, i))
        if "/" not in LOADS[i] and ".." not in LOADS[i] and len(LOADS[i]) < 255:
            steps[2] += task
            continue
        # A path that names another directory fails (no parent, or '..'),
        # and a failed task ends its host's run: one playbook each.
        one = os.path.join(d, "pbpath%d" % i)
        os.makedirs(one, exist_ok=True)
        open(os.path.join(one, "10-p.yaml"), "w").write(
            "- name: p\n  hosts: [all]\n  tasks:\n" + task)
        paths.append(i)
    open(os.path.join(pb, "10-h.yaml"), "w").write("".join(steps))
    json.dump({"loads": [list(v.encode()) for v in LOADS], "bad": bad,
               "paths": paths}, open(os.path.join(d, "values.json"), "w"))


main()
