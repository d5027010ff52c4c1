"""Checks that `bpc --help` (the file argv[2]) lists every option of every
command's `bpc COMMAND --help` (bpc is argv[1]); prints the counts."""
import re
import subprocess
import sys

bpc, top = sys.argv[1], open(sys.argv[2]).read()
commands = re.findall(r"^  (\w+)\b.* - ", top.split("COMMANDS:")[1].split("OPTIONS:")[0], re.M)
options = set()
for c in commands:
    out = subprocess.run([bpc, c, "--help"], capture_output=True, text=True, check=True).stdout
    found = set(re.findall(r"^  (--?[\w-]+)", out.split("OPTIONS:")[1], re.M))
    options |= found - {"--help", "--help-list"}  # llvm::cl's own
missing = sorted(o for o in options if not re.search(r"^  " + re.escape(o) + r"\b", top, re.M))
if missing:
    print("missing from bpc --help:", " ".join(missing))
    sys.exit(1)
print("%d commands, %d options, all in bpc --help" % (len(commands), len(options)))
