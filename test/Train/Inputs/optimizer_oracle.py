"""optimizer_oracle.py OPT LR CLIP EPOCHS DATA PARAMS [--wd WD] [--schedule S]
[--history CSV]: trains
test/Train/Inputs/linear.bp's model, loss (x . w + c - y)^2, full batch,
params starting at zero, with OPT (sgd, momentum(beta 0.9), adam(0.9,
0.999, eps 1e-8 outside the square root, bias-corrected) or adamw) after
clipping the mean gradient's global norm to CLIP, in plain Python float64,
the way PyTorch's optimisers define them: weight decay WD is added to the
clipped gradient as WD * p (sgd, momentum, adam: `weight_decay`) or decays
the param first, p *= 1 - lr * WD (AdamW). SCHEDULE: step:EVERY:GAMMA or
cosine:WARMUP (LANGUAGE.md section 17). Checks that bpc's saved PARAMS
agree to 1e-12 relative, and the lr column of bpc's history.csv (--plot)
each epoch's lr to 1e-15; prints how many steps were clipped (the count
bpc's summary must report)."""
import argparse
import csv
import math

ap = argparse.ArgumentParser()
for name in ("opt", "lr", "clip", "epochs", "data", "params"):
    ap.add_argument(name)
ap.add_argument("--wd", type=float, default=0.0)
ap.add_argument("--schedule", default="constant")
ap.add_argument("--history")
args = ap.parse_args()
opt, lr0, clip, epochs = args.opt, float(args.lr), float(args.clip), int(args.epochs)
wd, sched = args.wd, args.schedule.split(":")


def lr_of(epoch):  # 1-based
    if sched[0] == "step":
        return lr0 * float(sched[2]) ** ((epoch - 1) // int(sched[1]))
    if sched[0] == "cosine":
        w = int(sched[1])
        if epoch <= w:
            return lr0 * epoch / w
        return lr0 * 0.5 * (1 + math.cos(math.pi * (epoch - 1 - w) / (epochs - w)))
    return lr0


rows = [[float(v) for v in line.split(",")] for line in open(args.data) if line.strip()]
p = [0.0, 0.0, 0.0]  # w[0], w[1], c
m, v = [0.0] * 3, [0.0] * 3
clipped = 0
for t in range(1, epochs + 1):
    g = [0.0] * 3
    for x0, x1, y in rows:
        r = 2 * (x0 * p[0] + x1 * p[1] + p[2] - y)
        for j, d in enumerate((x0, x1, 1.0)):
            g[j] += r * d / len(rows)
    norm = math.sqrt(g[0] ** 2 + g[1] ** 2 + g[2] ** 2)
    if norm > clip:
        g = [gj * clip / norm for gj in g]
        clipped += 1
    lr = lr_of(t)
    if opt != "adamw":
        g = [gj + wd * pj for gj, pj in zip(g, p)]
    for j in range(3):
        if opt == "adamw":
            p[j] *= 1 - lr * wd
        if opt == "sgd":
            p[j] -= lr * g[j]
        elif opt == "momentum":
            m[j] = 0.9 * m[j] + g[j]
            p[j] -= lr * m[j]
        else:
            m[j] = 0.9 * m[j] + 0.1 * g[j]
            v[j] = 0.999 * v[j] + 0.001 * g[j] ** 2
            mh, vh = m[j] / (1 - 0.9 ** t), v[j] / (1 - 0.999 ** t)
            p[j] -= lr * mh / (math.sqrt(vh) + 1e-8)

saved = [float(x) for line in open(args.params)
         if line.strip() and not line[0].isalpha() and line[0] != "#"
         for x in line.split()]
assert len(saved) == 3, saved
for a, b in zip(p, saved):
    assert abs(a - b) <= 1e-12 * max(abs(a), 1e-300), (p, saved)
if args.history:
    hist = list(csv.DictReader(open(args.history)))
    assert len(hist) == epochs, len(hist)
    for t, row in enumerate(hist, 1):
        assert int(row["epoch"]) == t, row
        assert abs(float(row["lr"]) - lr_of(t)) <= 1e-15 * lr0, (t, row["lr"], lr_of(t))
print("clipped %d of %d" % (clipped, epochs))
