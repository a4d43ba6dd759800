#!/usr/bin/env python3
"""ptyrun: runs a command with its stderr on a pseudo-terminal of a given
width, as a user at a terminal would, and replays what it wrote there as
the terminal would show it (stdout goes to OUT.stdout).

    ptyrun.py COLS OUT [--stdin FILE] [--feed FILE BYTES] [--sigint-after BYTES]
              -- COMMAND...

Standard input is FILE (`--stdin`), or a pipe fed with the first BYTES of
FILE (`--feed`) and then held open, so that the command waits for more.
With --sigint-after, SIGINT goes to the command once the pipe took BYTES and
the command has drawn a line on the terminal.  Writes the raw bytes to OUT,
the screen's lines (after \\r, \\n and ESC[K) to OUT.screen, and prints one
line: `exit STATUS widest COLUMNS wrapped N`, where STATUS is the exit code
(128 + N for a signal), COLUMNS the widest run of characters written
between two returns or newlines, and N how many times a character was
written past the last column (the terminal would have wrapped)."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def main():
    args = sys.argv[1:]
    cols, out = int(args[0]), args[1]
    args = args[2:]
    stdin_file = feed = None
    sigint_after = None
    while args and args[0] != "--":
        if args[0] == "--stdin":
            stdin_file = args[1]
            args = args[2:]
        elif args[0] == "--feed":
            feed = (args[1], int(args[2]))
            args = args[3:]
        elif args[0] == "--sigint-after":
            sigint_after = int(args[1])
            args = args[2:]
        else:
            sys.exit("ptyrun: unknown option " + args[0])
    cmd = args[1:]

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    env = dict(os.environ, COLUMNS=str(cols))
    writer = None
    if feed:
        rfd, writer = os.pipe()
        stdin = rfd
    elif stdin_file:
        stdin = open(stdin_file, "rb")
    else:
        stdin = subprocess.DEVNULL
    stdout = open(out + ".stdout", "wb")
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=slave, env=env)
    stdout.close()
    os.close(slave)
    if feed:
        os.close(rfd)

    raw = bytearray()
    sent = 0
    interrupted = False
    if feed:
        with open(feed[0], "rb") as f:
            data = f.read(feed[1])
        os.set_blocking(writer, False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if feed and sent < len(data):
            try:
                sent += os.write(writer, data[sent:sent + 65536])
            except BlockingIOError:
                pass
        if (sigint_after is not None and not interrupted and sent >= sigint_after
                and b"\r" in raw):
            time.sleep(0.3)  # a progress record or two more
            proc.send_signal(signal.SIGINT)
            interrupted = True
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed
                chunk = b""
            if not chunk and proc.poll() is not None:
                break
            raw += chunk
        elif proc.poll() is not None:
            # Drain what is left.
            while select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                raw += chunk
            break
    else:
        proc.kill()
    rc = proc.wait()
    if writer is not None:
        os.close(writer)
    os.close(master)
    status = 128 - rc if rc < 0 else rc

    # Replay: a cursor column per line; ESC[K erases to the end of the line.
    text = raw.decode("utf-8", "replace")
    lines, line, col, widest, wrapped = [], [], 0, 0, 0
    i = 0
    while i < len(text):
        c = text[i]
        m = re.match(r"\x1b\[([0-9;]*)([A-Za-z])", text[i:])
        if m:
            if m.group(2) == "K":
                del line[col:]
            i += m.end()
            continue
        if c == "\r":
            col = 0
        elif c == "\n":
            lines.append("".join(line))
            line, col = [], 0
        elif c >= " ":
            if col >= cols:
                wrapped += 1
            if col < len(line):
                line[col] = c
            else:
                line.append(c)
            col += 1
            widest = max(widest, col)
        i += 1
    if line:
        lines.append("".join(line))
    with open(out, "wb") as f:
        f.write(raw)
    with open(out + ".screen", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("exit %d widest %d wrapped %d" % (status, widest, wrapped))


main()
