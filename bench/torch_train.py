#!/usr/bin/env python3
"""The same training as examples/digits.bp and examples/xor.bp, written with
PyTorch (Debian's python3-torch), float64, one thread: used by
bench/train_throughput.sh to compare examples/s in one run.

usage: /usr/bin/python3 bench/torch_train.py digits|xor EPOCHS
prints: <examples per second> <final test metric>
"""
import sys
import time

import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


def load(path, nx):
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append([float(v) for v in line.split(",")])
            except ValueError:
                continue  # header
    t = torch.tensor(rows)
    return t[:, :nx], t[:, nx:]


def run(which, epochs):
    if which == "digits":
        X, Y = load("examples/data/digits_train.csv", 64)
        Xt, Yt = load("examples/data/digits_test.csv", 64)
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(),
                                    torch.nn.Linear(32, 10))
        lr, batch = 0.002, 32
        def loss_fn(x, y):
            return -(y * torch.log_softmax(model(x / 16.0), dim=1)).sum(1).mean()
        def metric():
            with torch.no_grad():
                return (model(Xt / 16.0).argmax(1) == Yt.argmax(1)).double().mean().item()
    else:
        X, Y = load("examples/data/xor.csv", 2)
        model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(),
                                    torch.nn.Linear(8, 1), torch.nn.Sigmoid())
        lr, batch = 0.05, 4
        def loss_fn(x, y):
            p = model(x)
            return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        def metric():
            with torch.no_grad():
                return ((model(X) > 0.5) == (Y > 0.5)).double().mean().item()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = X.shape[0]
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for b in range(0, n, batch):
            idx = perm[b:b + batch]
            opt.zero_grad()
            loss = loss_fn(X[idx], Y[idx])
            loss.backward()
            opt.step()
        m = metric()
    secs = time.perf_counter() - start
    print(f"{epochs * n / secs:.0f} {m:.4f}")


run(sys.argv[1], int(sys.argv[2]))
