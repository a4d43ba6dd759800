#!/usr/bin/env python3
"""sdactivate: starts a program the way systemd's socket activation does,
for tests/integration/metrics.sh.

    sdactivate.py SOCKET... -- PROGRAM ARGS...

Each SOCKET is `stream:PATH`, `seqpacket:PATH` or `tcp:HOST:PORT`; they
are bound and listening on fds 3, 4, ... in that order, and PROGRAM runs
with LISTEN_FDS, LISTEN_PID (its own pid) and LISTEN_FDNAMES set, as
sd_listen_fds(3) expects.  Socket files are left for the program."""
import os
import socket
import sys


def bind(spec):
    kind, _, where = spec.partition(":")
    if kind == "tcp":
        host, _, port = where.rpartition(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if kind == "stream" else socket.SOCK_SEQPACKET)
        s.bind(where)
        os.chmod(where, 0o666)
    s.listen(16)
    return s


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit("usage: sdactivate.py SOCKET... -- PROGRAM ARGS...")
    cut = args.index("--")
    specs, prog = args[:cut], args[cut + 1:]
    socks = [bind(s) for s in specs]
    # Onto 3, 4, ...: staged above them first, so none is overwritten.
    staged = [os.dup2(s.fileno(), 100 + i) for i, s in enumerate(socks)]
    for s in socks:
        s.close()
    for i, fd in enumerate(staged):
        os.dup2(fd, 3 + i, inheritable=True)
        os.close(fd)
    os.environ["LISTEN_FDS"] = str(len(specs))
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDNAMES"] = ":".join(["strata"] * len(specs))
    os.execvp(prog[0], prog)


main()
