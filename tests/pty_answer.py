#!/usr/bin/env python3
"""pty_answer.py INPUT... -- CMD...: run CMD on a pseudo-terminal and type each
INPUT after each "> " prompt ("^D" types Ctrl-D), as a person would; print what
the terminal showed and exit with CMD's exit status."""
import os, pty, select, sys, time

def main():
    sep = sys.argv.index("--")
    inputs, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen, typed, deadline = b"", 0, time.time() + 30
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            seen += data
        # a prompt not yet answered: the count of "> " in the output passed what we typed
        if seen.count(b"\n> ") + seen.startswith(b"> ") > typed and typed < len(inputs):
            s = inputs[typed]
            os.write(fd, b"\x04" if s == "^D" else s.encode() + b"\n")
            typed += 1
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode("utf-8", "replace").replace("\r\n", "\n"))
    sys.exit(os.waitstatus_to_exitcode(status))

if __name__ == "__main__":
    main()
