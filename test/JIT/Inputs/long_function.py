"""A straight-line function of N statements and its gradient.

  long_function.py N program   -> the .bp program (prints dg(0.5))
  long_function.py N check OUT -> compares OUT's value with the gradient
                                  computed here in forward mode (rel 1e-9)
"""
import math
import sys

n = int(sys.argv[1])
if sys.argv[2] == "program":
    print("fn g(x: f64) -> f64 {\n  var y = x")
    for i in range(n):
        print(f"  y = sin(y) * x + {i}.0")
    print("  return y\n}\n\nfn dg = grad(g)\n\nfn main() {\n  print(dg(0.5))\n}")
    sys.exit(0)
x, y, dy = 0.5, 0.5, 1.0
for i in range(n):
    y, dy = math.sin(y) * x + i, math.cos(y) * dy * x + math.sin(y)
got = float(open(sys.argv[3]).read().split()[0])
ok = abs(got - dy) <= 1e-9 * max(1.0, abs(dy))
print("ok" if ok else f"mismatch: got {got}, expected {dy}")
sys.exit(0 if ok else 1)
