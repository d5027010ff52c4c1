"""Runs a command and prints `exit N` with its exit status (negative: killed
by signal -N), so lit tests can check exact exit codes."""
import subprocess
import sys

sys.stdout.flush()
r = subprocess.run(sys.argv[1:])
print("exit", r.returncode, flush=True)
