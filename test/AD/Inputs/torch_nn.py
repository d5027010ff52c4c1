"""Compares torch_nn.bp's printed values and gradients (stdin, one tensor a
line) with torch.nn.functional.conv2d / max_pool2d / avg_pool2d in float64
on a batch of 1 (the same inputs, rebuilt here). Prints "torch agrees" or
the first tensor that differs by more than 1e-12 (relative to its size)."""
import json
import math
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def fill(shape, a, b):
    n = math.prod(shape)
    return torch.tensor([math.sin(a * k + b) for k in range(n)]).reshape(shape)


x = fill((2, 7, 6), 0.7, 0.1)
x[1, 0:3, 0:3] = 0.5  # a tie for max pooling
w = fill((3, 2, 3, 2), 1.3, 0.4)
r = torch.tensor([math.cos(k) for k in range(75)]).reshape(3, 5, 5)


def grads(f, *args):
    args = [a.clone().requires_grad_(True) for a in args]
    return list(torch.autograd.grad(f(*args), args))


want = []
conv = lambda x, w: F.conv2d(x[None], w, stride=2, padding=1)[0]
want.append(conv(x, w))
want += grads(lambda x, w: (conv(x, w) * r[:, 0:4, 0:4]).sum(), x, w)
conv0 = lambda x, w: F.conv2d(x[None], w)[0]
want.append(conv0(x, w))
want += grads(lambda x, w: (conv0(x, w) * r).sum(), x, w)
mp = lambda x: F.max_pool2d(x[None], 3)[0]
want.append(mp(x))
want += grads(lambda x: (mp(x) * r[0:2, 0:2, 0:2]).sum(), x)
ap = lambda x: F.avg_pool2d(x[None], 2)[0]
want.append(ap(x))
want += grads(lambda x: (ap(x) * r[0:2, 0:3, 0:3]).sum(), x)

got = [torch.tensor(json.loads(line)) for line in sys.stdin if line.strip()]
if len(got) != len(want):
    sys.exit(f"expected {len(want)} tensors, found {len(got)}")
for k, (g, t) in enumerate(zip(got, want)):
    t = t.detach()
    if g.shape != t.shape:
        sys.exit(f"tensor {k}: shape {tuple(g.shape)}, torch {tuple(t.shape)}")
    err = (g - t).abs().max().item()
    if err > 1e-12 * max(1.0, t.abs().max().item()):
        sys.exit(f"tensor {k}: max difference {err:.3g} from torch")
print("torch agrees")
