# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmark figures are written by the run that measured them, never typed in.

    with record.Record("bench/CTL.md", "Control channel: memhpctl against memhpd at 131072 blocks"):
        print(...)   # everything printed also goes into the file

The file says which command made it, when, and how busy the host was (CPUs, load average at the start
and at the end), then holds what the command printed. A run that fails writes nothing."""
import datetime
import io
import os
import shlex
import sys


def _load():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


class _Tee(io.TextIOBase):
    def __init__(self, out):
        self.out, self.buf = out, io.StringIO()

    def write(self, s):
        self.buf.write(s)
        return self.out.write(s)

    def flush(self):
        self.out.flush()


class Record:
    def __init__(self, path, title):
        self.path, self.title = path, title

    def __enter__(self):
        self.started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.load0 = _load()
        self.saved, self.tee = sys.stdout, _Tee(sys.stdout)
        sys.stdout = self.tee
        return self

    def __exit__(self, exc_type, exc, tb):
        sys.stdout = self.saved
        if exc_type is not None or not self.path:
            return False
        cmd = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])
        text = (f"# {self.title}\n\n"
                f"Written by `python3 {cmd}` (do not edit: run it again), started {self.started} "
                f"on {os.cpu_count()} CPUs, load average {self.load0} at the start and {_load()} at the end.\n\n"
                "```\n" + self.tee.buf.getvalue().rstrip("\n") + "\n```\n")
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.path)
        return False
