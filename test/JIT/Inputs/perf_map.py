"""perf_map.py BPC ARGS...: runs BPC ARGS, then prints the perf map file the
run left (/tmp/perf-PID.map, see compiler/jit/JIT.cpp) as one line per
function: its name and whether start and size are hex numbers > 0. Prints
"no map" where the run wrote none. Removes the file."""
import os
import subprocess
import sys

proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
proc.wait()
path = "/tmp/perf-%d.map" % proc.pid
print("exit", proc.returncode)
if not os.path.exists(path):
    print("no map")
    sys.exit(0)
with open(path) as f:
    for line in f:
        start, size, name = line.split(maxsplit=2)
        ok = int(start, 16) > 0 and int(size, 16) > 0
        print(name.strip(), "ok" if ok else "BAD")
os.remove(path)
