"""torch_oracle.py OPT LR CLIP EPOCHS DATA PARAMS [--wd WD] [--schedule S]:
trains test/Train/Inputs/linear.bp's model, loss (x . w + c - y)^2, full
batch, params starting at zero, with PyTorch's own optimiser OPT in float64
(torch.optim.SGD, SGD(momentum=0.9), Adam or AdamW; weight_decay=WD) and
the lr of each epoch from a LambdaLR schedule (SCHEDULE: step:EVERY:GAMMA
or cosine:WARMUP, LANGUAGE.md section 17), and checks that bpc's saved
PARAMS agree to 1e-12 relative. CLIP scales the mean gradient to norm CLIP
when its global norm is above it, computed here by hand:
torch.nn.utils.clip_grad_norm_ divides by (norm + 1e-6), a 1e-6 relative
difference from section 17's definition. Prints `torch agrees` or fails."""
import argparse
import math
import sys

import torch

ap = argparse.ArgumentParser()
for name in ("opt", "lr", "clip", "epochs", "data", "params"):
    ap.add_argument(name)
ap.add_argument("--wd", type=float, default=0.0)
ap.add_argument("--schedule", default="constant")
args = ap.parse_args()
lr0, clip, epochs = float(args.lr), float(args.clip), int(args.epochs)
sched = args.schedule.split(":")


def factor(epoch):  # LambdaLR's argument is the 0-based epoch
    e = epoch + 1
    if sched[0] == "step":
        return float(sched[2]) ** ((e - 1) // int(sched[1]))
    if sched[0] == "cosine":
        w = int(sched[1])
        if e <= w:
            return e / w
        return 0.5 * (1 + math.cos(math.pi * (e - 1 - w) / (epochs - w)))
    return 1.0


rows = torch.tensor([[float(v) for v in line.split(",")]
                     for line in open(args.data) if line.strip()],
                    dtype=torch.float64)
X, y = rows[:, :2], rows[:, 2]
w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
c = torch.zeros((), dtype=torch.float64, requires_grad=True)
make = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=lr0, weight_decay=args.wd),
    "momentum": lambda ps: torch.optim.SGD(ps, lr=lr0, momentum=0.9,
                                           weight_decay=args.wd),
    "adam": lambda ps: torch.optim.Adam(ps, lr=lr0, betas=(0.9, 0.999),
                                        eps=1e-8, weight_decay=args.wd),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=lr0, betas=(0.9, 0.999),
                                          eps=1e-8, weight_decay=args.wd),
}
opt = make[args.opt]([w, c])
schedule = torch.optim.lr_scheduler.LambdaLR(opt, factor)
for _ in range(epochs):
    opt.zero_grad()
    ((X @ w + c - y) ** 2).mean().backward()
    norm = math.sqrt(float(w.grad.pow(2).sum() + c.grad.pow(2)))
    if norm > clip:
        for p in (w, c):
            p.grad.mul_(clip / norm)
    opt.step()
    schedule.step()

# The params file: `# bp params v1`, then per param a line `NAME DIMS...`
# and a line of its values.
lines = [l.split() for l in open(args.params) if l.strip() and not l.startswith("#")]
saved = {lines[i][0]: [float(v) for v in lines[i + 1]]
         for i in range(0, len(lines), 2)}
want = {"w": w.detach().tolist(), "c": [float(c.detach())]}
for k, vals in want.items():
    for got, exp in zip(saved[k], vals):
        if abs(got - exp) > 1e-12 * max(1.0, abs(exp)):
            sys.exit("param %s: bpc %r, torch %r" % (k, got, exp))
print("torch agrees")
