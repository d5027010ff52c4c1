"""Writes large or pathological .bp sources to stdout for the parser tests.

usage: gen.py KIND N
  parens N    const x = ((( ... 1 ... )))      N nested parentheses
  brackets N  const x = [[[ ... 1 ... ]]]      N nested tensor literals
  blocks N    N nested `while c { ... }` blocks
  unary N     const x = - - ... - 1            N prefix minus signs
  nots N      const x = not not ... true       N prefix `not`s
  pow N       const x = 2 ^ 2 ^ ... ^ 2        N right-associative powers
  chain N     const x = 1 + 1 + ... + 1        N terms
  elseif N    one if statement with N `else if` branches
  fns N       N small functions (about 60 bytes each)
  bytes N     N pseudo-random bytes (fixed seed)
"""
import random
import sys


def main():
    kind, n = sys.argv[1], int(sys.argv[2])
    out = sys.stdout
    if kind == "parens":
        out.write("const x = " + "(" * n + "1" + ")" * n + "\n")
    elif kind == "brackets":
        out.write("const x = " + "[" * n + "1" + "]" * n + "\n")
    elif kind == "blocks":
        out.write("fn f() {\n" + "while c {\n" * n + "x\n" + "}\n" * n + "}\n")
    elif kind == "unary":
        out.write("const x = " + "- " * n + "1\n")
    elif kind == "nots":
        out.write("const x = " + "not " * n + "true\n")
    elif kind == "pow":
        out.write("const x = " + " ^ ".join(["2"] * (n + 1)) + "\n")
    elif kind == "chain":
        out.write("const x = " + " + ".join(["1"] * n) + "\n")
    elif kind == "elseif":
        out.write("fn f(x: int) -> int {\n  if x == 0 {\n    return 0\n  }")
        for i in range(1, n + 1):
            out.write(" else if x == %d {\n    return %d\n  }" % (i, i))
        out.write(" else {\n    return -1\n  }\n}\n")
    elif kind == "fns":
        for i in range(n):
            out.write("fn f%d(x: f64) -> f64 {\n  return x * %d.5 + 1\n}\n" % (i, i))
    elif kind == "bytes":
        rng = random.Random(1234)
        sys.stdout.buffer.write(bytes(rng.randrange(256) for _ in range(n)))
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
