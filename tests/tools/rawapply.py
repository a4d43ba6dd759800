#!/usr/bin/env python3
"""rawapply: an apply on strata's native socket, as any client could send it,
with an fd of a kind the strata CLI would never pass.

    rawapply.py SOCKET KEY KIND

KIND: dir (/), chardev (/dev/zero), socket (one end of a socketpair),
eventfd, file (a regular file holding an empty tar), pipe (an anonymous
pipe holding an empty tar), opath and wronly (an O_PATH and a write-only
fd of a regular file holding an empty tar: neither can read it).  Sends NM_APPLY_LAYER (proto/native.h) with
ApplyLayerRequest{key} and that fd, reads the records of the answer and
prints `CODE TEXT` of its status (0 for OK).  Exit 0 once a status came."""
import os
import socket
import struct
import sys
import tempfile

MAGIC = 0x53545241
NM_APPLY_LAYER = 101
NATIVE_STATUS = 2
EMPTY_TAR = b"\0" * 1024


def layer_fd(kind):
    if kind == "dir":
        return os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    if kind == "chardev":
        return os.open("/dev/zero", os.O_RDONLY)
    if kind == "socket":
        a, _ = socket.socketpair()
        return os.dup(a.fileno())
    if kind == "eventfd":
        return os.eventfd(0)
    if kind == "file":
        f = tempfile.TemporaryFile()
        f.write(EMPTY_TAR)
        f.seek(0)
        return os.dup(f.fileno())
    if kind in ("opath", "wronly"):
        f = tempfile.NamedTemporaryFile()
        f.write(EMPTY_TAR)
        f.flush()
        fd = os.open(f.name, os.O_PATH if kind == "opath" else os.O_WRONLY | os.O_APPEND)
        f.close()
        return fd
    if kind == "pipe":
        r, w = os.pipe()
        os.write(w, EMPTY_TAR)
        os.close(w)
        return r
    sys.exit("rawapply: unknown kind " + kind)


def main():
    path, key, kind = sys.argv[1:4]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    payload = b"\x0a" + bytes([len(key)]) + key.encode()  # field 1: key
    req = struct.pack("<IIII", MAGIC, NM_APPLY_LAYER, 1, len(payload)) + payload
    socket.send_fds(s, [req], [layer_fd(kind)])
    while True:
        rec = s.recv(256 * 1024)
        if not rec:
            sys.exit("rawapply: the daemon closed the connection")
        magic, rkind, _, code, n = struct.unpack("<IIIII", rec[:20])
        if rkind == NATIVE_STATUS:
            print(code, rec[20 : 20 + n].decode(errors="replace"))
            return


main()
