"""mpi_signal.py SIGNAL RANK MPIRUN ARGS...: runs `MPIRUN ARGS...` (a long
`mpirun -np K bpc train`), and once rank 0 printed its first epoch line
sends SIGNAL (INT or TERM) to the bpc process of rank RANK only (mpirun's
own SIGTERM would end the job at once). Prints what the job wrote and the
exit status."""
import os
import signal
import subprocess
import sys
import time

sig = getattr(signal, "SIG" + sys.argv[1])
rank = sys.argv[2]
p = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)


def rank_pid():
    """The process mpirun started with OMPI_COMM_WORLD_RANK=rank."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != p.pid:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ("OMPI_COMM_WORLD_RANK=" + rank).encode() in env:
            return int(pid)
    return None


out = []
for line in p.stdout:
    out.append(line)
    if line.startswith("epoch"):
        pid = None
        for _ in range(100):
            pid = rank_pid()
            if pid:
                break
            time.sleep(0.05)
        if pid is None:
            p.kill()
            sys.exit("no rank %s under mpirun" % rank)
        os.kill(pid, sig)
        break
out.extend(p.stdout)
rc = p.wait(timeout=120)
sys.stdout.write("".join(out))
print("exit status %d" % rc)
