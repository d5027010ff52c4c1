"""prefixed_symbols.py PREFIX FILE...: every global symbol that FILE (an
object, archive or shared library of `bpc build`) defines begins with
PREFIX followed by `_` (the C interface) or `.` (the runtime's own copy in
an archive). Prints each one that does not and exits 1; otherwise prints
how many there are."""
import subprocess
import sys

prefix, files = sys.argv[1], sys.argv[2:]
bad, count = [], 0
for path in files:
    flags = [["-g", "--defined-only"]]
    if path.endswith(".so"):
        flags.append(["-D", "--defined-only"])
    for f in flags:
        out = subprocess.run(["nm", *f, path], check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue  # an archive member's name, or a blank line
            name = parts[-1]
            count += 1
            if not (name.startswith(prefix + "_") or name.startswith(prefix + ".")):
                bad.append(f"{path}: {name}")
for b in bad:
    print("unprefixed:", b)
print(f"{prefix}: {count - len(bad)} prefixed, {len(bad)} unprefixed")
sys.exit(1 if bad else 0)
