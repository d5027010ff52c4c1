# Compares bpc's output for an ADBench objective (first line: the value,
# second line: the gradient, any nesting of [..]) with ADBench's published
# values, with ADBench's absolute tolerance of 1e-8 (its C++ unit tests).
# Usage: bpc run ... | python3 compare_adbench.py NAME WHAT VALUE COUNT GRADIENT_FILE
#   NAME, WHAT: for the message ("gmm", "objective"),
#   VALUE: the published objective, COUNT: the number of gradient entries,
#   GRADIENT_FILE: the published gradient, whitespace-separated.
# Prints "NAME matches ADBench: WHAT value max gradient error e"; a mismatch
# is an assertion failure.
import re
import sys
name, what, published, count, path = sys.argv[1:]
out = sys.stdin.read().split("\n")
value = float(out[0])
grad = [float(v) for v in re.findall(r"-?[0-9][0-9.e+-]*", out[1])]
expected = [float(v) for v in open(path).read().split()]
assert abs(value - float(published)) < 1e-8, value
assert len(grad) == len(expected) == int(count), (len(grad), len(expected))
worst = max(abs(a - b) for a, b in zip(grad, expected))
assert worst < 1e-8, worst
print(name, "matches ADBench:", what, value, "max gradient error", worst)
