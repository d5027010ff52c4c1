"""Reads the JSON that `bpc train --report` embeds in index.html (the
bp-data element) and prints what report.test checks: the epochs, the
learning rates, whether the clipped steps per epoch add up to the total,
the params' shapes, and per param tracked per leading index whether the
indices' norms make up the param's (exact with one step per epoch)."""
import json
import math
import re
import sys

page = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<script type="application/json" id="bp-data">(.*?)</script>',
              page, re.S)
d = json.loads(m.group(1))
print("epochs %d, first %d" % (len(d["train_loss"]), d["first_epoch"]))
print("lr " + " ".join("%g" % v for v in d["lr"]))
if d["clip"] > 0:
    ok = sum(d["clipped_per_epoch"]) == d["clipped_steps"]
    print("clipped per epoch add up: " + ("yes" if ok else "no"))
print("params " + " ".join(
    "%s[%s]" % (p["name"], ",".join(map(str, p["shape"]))) for p in d["params"]))
for p in d["params"]:
    rows = p["grad_norm_per_index"]
    if not rows:
        continue
    agree = all(
        math.isclose(math.sqrt(sum(r[e] ** 2 for r in rows)), g, rel_tol=1e-9)
        for e, g in enumerate(p["grad_norm"]))
    print("%s per index: %d x %d, norms agree: %s" %
          (p["name"], len(rows), len(rows[0]), "yes" if agree else "no"))
