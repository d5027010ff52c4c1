"""interrupt.py SIGNAL BPC ARGS...: runs `BPC ARGS...` (a long `bpc train`),
sends SIGNAL (INT or TERM) once its first epoch line is out, and prints the
exit status and what it wrote."""
import signal
import subprocess
import sys

sig = getattr(signal, "SIG" + sys.argv[1])
cmd = sys.argv[2:]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
out = []
for line in p.stdout:
    out.append(line)
    if line.startswith("epoch"):
        p.send_signal(sig)
        break
out.extend(p.stdout)
rc = p.wait(timeout=120)
sys.stdout.write("".join(out))
print("exit status %d" % rc)
