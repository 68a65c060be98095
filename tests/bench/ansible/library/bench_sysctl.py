#!/usr/bin/python3
# A benchmark-only Ansible module: ansible-core has no sysctl module (it is in
# the ansible.posix collection, which Debian ships only inside the 260 MB
# `ansible` package).  It does what korch's agent `sysctl` does and what
# ansible.posix.sysctl does with sysctl_set=yes: `name = value` in `file`
# (other lines kept), then /proc/sys/<name> written if it differs and read
# back.  One Python module run per task, like any other module.
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


def main():
    m = AnsibleModule(argument_spec=dict(name=dict(required=True),
                                         value=dict(required=True),
                                         file=dict(required=True)),
                      supports_check_mode=False)
    name, value, path = m.params["name"], m.params["value"], m.params["file"]
    want = "%s = %s" % (name, value)
    changed = False
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    out, seen = [], False
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if key == name and not line.lstrip().startswith(("#", ";")):
            if not seen:
                out.append(want)
            seen = True
        else:
            out.append(line)
    if not seen:
        out.append(want)
    if out != lines:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(out) + "\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
        changed = True
    proc = "/proc/sys/" + name.replace(".", "/")
    with open(proc) as f:
        live = " ".join(f.read().split())
    if live != " ".join(value.split()):
        with open(proc, "w") as f:
            f.write(value)
        with open(proc) as f:
            if " ".join(f.read().split()) != " ".join(value.split()):
                m.fail_json(msg="%s reads back %r, not %r" % (proc, live, value))
        changed = True
    m.exit_json(changed=changed, name=name, value=value)


if __name__ == "__main__":
    main()
