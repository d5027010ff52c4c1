"""Checks the adjoints `bpc explain` printed for test/AD/explain-tensor.bp
against NumPy float64: closed-form backpropagation written here, not bpc's.

usage: explain_tensor_check.py CASE OUTPUT

Every `dL/dNAME: f64[...], norm N, [v0, v1, ...]` line named in the case's
expectations must show the norm and leading values of the expected array
to the 6 significant digits explain prints."""
import re
import sys

import numpy as np


def layer():
    W = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    b = np.array([0.1, -0.2])
    x = np.array([1.0, 2.0, 3.0])
    t = np.tanh(W @ x + b)
    dz = 1 - t * t  # d sum(tanh(z)) / dz
    return {"result dL/dW": np.outer(dz, x), "result dL/db": dz,
            "dL/dt0": dz, "dL/dt1": dz, "dL/dt2": np.ones(2)}


def deep():
    W = np.array([[1.0, 0.5], [0.2, 1.0]])
    Ws = np.stack([W * (1 + 0.1 * l) for l in range(5)])
    x = np.array([0.3, -0.4])
    hs = [x]
    for l in range(5):
        hs.append(np.tanh(Ws[l] @ hs[-1]))
    h = hs[-1]
    g = h.copy()  # d (sum(h * h) / 2) / dh
    g[np.argmax(h)] += 1.0  # d max(h) / dh
    dWs = np.zeros_like(Ws)
    for l in reversed(range(5)):
        dz = g * (1 - hs[l + 1] ** 2)
        dWs[l] = np.outer(dz, hs[l])
        g = Ws[l].T @ dz
    return {"result dL/dWs": dWs, "result dL/dx": g}


def net():
    X = np.array([[1.0, 2, 3], [4, 5, 6], [0, 1, 0], [1, 0, 1]])
    W = np.array([[0.1, -0.2], [0.3, 0.1], [-0.1, 0.2]])
    b = np.array([0.5, -0.5])
    H = 1 / (1 + np.exp(-(X @ W + b)))
    dH = 2 * H  # d sum(H * H)
    e = np.exp(H[0] - H[0].max())
    dH[0] += e / e.sum()  # d logsumexp(H[0]) = softmax(H[0])
    dZ = dH * H * (1 - H)
    return {"result dL/dW": X.T @ dZ, "result dL/db": dZ.sum(axis=0),
            "dL/dH": dH, "dL/dt0": dZ}


def flow():
    W = np.array([[0.5, -0.3], [0.8, 0.2]])
    x = np.array([1.0, 2.0])
    hs = [x]
    for _ in range(4):  # h = dense(W, h) = sigmoid(W @ h)
        hs.append(1 / (1 + np.exp(-(W @ hs[-1]))))
    h = hs[-1] * 1.5 * 1.5  # the while loop's two trips
    assert h.sum() > 1.0  # the branch taken
    g = np.exp(h) * 2.25  # d sum(exp(h)) / d hs[4]
    dW = np.zeros((2, 2))
    for i in reversed(range(4)):
        y = hs[i + 1]
        dz = g * y * (1 - y)
        dW += np.outer(dz, hs[i])
        g = W.T @ dz
    return {"result dL/dW": dW, "result dL/dx": g}


LINE = re.compile(r"dL/d(\S+): f64\[[0-9, ]+\], norm (\S+), \[([^\]]*)\]")


def shown(text):
    """{"dL/dv": (norm, [values])} of the reverse sweep's rows and, under
    `result of`, {"result dL/dv": ...}."""
    out, prefix = {}, ""
    for line in text.splitlines():
        if line.startswith("result of"):
            prefix = "result "
        m = LINE.search(line)
        if m:
            vals = [float(v) for v in m.group(3).split(",")
                    if not v.strip().startswith("...")]
            out[prefix + "dL/d" + m.group(1)] = (float(m.group(2)), vals)
    return out


def close(a, b):
    return abs(a - b) <= 1e-5 * max(abs(b), 1e-6)


def main():
    case, path = sys.argv[1], sys.argv[2]
    # `layer-result`: the gradients only (forward mode shows no adjoints).
    want = {"layer": layer, "deep": deep, "net": net, "flow": flow,
            "layer-result": lambda: {k: v for k, v in layer().items()
                                     if k.startswith("result")}}[case]()
    got = shown(open(path).read())
    bad = 0
    for name, arr in want.items():
        if name not in got:
            print(f"{case}: no line for {name}")
            bad += 1
            continue
        norm, vals = got[name]
        flat = np.asarray(arr).ravel()
        ok = close(norm, float(np.linalg.norm(flat))) and len(vals) == min(
            6, flat.size) and all(close(v, w) for v, w in zip(vals, flat))
        print(f"{case} {name}: {'ok' if ok else 'MISMATCH'} norm {norm} "
              f"(numpy {np.linalg.norm(flat):.6g}) values {vals} "
              f"(numpy {flat[:6]})")
        bad += not ok
    sys.exit(1 if bad else 0)


main()
