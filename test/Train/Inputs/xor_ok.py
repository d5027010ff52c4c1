# Reads the four XOR predictions printed by examples/xor.bp's main and checks
# them against the truth table (0, 1, 1, 0).
import sys
p = [float(v) for v in sys.stdin.read().split()]
assert len(p) == 4, p
assert p[0] < 0.1 and p[1] > 0.9 and p[2] > 0.9 and p[3] < 0.1, p
print("ok")
