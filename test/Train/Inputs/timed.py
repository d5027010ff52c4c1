"""timed.py SECONDS CMD...: runs CMD, prints `exit N` with its exit status,
and `within SECONDS s` if it ended in time (else kills it and says so)."""
import subprocess
import sys

limit = float(sys.argv[1])
sys.stdout.flush()
p = subprocess.Popen(sys.argv[2:], start_new_session=True)
try:
    rc = p.wait(timeout=limit)
except subprocess.TimeoutExpired:
    import os, signal
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    print("still running after %g s: killed" % limit, flush=True)
    sys.exit(1)
print("exit", rc, flush=True)
print("within %g s" % limit, flush=True)
