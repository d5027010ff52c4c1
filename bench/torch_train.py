#!/usr/bin/env python3
"""The training of examples/digits.bp (or bench/digits_h.bp at any hidden
width), examples/cnn_digits.bp, examples/charlm/charlm.bp and examples/xor.bp, written with PyTorch (Debian's python3-torch)
the way a PyTorch user writes it: float64, the same model, data, optimiser
(adam, same lr), batch, epochs and per-epoch reshuffle and test metric as
`bpc train`, on N threads. Used by bench/train_throughput.sh.

usage: /usr/bin/python3 bench/torch_train.py digits|cnn|charlm|xor EPOCHS
           [--batch B] [--hidden H] [--threads N]
prints: <examples per second> <final test metric>

The rate is examples processed / seconds of the epoch loop (the per-epoch
test metric included, imports and data loading excluded), which is how
`bpc train` computes the "ex/s" of its epoch lines (compiler/driver/Train.cpp).
"""
import argparse
import time

import torch
import torch.nn.functional as F


def load(path, nx):
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append([float(v) for v in line.split(",")])
            except ValueError:
                continue  # header
    t = torch.tensor(rows, dtype=torch.float64)
    return t[:, :nx].contiguous(), t[:, nx:].contiguous()


def digits(hidden):
    X, Y = load("examples/data/digits_train.csv", 64)
    Xt, Yt = load("examples/data/digits_test.csv", 64)
    # The labels are one-hot: -sum(y * log_softmax(z)) is cross_entropy on
    # the class index, PyTorch's fused form of the same loss.
    assert bool((Y.sum(1) == 1).all()) and bool((Y.max(1).values == 1).all())
    labels, test_labels = Y.argmax(1), Yt.argmax(1)
    model = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.Tanh(),
                                torch.nn.Linear(hidden, 10))

    def loss_fn(idx):
        return F.cross_entropy(model(X[idx] / 16.0), labels[idx])

    def metric():  # bpc train shows the test loss and the metric per epoch
        with torch.inference_mode():
            z = model(Xt / 16.0)
            F.cross_entropy(z, test_labels).item()
            return (z.argmax(1) == test_labels).double().mean().item()
    return X.shape[0], model, 0.002, 32, loss_fn, metric


def cnn():
    """examples/cnn_digits.bp: conv 3x3 (16 channels, padding 1) -> relu ->
    2x2 max pooling -> dense 256-10, softmax cross-entropy, adam(0.002)."""
    X, Y = load("examples/data/digits_train.csv", 64)
    Xt, Yt = load("examples/data/digits_test.csv", 64)
    labels, test_labels = Y.argmax(1), Yt.argmax(1)
    X, Xt = X.reshape(-1, 1, 8, 8), Xt.reshape(-1, 1, 8, 8)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1),
                                torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(256, 10))

    def loss_fn(idx):
        return F.cross_entropy(model(X[idx] / 16.0), labels[idx])

    def metric():
        with torch.inference_mode():
            z = model(Xt / 16.0)
            F.cross_entropy(z, test_labels).item()
            return (z.argmax(1) == test_labels).double().mean().item()
    return X.shape[0], model, 0.002, 32, loss_fn, metric


def charlm():
    """examples/charlm/charlm.bp: embeddings (50 x 16) gathered per
    character, a tanh RNN over the 16-character window (hidden 64), a
    dense 64-50 layer on the last state, softmax cross-entropy on the next
    character's id, adam(0.003). torch.nn.RNN has two bias vectors where
    BP's cell has one (their sum is the same function); the cost is the
    same."""
    def ids(path):
        with open(path) as f:
            t = torch.tensor([[int(v) for v in line.split(",")] for line in f])
        return t[:, :16].contiguous(), t[:, 16].contiguous()
    X, labels = ids("examples/charlm/data/train.csv")
    Xt, test_labels = ids("examples/charlm/data/test.csv")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(50, 16)
            self.rnn = torch.nn.RNN(16, 64, batch_first=True)
            self.out = torch.nn.Linear(64, 50)

        def forward(self, x):
            h, _ = self.rnn(self.emb(x))
            return self.out(h[:, -1])
    model = Model()

    def loss_fn(idx):
        return F.cross_entropy(model(X[idx]), labels[idx])

    def metric():
        with torch.inference_mode():
            z = model(Xt)
            F.cross_entropy(z, test_labels).item()
            return (z.argmax(1) == test_labels).double().mean().item()
    return X.shape[0], model, 0.003, 32, loss_fn, metric


def xor():
    X, Y = load("examples/data/xor.csv", 2)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(),
                                torch.nn.Linear(8, 1), torch.nn.Sigmoid())

    def loss_fn(idx):
        p, y = model(X[idx]), Y[idx]
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()

    def metric():
        with torch.inference_mode():
            return ((model(X) > 0.5) == (Y > 0.5)).double().mean().item()
    return X.shape[0], model, 0.05, 4, loss_fn, metric


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["digits", "cnn", "charlm", "xor"])
    ap.add_argument("epochs", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    n, model, lr, batch, loss_fn, metric = (
        digits(a.hidden) if a.which == "digits" else
        cnn() if a.which == "cnn" else
        charlm() if a.which == "charlm" else xor())
    batch = min(a.batch or batch, n)
    # PyTorch's default CPU Adam (per-param loop): foreach=True measured no
    # faster here for four small tensors.
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for _ in range(a.epochs):
        perm = torch.randperm(n)
        epoch_loss = torch.zeros(())
        for b in range(0, n, batch):
            idx = perm[b:b + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(idx)
            loss.backward()
            opt.step()
            epoch_loss += loss.detach() * idx.numel()  # bpc reports it too
        m = metric()
    secs = time.perf_counter() - start
    print(f"{a.epochs * n / secs:.0f} {m:.4f}")


main()
