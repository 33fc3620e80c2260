# SPDX-License-Identifier: LGPL-2.1-or-later
"""memhpd's audit records as written on stderr, parsed once for every Python test (tests/integration,
tests/vm):

    memhpd: onlined memory40 as movable: Zone=movable [event=onlined block=40 node=0 ...]

Each record becomes a dict of its bracketed fields, with the whole line under '_line'. Values are
single words (daemon/audit.c replaces blanks and ']' in them)."""
import re

AUDIT_RE = re.compile(r"\[(event=[^\]]*)\]\s*$")


def parse_audit_line(line):
    """The record on one line as a dict, or None if the line is no audit record."""
    line = line.rstrip("\r\n")
    m = AUDIT_RE.search(line)
    if not m:
        return None
    rec = {"_line": line}
    for kv in m.group(1).split():
        k, _, v = kv.partition("=")
        rec[k] = v
    return rec


def parse_audit(text):
    """Every audit record in 'text', in order."""
    return [r for r in map(parse_audit_line, text.splitlines()) if r is not None]
