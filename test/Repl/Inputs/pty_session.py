"""Drives `bpc repl` through a pseudo-terminal, as a person would: typed
keys with line editing (backspace, Ctrl-A, Ctrl-E), tab completion, then
Ctrl-D. Prints everything the terminal showed, for FileCheck, and the
history file bpc wrote.

usage: pty_session.py BPC HISTORY_FILE"""
import os
import re
import pty
import select
import sys
import time

bpc, history = sys.argv[1], sys.argv[2]
if os.path.exists(history):
    os.remove(history)
env = dict(os.environ, BP_HISTORY=history, TERM="xterm")

pid, fd = pty.fork()
if pid == 0:
    os.execve(bpc, [bpc, "repl"], env)

shown = b""


seen = 0  # how much of `shown` earlier waits consumed


def read_some(timeout):
    """Appends what the terminal shows within `timeout` seconds to `shown`;
    False once bpc closed the terminal."""
    global shown
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    shown += chunk
    return bool(chunk)


def read_until(marker, timeout=20.0):
    """Reads terminal output until `marker` appears after what earlier
    waits consumed, and consumes up to its end."""
    global seen
    deadline = time.time() + timeout
    while marker not in shown[seen:]:
        left = deadline - time.time()
        if left <= 0:
            sys.stdout.write(shown.decode(errors="replace"))
            sys.exit("timed out waiting for %r" % marker)
        if not read_some(left):
            break
    seen = shown.index(marker, seen) + len(marker)


def type_keys(keys):
    # libedit prints the prompt before it puts the terminal in raw mode; a
    # key typed in between would meet the kernel's line discipline (where
    # Ctrl-D is an end-of-file marker), so give it a moment.
    time.sleep(0.2)
    for k in keys:
        os.write(fd, k.encode())
        time.sleep(0.01)


read_until(b"bp> ")
# "1 + 3", backspace, "2": the line is "1 + 2".
type_keys("1 + 3\x7f2\r")
read_until(b": int")
read_until(b"bp> ")
# "+ 1", Ctrl-A, "41 ", Ctrl-E, Enter: the line is "41 + 1".
type_keys("+ 1\x0141 \x05\r")
read_until(b": int")
read_until(b"bp> ")
type_keys("fn myfunction(x: f64) -> f64 { return 2.0 * x }\r")
read_until(b"bp> ")
# Tab completes "myfu" to "myfunction".
type_keys("myfu\t(4.0)\r")
read_until(b": f64")
read_until(b"bp> ")
# An error keeps the session alive.
type_keys("nosuchname\r")
read_until(b"bp> ")
# A multi-line input shows the continuation prompt.
type_keys("sum([1.0,\r")
read_until(b"...> ")
type_keys("2.0])\r")
read_until(b": f64")
read_until(b"bp> ")
type_keys("\x04")
deadline = time.time() + 20
while time.time() < deadline:  # the rest, until bpc closes the terminal
    if not read_some(0.5):
        break
else:
    os.kill(pid, 9)
    print("bpc did not end after Ctrl-D")
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace").replace("\r", ""))
print("\nexit", os.waitstatus_to_exitcode(status))
print("history:")
with open(history) as f:  # libedit writes octal escapes: \040 is a space
    sys.stdout.write(re.sub(r"\\([0-7]{3})",
                            lambda m: chr(int(m.group(1), 8)), f.read()))
