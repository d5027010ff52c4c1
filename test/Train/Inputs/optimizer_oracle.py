"""optimizer_oracle.py OPT LR CLIP EPOCHS DATA PARAMS: trains
test/Train/Inputs/linear.bp's model, loss (x . w + c - y)^2, full batch,
params starting at zero, with OPT (sgd, momentum(beta 0.9) or adam(0.9,
0.999, eps 1e-8 outside the square root, bias-corrected)) after clipping the
mean gradient's global norm to CLIP, in plain Python float64; checks that
bpc's saved PARAMS agree to 1e-12 relative and prints how many steps were
clipped (the count bpc's summary must report)."""
import math
import sys

opt, lr, clip, epochs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows = [[float(v) for v in line.split(",")] for line in open(sys.argv[5]) if line.strip()]
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
    for j in range(3):
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

saved = [float(x) for line in open(sys.argv[6])
         if line.strip() and not line[0].isalpha() and line[0] != "#"
         for x in line.split()]
assert len(saved) == 3, saved
for a, b in zip(p, saved):
    assert abs(a - b) <= 1e-12 * max(abs(a), 1e-300), (p, saved)
print("clipped %d of %d" % (clipped, epochs))
