"""PyTorch float64 autograd of test/AD/explain-tensor-ops.bp's `ops`, the
independent values for the gradients `bpc explain` printed.

usage: explain_tensor_ops.py OUTPUT"""
import re
import sys

import torch

torch.set_default_dtype(torch.float64)
x = torch.tensor([[[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8],
                   [0.9, 1.0, 1.1, 1.2], [1.3, 1.4, 1.5, 1.6]]],
                 requires_grad=True)
w = torch.tensor([[[[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [0.7, 0.8, 0.9]]],
                  [[[-0.1, 0.2, 0.3], [0.4, -0.5, 0.6], [0.7, -0.8, 0.9]]]],
                 requires_grad=True)
v = torch.tensor([0.3, -0.2, 0.5], requires_grad=True)
c = torch.nn.functional.conv2d(x[None], w, stride=1, padding=1)[0]
p = torch.nn.functional.max_pool2d(torch.relu(c), 2)
f = p.flatten()
r = f.reshape(2, 4)
m = r.T.clone()
m[0, 0:2] = v[0:2] * 3.0
u = v.clone()
u[2] = m[1, 1]
s = torch.cat([u, f[0:3]])
L = m.max(1).values.sum() + (torch.softmax(s, 0) * s).sum() + \
    torch.logsumexp(r, 0)[1]
L.backward()

LINE = re.compile(r"dL/d(\S+): f64\[[0-9, ]+\], norm (\S+), \[([^\]]*)\]")
got = {}
text = open(sys.argv[1]).read()
for line in text.split("result of")[1].splitlines():
    if mm := LINE.search(line):
        vals = [float(t) for t in mm.group(3).split(",")
                if not t.strip().startswith("...")]
        got[mm.group(1)] = (float(mm.group(2)), vals)


def close(a, b):
    return abs(a - b) <= 1e-5 * max(abs(b), 1e-6)


bad = 0
for name, t in {"x": x, "w": w, "v": v}.items():
    flat = t.grad.flatten().tolist()
    norm, vals = got.get(name, (float("nan"), []))
    ok = close(norm, t.grad.norm().item()) and len(vals) == min(6, len(flat)) \
        and all(close(a, b) for a, b in zip(vals, flat))
    print(f"dL/d{name}: {'ok' if ok else 'MISMATCH'} {norm} {vals} "
          f"(torch {t.grad.norm().item():.6g} {[f'{b:.6g}' for b in flat[:6]]})")
    bad += not ok
sys.exit(1 if bad else 0)
