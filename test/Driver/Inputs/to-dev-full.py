"""Runs a command with its stdout on /dev/full (every write fails with
ENOSPC), its stderr onto ours, and prints `exit N` with its exit status."""
import subprocess
import sys

with open("/dev/full", "w") as full:
    r = subprocess.run(sys.argv[1:], stdout=full)
print("exit", r.returncode, flush=True)
