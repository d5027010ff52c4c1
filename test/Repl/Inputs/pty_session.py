"""Drives `bpc repl` through a pseudo-terminal, as a person would: typed
keys with line editing (backspace, Ctrl-A, Ctrl-E), tab completion, then
Ctrl-D. Prints everything the terminal showed, for FileCheck, and the
history file bpc wrote.

usage: pty_session.py BPC HISTORY_FILE"""
import os
import re
import sys

from ptylib import Session

bpc, history = sys.argv[1], sys.argv[2]
if os.path.exists(history):
    os.remove(history)
t = Session(bpc, dict(os.environ, BP_HISTORY=history, TERM="xterm"))
t.read_until(b"bp> ")
# "1 + 3", backspace, "2": the line is "1 + 2".
t.type_keys("1 + 3\x7f2\r")
t.read_until(b": int")
t.read_until(b"bp> ")
# "+ 1", Ctrl-A, "41 ", Ctrl-E, Enter: the line is "41 + 1".
t.type_keys("+ 1\x0141 \x05\r")
t.read_until(b": int")
t.read_until(b"bp> ")
t.type_keys("fn myfunction(x: f64) -> f64 { return 2.0 * x }\r")
t.read_until(b"bp> ")
# Tab completes "myfu" to "myfunction".
t.type_keys("myfu\t(4.0)\r")
t.read_until(b": f64")
t.read_until(b"bp> ")
# An error keeps the session alive.
t.type_keys("nosuchname\r")
t.read_until(b"bp> ")
# A multi-line input shows the continuation prompt.
t.type_keys("sum([1.0,\r")
t.read_until(b"...> ")
t.type_keys("2.0])\r")
t.read_until(b": f64")
t.read_until(b"bp> ")
t.finish()
print("history:")
with open(history) as f:  # libedit writes octal escapes: \040 is a space
    sys.stdout.write(re.sub(r"\\([0-7]{3})",
                            lambda m: chr(int(m.group(1), 8)), f.read()))
