"""Ctrl-C in `bpc repl` on a terminal (test/Repl/interrupt.test): at the
prompt it drops the line being typed (and an unfinished input); during an
input it stops the running loop with `interrupted` and keeps the session.
Prints what the terminal showed and `exit N`.

usage: pty_interrupt.py BPC HISTORY_FILE"""
import os
import sys
import time

from ptylib import Session

bpc, history = sys.argv[1], sys.argv[2]
t = Session(bpc, dict(os.environ, BP_HISTORY=history, TERM="xterm"))
t.read_until(b"bp> ")
t.type_keys("fn twice(x: f64) -> f64 { return 2.0 * x }\r")
t.read_until(b"bp> ")
# Ctrl-C in the middle of a line: the line is dropped, a new prompt comes.
t.type_keys("this line is dropped")
t.type_keys("\x03")
t.read_until(b"bp> ")
# ... and in the middle of an unfinished multi-line input.
t.type_keys("sum([1.0,\r")
t.read_until(b"...> ")
t.type_keys("\x03")
t.read_until(b"bp> ")
t.type_keys("twice(21.0)\r")
t.read_until(b": f64")
t.read_until(b"bp> ")
# An endless loop (as a statement, then inside a function) is interrupted.
t.type_keys("var s = 0.0\r")
t.read_until(b"bp> ")
t.type_keys("while true { s = s + 1.0 }\r")
time.sleep(1.0)
t.type_keys("\x03")
t.read_until(b"interrupted")
t.read_until(b"bp> ")
t.type_keys("fn spin(n: int) -> int {\r")
t.read_until(b"...> ")
t.type_keys("  var k = 0\r  while k >= 0 { k = k + n }\r  return k\r}\r")
t.read_until(b"bp> ")
t.type_keys("spin(0)\r")
time.sleep(1.0)
t.type_keys("\x03")
t.read_until(b"interrupted")
t.read_until(b"bp> ")
# The session kept its definitions, and a later Ctrl-C-free input runs.
t.type_keys("s > 0.0\r")
t.read_until(b"bp> ")
t.type_keys("twice(1.5)\r")
t.read_until(b": f64")
t.read_until(b"bp> ")
t.finish()
