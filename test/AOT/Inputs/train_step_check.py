"""train_step_check.py TRAIN_OUT C_OUT PARAMS [decreasing]: the losses that
PREFIX_train_step returned (C_OUT, `loss X` lines) are `bpc train`'s epoch
losses (TRAIN_OUT, full-batch: one step per epoch; 5 significant digits),
and the params after them are the ones `bpc train --save` wrote (PARAMS;
`-`: not compared).
With `decreasing`: C_OUT has more steps than TRAIN_OUT epochs, and the
loss falls (the last below a tenth of the first)."""
import re
import sys

train, c_out = (open(p).read() for p in sys.argv[1:3])
params = None if sys.argv[3] == "-" else open(sys.argv[3]).read()
epochs = [float(x) for x in re.findall(r"^epoch \d+/\d+  loss (\S+)", train, re.M)]
losses = [float(x) for x in re.findall(r"^loss (\S+)", c_out, re.M)]
assert epochs and len(losses) >= len(epochs), (epochs, losses)
for e, l in zip(epochs, losses):
    assert abs(e - l) <= 1e-4 * abs(e) + 1e-12, (e, l)
if len(sys.argv) > 4:
    assert losses[-1] < 0.1 * losses[0], losses
    print(f"decreasing: {losses[0]:.4g} -> {losses[-1]:.4g} in {len(losses)} steps")
elif params is not None:
    saved = {}
    lines = [l for l in params.splitlines() if not l.startswith("#")]
    for name_line, values in zip(lines[0::2], lines[1::2]):
        saved[name_line.split()[0]] = [float(v) for v in values.split()]
    got = {m[0]: [float(v) for v in m[1].split()]
           for m in re.findall(r"^(w|c) (.*)$", c_out, re.M)}
    for name, vals in saved.items():
        for a, b in zip(vals, got[name]):
            assert abs(a - b) <= 1e-9 * max(1, abs(a)), (name, a, b)
print(f"{len(epochs)} steps agree with bpc train")
