"""numbers_close.py A B RTOL: the numbers printed in files A and B agree
one by one to RTOL relative (absolute near zero), and there are as many."""
import re
import sys

num = re.compile(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?")
a = [float(x) for x in num.findall(open(sys.argv[1]).read())]
b = [float(x) for x in num.findall(open(sys.argv[2]).read())]
rtol = float(sys.argv[3])
assert len(a) == len(b) and a, (len(a), len(b))
worst = max(abs(x - y) / max(1.0, abs(x)) for x, y in zip(a, b))
print("%d numbers, max relative difference %.2g" % (len(a), worst))
sys.exit(0 if worst <= rtol else 1)
