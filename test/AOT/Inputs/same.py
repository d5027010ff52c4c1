# Compares two outputs token by token: numbers must be equal as doubles
# (so 0.1 and 0.10000000000000001 match), other tokens textually.
import sys
a = open(sys.argv[1]).read().replace("(", " ").replace(")", " ").replace(",", " ").replace("[", " ").replace("]", " ").split()
b = open(sys.argv[2]).read().replace("(", " ").replace(")", " ").replace(",", " ").replace("[", " ").replace("]", " ").split()
assert len(a) == len(b), (a, b)
for x, y in zip(a, b):
    try:
        assert float(x) == float(y), (x, y)
    except ValueError:
        assert x == y, (x, y)
print("same", len(a))
