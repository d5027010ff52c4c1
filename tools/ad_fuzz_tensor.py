#!/usr/bin/env python3
"""ad_fuzz_tensor.py -- randomized property test for BP's tensor AD.

From a fixed seed it generates random, well-typed tensor BP programs, each a
function `f(x: f64[..], W: f64[..], ...) -> f64` over random small static
shapes (rank 1-2, dims 1-4, size-1 dims included to exercise broadcasting),
together with an equivalent Python function (the "mirror", standard library
only: tensors are a tiny flat-list class).  Programs are built from
  - elementwise + - * / with NumPy broadcasting (tensor-tensor, tensor-scalar),
  - elementwise builtins (tanh, sigmoid, softplus, sin, cos, exp of a bounded
    argument, log(1 + e*e), sqrt(1 + e*e), e^2, and with a small weight the
    kinked relu, abs, max, min, clip, and the max / min reductions),
  - `@` in all four forms, transpose, outer,
  - sum / mean / logsumexp (and with "kinks" max / min) with and without
    axis, norm, dot, softmax,
    log_softmax,
  - indexing x[i], X[i, j], X[i] (constant or loop indices), slices with
    constant bounds (x[1:3], X[0:2, 1:], X[i, 1:]), on variables and on
    expressions, int indices after slices (X[:, j], X[1:3, j]),
  - tensor literals of scalar expressions ([a, 2.0 * b], [[..], [..]]) and of
    rank-1 rows ([u, v]),
  - var tensors updated element- or row-wise in for loops (v[i] = e,
    v[i] += e, M[i, j] *= e, M[i] -= row) and slice-wise (v[1:3] = e,
    M[:, j] += e, M[i, 0:2] -= e, M[0:2, 1:] *= e, e scalar or tensor), loop-carried tensor vars
    (h = tanh(h * a + b)), scalar accumulators, tensor-valued helper
    functions, some called checkpointed (`checkpoint(h)(..)` or through
    `fn ch = checkpoint(h)`: the mirror calls h),
  - `return` from inside for and while loops: from an if (then or else
    branch) after a loop-carried update, from a nested for loop, at the end
    of the body, and from the element-update loops, in f and in helpers
    (returning tensors and tuples there),
  - recursive helpers (a fn calling itself, or a mutually recursive pair)
    with tensor and scalar arguments and an int depth `d` (base case
    `if d <= 0`): the recursive calls shrink, mix, replace or swap the
    arguments and pass d - 1, d - 2 or d - 1 - i; they stand alone, in
    pairs, in a for loop, in an if branch, or in a loop that returns from
    inside; the result is a scalar f64 (reverse mode preaccumulates such a
    call), a tensor or a tuple (`let (a, b) = r(..)`), and the helpers are
    called from f with a literal or loop index depth,
  - global params (`param P3_0: f64[2, 3] = [[..]]`), read in f and in the
    recursive helpers; grad and jvp also name them,
  - the layers of LANGUAGE.md section 14 on one channel, summed to a
    scalar: conv2d(reshape(a, 1, H, W), reshape(b, 1, 1, KH, KW)) with and
    without a stride and a padding, maxpool2d (the window's first maximum
    is a kink) and avgpool2d of reshape(a, 1, H, W),
and the function ends in a scalar (sum, mean, dot, ...).

`bpc run` evaluates, for every program at a random point,
  - f's value,
  - grad(f, every argument and param) (reverse mode),
  - jvp(f, one tensor argument or param) along a random tangent (forward
    mode).
The checker compares
  - the value with the Python mirror                        (relative 1e-10),
  - each gradient element with a five-point central finite
    difference of the mirror                                (relative 1e-5 + abs floor),
  - the jvp tangent with dot(reverse gradient, tangent)     (relative 1e-9),
  - the jvp primal with the value                           (relative 1e-12),
  - the printed shapes of the gradients.
Points near kinks are re-sampled: the mirror records which side of every kink
each element is on, and which way every data-dependent condition went, and
that trace must be the same at every finite difference point.

Many programs are batched into one BP file (one `main` printing all results);
a batch that fails to compile or run is re-run program by program.

Usage: python3 tools/ad_fuzz_tensor.py --seed 1 --count 200 --bpc PATH [--keep DIR]
Exit status 0 when everything passes, 1 otherwise.
"""

import itertools
import math
import operator
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ad_fuzz_common as common  # noqa: E402
from ad_fuzz_common import close, fmt  # noqa: E402

# Constructs that --exclude can switch off (for hunting further bugs while one
# is open; the committed lit test uses all of them).
CONSTRUCTS = ["kinks", "matmul", "transpose", "outer", "reduce", "axis",
              "softmax", "index", "slice", "literal", "stack", "update",
              "carried", "accum", "helpers", "div", "scalar_arg", "exprindex",
              "recursion", "mutual", "rectuple", "params", "loopreturn",
              "nn", "checkpoint"]

# How often the tensor-valued helper is called checkpointed, inline as
# `checkpoint(h)(..)` and through `fn ch = checkpoint(h)`. Drawn from an rng
# of its own (Gen.crng), so the programs of a seed are otherwise unchanged.
P_CKPT_INLINE = 0.25
P_CKPT_BOUND = 0.25

# How often a program gets recursive helpers (a cycle of one function, or of
# two with "mutual"), how often one of them returns a tuple, and how often a
# program reads global params (more often when it recurses: the helpers read
# them).  Loop returns: the weight of the loop-with-return statement and how
# often an update, carried or accumulator loop gets an `if c { return e }`.
P_RECURSION = 0.08
P_MUTUAL = 0.3
P_REC_TUPLE = 0.3
P_PARAMS_REC = 0.6
P_PARAMS = 0.06
W_LOOP_RETURN = 0.4
# The shapes of a recursive helper's body (see Gen.recursive), drawn evenly.
REC_FORMS = ["plain", "plain", "two", "loop", "branch", "loopret"]
P_IF_RETURN_IN_LOOP = 0.05

# ---------------------------------------------------------------------------
# Python tensor runtime for the mirrors.


class T:
    """A dense row-major tensor: shape tuple and flat list of floats."""
    __slots__ = ("shape", "d")

    def __init__(self, shape, d):
        self.shape = tuple(shape)
        self.d = d

    def copy(self):
        return T(self.shape, list(self.d))

    def nested(self):
        if len(self.shape) == 1:
            return list(self.d)
        n = self.shape[1]
        return [self.d[i * n:(i + 1) * n] for i in range(self.shape[0])]


class _State:
    trace = []


ST = _State()


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _bshape(a, b):
    ra, rb = len(a), len(b)
    r = max(ra, rb)
    a = (1,) * (r - ra) + tuple(a)
    b = (1,) * (r - rb) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise AssertionError("shapes do not broadcast: %r %r" % (a, b))
        out.append(max(x, y))
    return tuple(out), a, b


def _bidx(shape, full, out):
    """Flat indices into a tensor of (padded) shape `full` for each element of
    the output shape `out`."""
    strides = []
    s = 1
    for x in reversed(full):
        strides.append(s)
        s *= x
    strides.reverse()
    res = []
    for idx in itertools.product(*[range(o) for o in out]):
        res.append(sum((i if f != 1 else 0) * st
                       for i, f, st in zip(idx, full, strides)))
    return res


def _b(op, a, b):
    ta, tb = isinstance(a, T), isinstance(b, T)
    if not ta and not tb:
        return op(a, b)
    if not tb:
        return T(a.shape, [op(x, b) for x in a.d])
    if not ta:
        return T(b.shape, [op(a, y) for y in b.d])
    if a.shape == b.shape:
        return T(a.shape, [op(x, y) for x, y in zip(a.d, b.d)])
    out, fa, fb = _bshape(a.shape, b.shape)
    ia, ib = _bidx(a.shape, fa, out), _bidx(b.shape, fb, out)
    return T(out, [op(a.d[i], b.d[j]) for i, j in zip(ia, ib)])


def _u(fn, a):
    if isinstance(a, T):
        return T(a.shape, [fn(x) for x in a.d])
    return fn(a)


_sigmoid = common.sigmoid_ref
_softplus = common.softplus_ref


def _relu(a):
    ST.trace.append(a > 0)
    return a if a > 0 else 0.0


def _abs(a):
    ST.trace.append(a >= 0)
    return abs(a)


def _max2(a, b):
    ST.trace.append(a > b)
    return a if a > b else b


def _min2(a, b):
    ST.trace.append(a < b)
    return a if a < b else b


def _clipf(lo, hi):
    def f(a):
        ST.trace.append((a < lo, a > hi))
        return min(max(a, lo), hi)
    return f


def _c(b):
    """A data-dependent condition: its side is part of the kink trace."""
    ST.trace.append(bool(b))
    return b


def _depth(a):
    """int(a) for a > 0, recorded like a kink."""
    ST.trace.append(int(a))
    return int(a)


def _sq(a):
    return a * a


def _sum(a, axis=None):
    if axis is None:
        return math.fsum(a.d) if isinstance(a, T) else a
    return _reduce(a, axis, math.fsum)


def _mean(a, axis=None):
    if axis is None:
        return math.fsum(a.d) / len(a.d)
    n = a.shape[axis]
    return _reduce(a, axis, lambda v: math.fsum(v) / n)


def _lse1(v):
    m = max(v)
    return m + math.log(math.fsum(math.exp(x - m) for x in v))


def _lse(a, axis=None):
    if axis is None:
        return _lse1(a.d)
    return _reduce(a, axis, _lse1)


def _ext1(v, sign):
    """The first largest (sign 1) / smallest (sign -1) element: its index is
    a kink, recorded in the trace."""
    i = max(range(len(v)), key=lambda k: sign * v[k])
    ST.trace.append(i)
    return v[i]


def _max(a, axis=None):
    if axis is None:
        return _ext1(a.d, 1)
    return _reduce(a, axis, lambda v: _ext1(v, 1))


def _min(a, axis=None):
    if axis is None:
        return _ext1(a.d, -1)
    return _reduce(a, axis, lambda v: _ext1(v, -1))


def _reduce(a, axis, fn):
    if axis < 0:
        axis += len(a.shape)
    if len(a.shape) == 1:
        return fn(a.d)
    m, n = a.shape
    if axis == 1:
        return T((m,), [fn(a.d[i * n:(i + 1) * n]) for i in range(m)])
    return T((n,), [fn(a.d[j::n]) for j in range(n)])


def _norm(a):
    q = math.fsum(x * x for x in a.d)
    if q < 1e-12:
        raise ValueError("norm at (nearly) 0: its derivative is undefined")
    return math.sqrt(q)


def _dot(a, b):
    assert a.shape == b.shape and len(a.shape) == 1
    return math.fsum(x * y for x, y in zip(a.d, b.d))


def _rows(a, fn):
    if len(a.shape) == 1:
        return T(a.shape, fn(a.d))
    m, n = a.shape
    out = []
    for i in range(m):
        out += fn(a.d[i * n:(i + 1) * n])
    return T(a.shape, out)


def _sm1(v):
    m = max(v)
    e = [math.exp(x - m) for x in v]
    s = math.fsum(e)
    return [x / s for x in e]


def _lsm1(v):
    m = max(v)
    z = [x - m for x in v]
    ls = math.log(math.fsum(math.exp(x) for x in z))
    return [x - ls for x in z]


def _softmax(a):
    return _rows(a, _sm1)


def _log_softmax(a):
    return _rows(a, _lsm1)


def _mm(a, b):
    ra, rb = len(a.shape), len(b.shape)
    if ra == 1 and rb == 1:
        return _dot(a, b)
    if ra == 2 and rb == 1:
        m, k = a.shape
        assert b.shape == (k,)
        return T((m,), [math.fsum(a.d[i * k + t] * b.d[t] for t in range(k))
                        for i in range(m)])
    if ra == 1 and rb == 2:
        k, n = b.shape
        assert a.shape == (k,)
        return T((n,), [math.fsum(a.d[t] * b.d[t * n + j] for t in range(k))
                        for j in range(n)])
    m, k = a.shape
    k2, n = b.shape
    assert k == k2
    return T((m, n), [math.fsum(a.d[i * k + t] * b.d[t * n + j] for t in range(k))
                      for i in range(m) for j in range(n)])


def _tr(a):
    m, n = a.shape
    return T((n, m), [a.d[i * n + j] for j in range(n) for i in range(m)])


def _outer(a, b):
    return T((len(a.d), len(b.d)), [x * y for x in a.d for y in b.d])


def _ix(a, *idx):
    """x[i], X[i, j], X[i] (a row)."""
    for i, n in zip(idx, a.shape):
        if not 0 <= i < n:
            raise IndexError("index %d out of range %d" % (i, n))
    if len(a.shape) == 1:
        return a.d[idx[0]]
    n = a.shape[1]
    if len(idx) == 2:
        return a.d[idx[0] * n + idx[1]]
    return T((n,), a.d[idx[0] * n:(idx[0] + 1) * n])


def _region(a, spec):
    """Flat indices of a slice, its shape: each spec entry is an int index
    or a (lo, hi) pair, missing trailing entries are whole axes."""
    spec = list(spec) + [(0, n) for n in a.shape[len(spec):]]
    axes, shape = [], []
    for e, n in zip(spec, a.shape):
        if isinstance(e, int):
            if not 0 <= e < n:
                raise IndexError("index %d out of range %d" % (e, n))
            axes.append([e])
        else:
            axes.append(range(e[0], e[1]))
            shape.append(e[1] - e[0])
    strides = [1] * len(a.shape)
    for k in range(len(a.shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * a.shape[k + 1]
    flat = [sum(i * st for i, st in zip(ix, strides))
            for ix in itertools.product(*axes)]
    return flat, tuple(shape)


def _sl(a, *spec):
    """Slices: each spec entry is an int index or a (lo, hi) pair."""
    flat, shape = _region(a, spec)
    return T(shape, [a.d[k] for k in flat])


def _sset(a, spec, v):
    """v[1:3] = e, M[:, j] = e, M[i, 0:2] = e (in place): e is a scalar or a
    tensor of the slice's shape."""
    flat, shape = _region(a, spec)
    if isinstance(v, T):
        assert v.shape == shape, (v.shape, shape)
        vals = v.d
    else:
        vals = [float(v)] * len(flat)
    for k, x in zip(flat, vals):
        a.d[k] = x


def _lit(elems):
    if isinstance(elems[0], T):
        n = elems[0].shape
        d = []
        for e in elems:
            assert e.shape == n
            d += e.d
        return T((len(elems),) + n, d)
    return T((len(elems),), [float(e) for e in elems])


def _full(shape, v):
    return T(shape, [v] * _size(shape))


def _cp(a):
    return a.copy() if isinstance(a, T) else a


def _get(a, idx):
    return _ix(a, *idx)


def _set(a, idx, v):
    """v[i] = e, M[i, j] = e, M[i] = row (in place; vars are copies)."""
    if len(a.shape) == 1 or len(idx) == 2:
        for i, n in zip(idx, a.shape):
            if not 0 <= i < n:
                raise IndexError("index out of range")
        k = idx[0] if len(a.shape) == 1 else idx[0] * a.shape[1] + idx[1]
        a.d[k] = float(v)
        return
    n = a.shape[1]
    i = idx[0]
    if not 0 <= i < a.shape[0]:
        raise IndexError("index out of range")
    if isinstance(v, T):
        assert v.shape == (n,)
        a.d[i * n:(i + 1) * n] = list(v.d)
    else:
        a.d[i * n:(i + 1) * n] = [float(v)] * n


def _conv2d(a, w, s=1, p=0):
    """conv2d of one channel: a (H, W), w (KH, KW), zero padding p."""
    H, W = a.shape if len(a.shape) == 2 else (1, a.shape[0])
    KH, KW = w.shape if len(w.shape) == 2 else (1, w.shape[0])
    OH, OW = (H + 2 * p - KH) // s + 1, (W + 2 * p - KW) // s + 1

    def px(i, j):
        return a.d[i * W + j] if 0 <= i < H and 0 <= j < W else 0.0
    return T((OH, OW), [
        math.fsum(w.d[u * KW + v] * px(i * s + u - p, j * s + v - p)
                  for u in range(KH) for v in range(KW))
        for i in range(OH) for j in range(OW)])


def _pool2d(a, k, mx):
    """maxpool2d / avgpool2d of one channel a (H, W): k x k windows."""
    H, W = a.shape if len(a.shape) == 2 else (1, a.shape[0])
    out = []
    for i in range(H // k):
        for j in range(W // k):
            win = [a.d[(i * k + u) * W + j * k + v]
                   for u in range(k) for v in range(k)]
            out.append(_ext1(win, 1) if mx else math.fsum(win) / (k * k))
    return T((H // k, W // k), out)


PRELUDE = {
    "T": T, "_b": _b, "_u": _u, "_ADD": operator.add, "_SUB": operator.sub,
    "_MUL": operator.mul, "_DIV": operator.truediv, "_exp": math.exp,
    "_log": math.log, "_sqrt": math.sqrt, "_sin": math.sin, "_cos": math.cos,
    "_tanh": math.tanh, "_sigmoid": _sigmoid, "_softplus": _softplus,
    "_relu": _relu, "_abs": _abs, "_max2": _max2, "_min2": _min2,
    "_clipf": _clipf, "_sq": _sq, "_sum": _sum, "_mean": _mean, "_lse": _lse,
    "_max": _max, "_min": _min,
    "_norm": _norm, "_dot": _dot, "_softmax": _softmax,
    "_log_softmax": _log_softmax, "_mm": _mm, "_tr": _tr, "_outer": _outer,
    "_ix": _ix, "_sl": _sl, "_lit": _lit, "_full": _full, "_cp": _cp,
    "_get": _get, "_set": _set, "_sset": _sset, "float": float, "_c": _c,
    "_depth": _depth, "_conv2d": _conv2d, "_pool2d": _pool2d,
}
# The smooth elementwise builtins of the op table (compiler/ir/Ops.def).
SMOOTH = common.smooth_unary()
for _name in SMOOTH:
    PRELUDE.setdefault("_" + _name, common.SMOOTH_REFERENCES[_name])


def evaluate(fn, args):
    """(value, trace) or None when the mirror fails."""
    ST.trace = []
    try:
        v = fn(*args)
        v = float(v)
    except (OverflowError, ValueError, ZeroDivisionError, IndexError,
            RecursionError):
        return None
    if not math.isfinite(v):
        return None
    return v, tuple(ST.trace)


# ---------------------------------------------------------------------------
# Generator.  Every production returns (bp_text, py_text).


def shape_bp(s):
    return "f64[%s]" % ", ".join(map(str, s))


def lit(rng, lo=-1.5, hi=1.5):
    v = round(rng.uniform(lo, hi), 2)
    if v == 0:
        v = 0.25
    s = repr(v)
    return ("(%s)" % s, "(%s)" % s) if v < 0 else (s, s)


class Scope:
    def __init__(self, parent=None):
        if parent is None:
            self.vars = []      # (name, shape) readable values; () = f64 scalar
            self.loops = []     # (name, bound) int loop indices
            self.depth = 0
            self.in_loop = False
        else:
            self.vars = list(parent.vars)
            self.loops = list(parent.loops)
            self.depth = parent.depth + 1
            self.in_loop = parent.in_loop


class Block:
    def __init__(self):
        self.bp = []
        self.py = []

    def add(self, ind, bp, py):
        if bp is not None:
            self.bp.append("  " * ind + bp)
        if py is not None:
            self.py.append("    " * ind + py)


class Gen:
    def __init__(self, rng, pid, allowed):
        self.rng = rng
        self.pid = pid
        self.allowed = allowed
        self.counter = 0
        self.helpers = []     # (name, [param shapes], result shape, recursive)
        self.tuple_fns = []   # (name, [param shapes], [result shapes]), recursive
        self.gparams = []     # (name, shape) global params
        self.cur_ret = None   # result shapes of the fn being generated, when
                              # it may return from inside a loop
        self.dims = [1, 2, 3, 4]
        self.crng = None      # decides which helpers are checkpointed
        self.ckpt = {}        # helper -> how BP calls it checkpointed

    def callee(self, name):
        """How BP names helper `name` at a call (the mirror calls `name`)."""
        return common.checkpointed_callee(self.ckpt, name)

    def ok(self, c):
        return c in self.allowed

    def fresh(self, base):
        self.counter += 1
        return "%s%d" % (base, self.counter)

    def pick(self, weighted):
        items = [(k, w) for k, w in weighted if w > 0]
        tot = sum(w for _, w in items)
        x = self.rng.uniform(0, tot)
        for k, w in items:
            x -= w
            if x <= 0:
                return k
        return items[-1][0]

    def dim(self):
        return self.rng.choice(self.dims)

    def rshape(self, rank=None):
        if rank is None:
            rank = self.rng.choice([1, 1, 2, 2, 2])
        return tuple(self.dim() for _ in range(rank))

    # ---- indices --------------------------------------------------------

    def index(self, sc, n):
        """An int index expression valid for an axis of size n."""
        r = self.rng
        cands = [(l, b) for l, b in sc.loops if b <= n]
        if cands and r.random() < 0.75:
            l, b = r.choice(cands)
            if r.random() < 0.2 and b > 1:
                e = "%d - %s" % (b - 1, l)
                return e, "(%s)" % e
            return l, l
        c = str(r.randrange(n))
        return c, c

    # ---- expressions ----------------------------------------------------

    def vars_of(self, sc, shape):
        return [v for v, s in sc.vars if s == shape]

    def leaf(self, sc, S):
        r = self.rng
        if S == ():
            cands = []
            sv = self.vars_of(sc, ())
            if sv:
                cands.append(("var", 4))
            tv = [(v, s) for v, s in sc.vars if s != ()]
            if tv and self.ok("index"):
                cands.append(("idx", 4))
            if sc.loops:
                cands.append(("loop", 0.7))
            cands.append(("lit", 1))
            k = self.pick(cands)
            if k == "var":
                v = r.choice(sv)
                return v, v
            if k == "idx":
                v, s = r.choice(tv)
                ix = [self.index(sc, n) for n in s]
                return ("%s[%s]" % (v, ", ".join(i[0] for i in ix)),
                        "_ix(%s, %s)" % (v, ", ".join(i[1] for i in ix)))
            if k == "loop":
                l, _ = r.choice(sc.loops)
                c = lit(r, 0.1, 0.6)
                return ("(%s * float(%s))" % (c[0], l),
                        "(%s * float(%s))" % (c[1], l))
            return lit(r)
        ex = self.vars_of(sc, S)
        cands = []
        if ex:
            cands.append(("var", 6))
        big = [(v, s) for v, s in sc.vars if len(s) == len(S) and s != S and
               all(a >= b for a, b in zip(s, S))]
        if big and self.ok("slice"):
            cands.append(("slice", 2))
        rows = [(v, s) for v, s in sc.vars if len(S) == 1 and len(s) == 2 and
                s[1] >= S[0]]
        if rows and self.ok("index"):
            cands.append(("row", 2))
        cols = [(v, s) for v, s in sc.vars if len(S) == 1 and len(s) == 2 and
                s[0] >= S[0]]
        if cols and self.ok("index") and self.ok("slice"):
            cands.append(("col", 1.5))
        bc = [(v, s) for v, s in sc.vars if s != () and s != S and
              self.broadcasts_to(s, S)]
        if bc:
            cands.append(("bcast", 1.5))
        if self.ok("literal") and _size(S) <= 8:
            cands.append(("lit", 1))
        if not cands:
            cands.append(("const", 1))
        k = self.pick(cands)
        if k == "var":
            v = r.choice(ex)
            return v, v
        if k == "slice":
            v, s = r.choice(big)
            return self.slice_of(v, v, s, S)
        if k == "row":
            v, s = r.choice(rows)
            i = self.index(sc, s[0])
            if s[1] == S[0]:
                return "%s[%s]" % (v, i[0]), "_ix(%s, %s)" % (v, i[1])
            lo = r.randrange(s[1] - S[0] + 1)
            b, p = self.bounds(lo, lo + S[0], s[1])
            return ("%s[%s, %s]" % (v, i[0], b),
                    "_sl(%s, %s, %s)" % (v, i[1], p))
        if k == "col":
            # X[:, j], X[lo:hi, j]: an int index after a slice.
            v, s = r.choice(cols)
            j = self.index(sc, s[1])
            lo = r.randrange(s[0] - S[0] + 1)
            b, p = self.bounds(lo, lo + S[0], s[0])
            return ("%s[%s, %s]" % (v, b, j[0]),
                    "_sl(%s, %s, %s)" % (v, p, j[1]))
        if k == "bcast":
            v, s = r.choice(bc)
            c = lit(r, 0.3, 1.5)
            if r.random() < 0.5:
                return ("(%s * ones(%s))" % (v, ", ".join(map(str, S))),
                        "_b(_MUL, %s, _full(%r, 1.0))" % (v, S))
            return ("(%s + zeros(%s))" % (v, ", ".join(map(str, S))),
                    "_b(_ADD, %s, _full(%r, 0.0))" % (v, S))
        if k == "lit":
            return self.literal(sc, S, 0)
        c = lit(r)
        return ("(%s * ones(%s))" % (c[0], ", ".join(map(str, S))),
                "_full(%r, %s)" % (S, c[1]))

    def broadcasts_to(self, s, S):
        if len(s) > len(S):
            return False
        s = (1,) * (len(S) - len(s)) + tuple(s)
        return all(a == b or a == 1 for a, b in zip(s, S))

    def bounds(self, lo, hi, n):
        """BP slice text and Python (lo, hi) pair for lo:hi of an axis n."""
        r = self.rng
        if lo == 0 and hi == n and r.random() < 0.5:
            b = ":"
        elif lo == 0 and r.random() < 0.4:
            b = ":%d" % hi
        elif hi == n and r.random() < 0.4:
            b = "%d:" % lo
        else:
            b = "%d:%d" % (lo, hi)
        return b, "(%d, %d)" % (lo, hi)

    def slice_of(self, bp, py, s, S):
        r = self.rng
        parts_b, parts_p = [], []
        for n, m in zip(s, S):
            lo = r.randrange(n - m + 1)
            b, p = self.bounds(lo, lo + m, n)
            parts_b.append(b)
            parts_p.append(p)
        if len(s) == 2 and parts_b[1] == ":" and r.random() < 0.5:
            parts_b.pop()
            parts_p.pop()
        return ("%s[%s]" % (bp, ", ".join(parts_b)),
                "_sl(%s, %s)" % (py, ", ".join(parts_p)))

    def literal(self, sc, S, d):
        r = self.rng
        if len(S) == 1:
            es = [self.expr(sc, (), d) for _ in range(S[0])]
            return ("[%s]" % ", ".join(e[0] for e in es),
                    "_lit([%s])" % ", ".join(e[1] for e in es))
        if self.ok("stack") and r.random() < 0.4:
            es = [self.expr(sc, (S[1],), d) for _ in range(S[0])]
            return ("[%s]" % ", ".join(e[0] for e in es),
                    "_lit([%s])" % ", ".join(e[1] for e in es))
        rows = []
        for _ in range(S[0]):
            es = [self.expr(sc, (), max(d - 1, 0)) for _ in range(S[1])]
            rows.append(("[%s]" % ", ".join(e[0] for e in es),
                         "_lit([%s])" % ", ".join(e[1] for e in es)))
        return ("[%s]" % ", ".join(x[0] for x in rows),
                "_lit([%s])" % ", ".join(x[1] for x in rows))

    def pos(self, sc, S, d):
        """A positive expression (>= ~0.1) of shape S."""
        r = self.rng
        a = self.expr(sc, S, max(d - 1, 0))
        v = r.randrange(5)
        if v == 0:
            return "(1.0 + %s * %s)" % (a[0], a[0]), "_b(_ADD, 1.0, _u(_sq, %s))" % a[1]
        if v == 1:
            return "(2.0 + sin(%s))" % a[0], "_b(_ADD, 2.0, _u(_sin, %s))" % a[1]
        if v == 2:
            return "(0.1 + softplus(%s))" % a[0], "_b(_ADD, 0.1, _u(_softplus, %s))" % a[1]
        if v == 3:
            return "(0.5 + sigmoid(%s))" % a[0], "_b(_ADD, 0.5, _u(_sigmoid, %s))" % a[1]
        return ("exp(0.5 * tanh(%s))" % a[0],
                "_u(_exp, _b(_MUL, 0.5, _u(_tanh, %s)))" % a[1])

    def operand_shapes(self, S):
        """Two shapes that broadcast to S (either may be a scalar ())."""
        r = self.rng
        if S == ():
            return (), ()

        def reduce_(full):
            if r.random() < 0.2:
                return ()
            s = [d if (d == 1 or r.random() < 0.7) else 1 for d in S]
            if len(s) == 2 and s[0] == 1 and r.random() < 0.5:
                s = s[1:]
            return tuple(s)
        a = S if r.random() < 0.5 else reduce_(S)
        # b must supply every axis a lacks
        af = (1,) * (len(S) - len(a)) + tuple(a)
        b = []
        for d, x in zip(S, af):
            b.append(d if (x != d or r.random() < 0.6) else 1)
        if len(a) < len(S) or r.random() < 0.7:
            b = tuple(b)
        else:
            b = tuple(b)
            if all(x == 1 for x in b) and r.random() < 0.5:
                b = ()
            elif len(b) == 2 and b[0] == 1 and r.random() < 0.5:
                b = b[1:]
        if len(b) == 0 and len(a) < len(S):
            b = S
        if r.random() < 0.5:
            a, b = b, a
        assert _bshape(a, b)[0] == S if (a or b) else True
        return a, b

    def expr(self, sc, S, d):
        r = self.rng
        if d <= 0 or r.random() < 0.12:
            return self.leaf(sc, S)
        ok = self.ok
        d1 = d - 1
        rank = len(S)
        tvars = [(v, s) for v, s in sc.vars if s != ()]
        k = self.pick([
            ("bin", 6), ("div", 1.5 if ok("div") else 0), ("neg", 0.4),
            ("smooth", 4), ("expf", 1.2), ("logf", 1), ("sqrtf", 0.8),
            ("sq", 0.6),
            ("kink", 1.2 if ok("kinks") else 0),
            ("mm", 2.5 if ok("matmul") else 0),
            ("tr", 1 if (rank == 2 and ok("transpose")) else 0),
            ("outer", 1 if (rank == 2 and ok("outer")) else 0),
            ("red", 3 if (rank == 0 and ok("reduce")) else 0),
            ("dot", 1 if (rank == 0 and ok("reduce")) else 0),
            ("redax", 1.5 if (rank == 1 and ok("axis")) else 0),
            ("redax0", 0.4 if (rank == 0 and ok("axis")) else 0),
            ("smx", 1.2 if (rank >= 1 and ok("softmax")) else 0),
            ("idx", 1.5 if (rank == 0 and ok("index") and tvars) else 0),
            ("eidx", 0.6 if (rank <= 1 and ok("exprindex")) else 0),
            ("eslice", 0.6 if (rank >= 1 and ok("exprindex") and ok("slice")) else 0),
            ("lit", 0.8 if (rank >= 1 and ok("literal") and _size(S) <= 8) else 0),
            ("call", 1.5 if [h for h in self.helpers if h[2] == S] else 0),
            ("nn", 1.5 if (rank == 0 and ok("nn")) else 0),
        ])
        if k == "bin":
            A, B = self.operand_shapes(S)
            a, b = self.expr(sc, A, d1), self.expr(sc, B, d1)
            op = r.choice("+-*")
            pn = {"+": "_ADD", "-": "_SUB", "*": "_MUL"}[op]
            return "(%s %s %s)" % (a[0], op, b[0]), "_b(%s, %s, %s)" % (pn, a[1], b[1])
        if k == "div":
            A, B = self.operand_shapes(S)
            a, b = self.expr(sc, A, d1), self.pos(sc, B, d1)
            return "(%s / %s)" % (a[0], b[0]), "_b(_DIV, %s, %s)" % (a[1], b[1])
        if k == "neg":
            a = self.expr(sc, S, d1)
            return "(-%s)" % a[0], "_b(_MUL, -1.0, %s)" % a[1]
        if k == "smooth":
            fn = r.choice(SMOOTH)
            a = self.expr(sc, S, d1)
            return "%s(%s)" % (fn, a[0]), "_u(_%s, %s)" % (fn, a[1])
        if k == "expf":
            a = self.expr(sc, S, d1)
            if r.random() < 0.5:
                return ("exp(tanh(%s))" % a[0], "_u(_exp, _u(_tanh, %s))" % a[1])
            return ("exp(0.5 * sin(%s))" % a[0],
                    "_u(_exp, _b(_MUL, 0.5, _u(_sin, %s)))" % a[1])
        if k in ("logf", "sqrtf"):
            a = self.pos(sc, S, d1)
            fn = k[:-1]
            return "%s(%s)" % (fn, a[0]), "_u(_%s, %s)" % (fn, a[1])
        if k == "sq":
            a = self.expr(sc, S, d1)
            e = r.choice(["2", "2.0"])
            return "(%s ^ %s)" % (a[0], e), "_u(_sq, %s)" % a[1]
        if k == "kink":
            fn = r.choice(["relu", "abs", "max", "min", "clip"])
            a = self.expr(sc, S, d1)
            if fn in ("relu", "abs"):
                return "%s(%s)" % (fn, a[0]), "_u(_%s, %s)" % (fn, a[1])
            if fn in ("max", "min"):
                A, B = self.operand_shapes(S)
                a, b = self.expr(sc, A, d1), self.expr(sc, B, d1)
                return ("%s(%s, %s)" % (fn, a[0], b[0]),
                        "_b(_%s2, %s, %s)" % (fn, a[1], b[1]))
            lo = round(r.uniform(-1.5, 0.0), 2)
            hi = round(r.uniform(0.2, 1.5), 2)
            return ("clip(%s, %r, %r)" % (a[0], lo, hi),
                    "_u(_clipf(%r, %r), %s)" % (lo, hi, a[1]))
        if k == "mm":
            K = self.dim()
            if rank == 0:
                A, B = (K,), (K,)
            elif rank == 1:
                if r.random() < 0.5:
                    A, B = (S[0], K), (K,)
                else:
                    A, B = (K,), (K, S[0])
            else:
                A, B = (S[0], K), (K, S[1])
            a, b = self.expr(sc, A, d1), self.expr(sc, B, d1)
            return "(%s @ %s)" % (a[0], b[0]), "_mm(%s, %s)" % (a[1], b[1])
        if k == "tr":
            a = self.expr(sc, (S[1], S[0]), d1)
            return "transpose(%s)" % a[0], "_tr(%s)" % a[1]
        if k == "outer":
            a, b = self.expr(sc, (S[0],), d1), self.expr(sc, (S[1],), d1)
            return "outer(%s, %s)" % (a[0], b[0]), "_outer(%s, %s)" % (a[1], b[1])
        if k == "red":
            A = self.rshape() if r.random() < 0.5 or not tvars else r.choice(tvars)[1]
            a = self.expr(sc, A, d1)
            fn = r.choice(["sum", "sum", "mean", "logsumexp", "norm"] +
                          (["max", "min"] if ok("kinks") else []))
            pf = {"logsumexp": "_lse"}.get(fn, "_" + fn)
            return "%s(%s)" % (fn, a[0]), "%s(%s)" % (pf, a[1])
        if k == "dot":
            n = self.dim()
            a, b = self.expr(sc, (n,), d1), self.expr(sc, (n,), d1)
            return "dot(%s, %s)" % (a[0], b[0]), "_dot(%s, %s)" % (a[1], b[1])
        if k in ("redax", "redax0"):
            if k == "redax0":
                A, ax = (self.dim(),), r.choice([0, -1])
            else:
                K = self.dim()
                if r.random() < 0.5:
                    A, ax = (K, S[0]), r.choice([0, -2])
                else:
                    A, ax = (S[0], K), r.choice([1, -1])
            a = self.expr(sc, A, d1)
            fn = r.choice(["sum", "mean", "logsumexp"] +
                          (["max", "min"] if ok("kinks") else []))
            pf = {"logsumexp": "_lse"}.get(fn, "_" + fn)
            return ("%s(%s, %d)" % (fn, a[0], ax), "%s(%s, %d)" % (pf, a[1], ax))
        if k == "smx":
            fn = r.choice(["softmax", "log_softmax"])
            a = self.expr(sc, S, d1)
            return "%s(%s)" % (fn, a[0]), "_%s(%s)" % (fn, a[1])
        if k == "idx":
            v, s = r.choice(tvars)
            ix = [self.index(sc, n) for n in s]
            return ("%s[%s]" % (v, ", ".join(i[0] for i in ix)),
                    "_ix(%s, %s)" % (v, ", ".join(i[1] for i in ix)))
        if k == "eidx":
            if rank == 0:
                A = self.rshape()
                ix = [self.index(sc, n) for n in A]
            else:
                A = (self.dim(), S[0])
                ix = [self.index(sc, A[0])]
            a = self.expr(sc, A, d1)
            return ("(%s)[%s]" % (a[0], ", ".join(i[0] for i in ix)),
                    "_ix(%s, %s)" % (a[1], ", ".join(i[1] for i in ix)))
        if k == "eslice":
            A = tuple(x + r.randrange(0, 5 - x) for x in S)
            a = self.expr(sc, A, d1)
            return self.slice_of("(%s)" % a[0], a[1], A, S)
        if k == "lit":
            return self.literal(sc, S, max(d - 2, 0))
        if k == "call":
            name, ps, _, rec = r.choice([h for h in self.helpers if h[2] == S])
            return self.call_text(sc, name, ps, rec, d1)
        if k == "nn":
            return self.layer(sc, d1)
        raise AssertionError(k)

    def layer(self, sc, d):
        """A scalar from conv2d, maxpool2d or avgpool2d of an expression
        reshaped to one channel [1, H, W] (section 14)."""
        r = self.rng
        H, W = self.dim(), self.dim()
        a = self.expr(sc, (H, W), d)
        img = "reshape(%s, 1, %d, %d)" % (a[0], H, W)
        fn = r.choice(["conv2d", "conv2d", "maxpool2d", "avgpool2d"])
        if fn != "conv2d":
            k = r.randint(1, min(H, W))
            return ("sum(%s(%s, %d))" % (fn, img, k),
                    "_sum(_pool2d(%s, %d, %s))" % (a[1], k, fn == "maxpool2d"))
        s, p = (r.randint(1, 2), r.randint(0, 1)) if r.random() < 0.5 else (1, 0)
        KH = r.randint(1, min(H + 2 * p, 3))
        KW = r.randint(1, min(W + 2 * p, 3))
        b = self.expr(sc, (KH, KW), d)
        args = "" if (s, p) == (1, 0) else ", %d, %d" % (s, p)
        return ("sum(tanh(conv2d(%s, reshape(%s, 1, 1, %d, %d)%s)))"
                % (img, b[0], KH, KW, args),
                "_sum(_u(_tanh, _conv2d(%s, %s, %d, %d)))" % (a[1], b[1], s, p))

    # ---- statements ------------------------------------------------------

    def stmt(self, sc, blk, ind):
        r = self.rng
        ok = self.ok
        k = self.pick([("let", 5), ("update", 3 if ok("update") else 0),
                       ("carried", 1.2 if ok("carried") else 0),
                       ("accum", 1.2 if ok("accum") else 0),
                       ("loopret", W_LOOP_RETURN if self.returns_ok() else 0),
                       ("tcall", 1.5 if self.tuple_fns else 0)])
        if k == "loopret":
            self.loop_return(sc, blk, ind)
            return
        if k == "tcall":
            name, ps, Rs = r.choice(self.tuple_fns)
            names = self.call_stmt(sc, blk, ind, name, ps, self.depth_arg(sc), Rs)
            sc.vars += list(zip(names, Rs))
            return
        if k == "let":
            S = self.rshape() if r.random() < 0.85 else ()
            e = self.expr(sc, S, r.randint(1, 3))
            v = self.fresh("t")
            blk.add(ind, "let %s = %s" % (v, e[0]), "%s = %s" % (v, e[1]))
            sc.vars.append((v, S))
            return
        if k == "update":
            S = self.rshape()
            v = self.fresh("v")
            if r.random() < 0.4:
                blk.add(ind, "var %s = zeros(%s)" % (v, ", ".join(map(str, S))),
                        "%s = _full(%r, 0.0)" % (v, S))
            else:
                e = self.expr(sc, S, r.randint(0, 2))
                blk.add(ind, "var %s = %s" % (v, e[0]), "%s = _cp(%s)" % (v, e[1]))
            inner = Scope(sc)
            inner.in_loop = True
            inner.vars.append((v, S))
            i = self.fresh("i")
            blk.add(ind, "for %s in 0..%d {" % (i, S[0]),
                    "for %s in range(0, %d):" % (i, S[0]))
            inner.loops.append((i, S[0]))
            mode = r.random()
            if len(S) == 2 and mode < 0.35:
                j = self.fresh("j")
                blk.add(ind + 1, "for %s in 0..%d {" % (j, S[1]),
                        "for %s in range(0, %d):" % (j, S[1]))
                inner2 = Scope(inner)
                inner2.loops.append((j, S[1]))
                self.elem_update(inner2, blk, ind + 2, v, S, [i, j])
                blk.add(ind + 1, "}", None)
            elif len(S) == 2 and mode < 0.7:
                self.elem_update(inner, blk, ind + 1, v, S, [i])
            elif len(S) == 2:
                j = self.index(inner, S[1])
                self.elem_update(inner, blk, ind + 1, v, S, [i, j])
            else:
                self.elem_update(inner, blk, ind + 1, v, S, [i])
            if r.random() < 0.3 and self.ok("slice"):
                self.slice_update(inner, blk, ind + 1, v, S, i)
            if r.random() < 0.4:
                # a second update in the same loop (possibly reading v)
                if len(S) == 2:
                    self.elem_update(inner, blk, ind + 1, v, S,
                                     [i, self.index(inner, S[1])])
                else:
                    self.elem_update(inner, blk, ind + 1, v, S, [i])
            self.maybe_return(inner, blk, ind + 1)
            blk.add(ind, "}", None)
            sc.vars.append((v, S))
            return
        if k == "carried":
            S = self.rshape()
            v = self.fresh("h")
            e = self.expr(sc, S, r.randint(0, 2))
            blk.add(ind, "var %s = %s" % (v, e[0]), "%s = _cp(%s)" % (v, e[1]))
            inner = Scope(sc)
            inner.in_loop = True
            inner.vars.append((v, S))
            it = self.fresh("k")
            n = r.randint(1, 3)
            inner.loops.append((it, n))
            blk.add(ind, "for %s in 0..%d {" % (it, n),
                    "for %s in range(0, %d):" % (it, n))
            A, B = self.operand_shapes(S)
            a = self.expr(inner, A, 1)
            b = self.expr(inner, B, 1)
            fn = r.choice(["tanh", "sin", "sigmoid"])
            blk.add(ind + 1, "%s = %s(%s * %s + %s)" % (v, fn, v, a[0], b[0]),
                    "%s = _u(_%s, _b(_ADD, _b(_MUL, %s, %s), %s))" % (
                        v, fn, v, a[1], b[1]))
            self.maybe_return(inner, blk, ind + 1)
            blk.add(ind, "}", None)
            sc.vars.append((v, S))
            return
        # accum: scalar accumulator over a loop
        v = self.fresh("s")
        e = self.expr(sc, (), r.randint(0, 1))
        blk.add(ind, "var %s = %s" % (v, e[0]), "%s = %s" % (v, e[1]))
        n = self.dim()
        it = self.fresh("i")
        inner = Scope(sc)
        inner.in_loop = True
        inner.loops.append((it, n))
        inner.vars.append((v, ()))
        blk.add(ind, "for %s in 0..%d {" % (it, n), "for %s in range(0, %d):" % (it, n))
        e = self.expr(inner, (), 2)
        if r.random() < 0.6:
            blk.add(ind + 1, "%s += %s" % (v, e[0]), "%s = %s + %s" % (v, v, e[1]))
        else:
            blk.add(ind + 1, "%s = 0.5 * %s + tanh(%s)" % (v, v, e[0]),
                    "%s = 0.5 * %s + _tanh(%s)" % (v, v, e[1]))
        self.maybe_return(inner, blk, ind + 1)
        blk.add(ind, "}", None)
        sc.vars.append((v, ()))

    def elem_update(self, sc, blk, ind, v, S, idx):
        """v[idx] op= e where idx are BP/Python index texts or loop names."""
        r = self.rng
        idx = [(i, i) if isinstance(i, str) else i for i in idx]
        ES = () if len(idx) == len(S) else (S[1],)
        e = self.expr(sc, ES, 2)
        ib = ", ".join(i[0] for i in idx)
        ip = "(%s,)" % ", ".join(i[1] for i in idx)
        op = r.choice(["=", "=", "+=", "-=", "*="])
        if op == "=":
            blk.add(ind, "%s[%s] = %s" % (v, ib, e[0]),
                    "_set(%s, %s, %s)" % (v, ip, e[1]))
        else:
            pn = {"+=": "_ADD", "-=": "_SUB", "*=": "_MUL"}[op]
            if op == "*=":
                e = ("tanh(%s)" % e[0], "_u(_tanh, %s)" % e[1])
            blk.add(ind, "%s[%s] %s %s" % (v, ib, op, e[0]),
                    "_set(%s, %s, _b(%s, _get(%s, %s), %s))" % (v, ip, pn, v, ip, e[1]))

    def slice_update(self, sc, blk, ind, v, S, i):
        """v[lo:hi] op= e, M[:, j] op= e, M[i, lo:hi] op= e,
        M[lo:hi, lo2:hi2] op= e, with e a scalar or of the slice's shape."""
        r = self.rng
        parts_b, parts_p, ES = [], [], []
        form = r.choice(["col", "row", "block"]) if len(S) == 2 else "block"
        for k, n in enumerate(S):
            if (form == "col" and k == 1) or (form == "row" and k == 0):
                j = (i, i) if form == "row" else self.index(sc, n)
                parts_b.append(j[0])
                parts_p.append(j[1])
                continue
            m = r.randint(1, n)
            lo = r.randrange(n - m + 1)
            b, p = self.bounds(lo, lo + m, n)
            parts_b.append(b)
            parts_p.append(p)
            ES.append(m)
        ES = tuple(ES) if r.random() < 0.8 else ()
        e = self.expr(sc, ES, 2)
        target = "%s[%s]" % (v, ", ".join(parts_b))
        spec = "(%s,)" % ", ".join(parts_p)
        op = r.choice(["=", "+=", "-=", "*="])
        if op == "=":
            blk.add(ind, "%s = %s" % (target, e[0]),
                    "_sset(%s, %s, %s)" % (v, spec, e[1]))
            return
        pn = {"+=": "_ADD", "-=": "_SUB", "*=": "_MUL"}[op]
        if op == "*=":
            e = ("tanh(%s)" % e[0], "_u(_tanh, %s)" % e[1])
        blk.add(ind, "%s %s %s" % (target, op, e[0]),
                "_sset(%s, %s, _b(%s, _sl(%s, *%s), %s))" % (
                    v, spec, pn, v, spec, e[1]))

    # ---- returns from inside loops -----------------------------------------

    def returns_ok(self):
        return self.cur_ret is not None and self.ok("loopreturn")

    def ret_value(self, sc):
        """The value of a `return` for the current fn: one expression, or a
        tuple; a loop-carried var of a result's shape is usually part of it."""
        r = self.rng
        es = []
        for R in self.cur_ret:
            e = self.expr(sc, R, 2)
            own = [v for v, s in sc.vars if s == R and v[0] in "hv"]
            if own and r.random() < 0.6:
                v = r.choice(own)
                c = lit(r, 0.3, 1.2)
                e = ("%s * %s + %s" % (c[0], v, e[0]),
                     "_b(_ADD, _b(_MUL, %s, %s), %s)" % (c[1], v, e[1]))
            es.append(e)
        if len(es) == 1:
            return es[0]
        return ("(%s)" % ", ".join(e[0] for e in es),
                "(%s)" % ", ".join(e[1] for e in es))

    def ret(self, sc, blk, ind):
        e = self.ret_value(sc)
        blk.add(ind, "return %s" % e[0], "return %s" % e[1])

    def cond(self, sc):
        """A bool: a loop index against a constant or a scalar expression
        against a literal (the mirror traces its side, like a kink)."""
        r = self.rng
        small = [(l, b) for l, b in sc.loops if b <= 4]
        if small and r.random() < 0.3:
            l, b = r.choice(small)
            op = r.choice(["==", ">=", "<"])
            c = "%s %s %d" % (l, op, r.randrange(b))
            return c, c
        e = self.expr(sc, (), 1)
        c = lit(r, -0.8, 0.8)
        op = r.choice(["<", ">"])
        return "%s %s %s" % (e[0], op, c[0]), "_c(%s %s %s)" % (e[1], op, c[1])

    def maybe_return(self, sc, blk, ind):
        """Sometimes end a loop body with `if c { return e }`."""
        if self.returns_ok() and self.rng.random() < P_IF_RETURN_IN_LOOP:
            c = self.cond(sc)
            blk.add(ind, "if %s {" % c[0], "if %s:" % c[1])
            self.ret(Scope(sc), blk, ind + 1)
            blk.add(ind, "}", None)

    def loop_return(self, sc, blk, ind):
        """A for or while loop with a carried var h that may return from
        inside: from an if (then or else branch), from a nested for loop, or
        unconditionally at the end of the body (the loop runs once)."""
        r = self.rng
        H = r.choice(self.cur_ret) if r.random() < 0.6 else self.rshape()
        v = self.fresh("h")
        e = self.expr(sc, H, r.randint(0, 2))
        blk.add(ind, "var %s = %s" % (v, e[0]), "%s = _cp(%s)" % (v, e[1]))
        inner = Scope(sc)
        inner.in_loop = True
        inner.vars.append((v, H))
        n = r.randint(1, 4)
        use_while = r.random() < 0.45
        k = self.fresh("k" if use_while else "i")
        if use_while:
            blk.add(ind, "var %s = 0" % k, "%s = 0" % k)
            blk.add(ind, "while %s < %d {" % (k, n), "while %s < %d:" % (k, n))
        else:
            blk.add(ind, "for %s in 0..%d {" % (k, n), "for %s in range(0, %d):" % (k, n))
        inner.loops.append((k, n))
        A, B = self.operand_shapes(H)
        a, b = self.expr(inner, A, 1), self.expr(inner, B, 1)
        fn = r.choice(["tanh", "sin", "sigmoid"])
        blk.add(ind + 1, "%s = %s(%s * %s + %s)" % (v, fn, v, a[0], b[0]),
                "%s = _u(_%s, _b(_ADD, _b(_MUL, %s, %s), %s))" % (
                    v, fn, v, a[1], b[1]))
        x = r.random()
        if x < 0.25:
            m = r.randint(1, 3)
            j = self.fresh("j")
            blk.add(ind + 1, "for %s in 0..%d {" % (j, m),
                    "for %s in range(0, %d):" % (j, m))
            s2 = Scope(inner)
            s2.loops.append((j, m))
            if r.random() < 0.4:
                self.stmt(s2, blk, ind + 2)
            c = self.cond(s2)
            blk.add(ind + 2, "if %s {" % c[0], "if %s:" % c[1])
            self.ret(Scope(s2), blk, ind + 3)
            blk.add(ind + 2, "}", None)
            blk.add(ind + 1, "}", None)
        elif x < 0.9:
            c = self.cond(inner)
            blk.add(ind + 1, "if %s {" % c[0], "if %s:" % c[1])
            s1 = Scope(inner)
            if r.random() < 0.3:
                self.stmt(s1, blk, ind + 2)
            in_else = r.random() < 0.3
            if in_else:
                self.relax(s1, blk, ind + 2, v, H)
            else:
                self.ret(s1, blk, ind + 2)
            if in_else or r.random() < 0.3:
                blk.add(ind + 1, "} else {", "else:")
                s3 = Scope(inner)
                if in_else:
                    self.ret(s3, blk, ind + 2)
                else:
                    self.relax(s3, blk, ind + 2, v, H)
            blk.add(ind + 1, "}", None)
        else:
            self.ret(inner, blk, ind + 1)
        if use_while:
            blk.add(ind + 1, "%s += 1" % k, "%s += 1" % k)
        blk.add(ind, "}", None)
        sc.vars.append((v, H))

    def relax(self, sc, blk, ind, v, H):
        """v = 0.5 * v + 0.5 * e"""
        w = self.expr(sc, H, 1)
        blk.add(ind, "%s = 0.5 * %s + 0.5 * %s" % (v, v, w[0]),
                "%s = _b(_ADD, _b(_MUL, 0.5, %s), _b(_MUL, 0.5, %s))" % (
                    v, v, w[1]))

    # ---- recursion -----------------------------------------------------------

    def depth_arg(self, sc):
        """The depth argument of a call of a recursive helper from outside
        its cycle: a small literal or a loop index."""
        r = self.rng
        small = [l for l, b in sc.loops if b <= 4]
        if small and r.random() < 0.25:
            l = r.choice(small)
            return l, l
        if r.random() < 0.1:
            # a data-dependent depth (1, 2 or 3; the trace holds it)
            e = self.expr(sc, (), 1)
            return "int(2.5 + tanh(%s))" % e[0], "_depth(2.5 + _tanh(%s))" % e[1]
        d = str(r.choice([0, 1, 1, 2, 2, 3]))
        return d, d

    def call_text(self, sc, name, ps, rec, d, depth=None):
        args = [self.expr(sc, p, d) for p in ps]
        if rec:
            args.append(depth or self.depth_arg(sc))
        return ("%s(%s)" % (self.callee(name), ", ".join(a[0] for a in args)),
                "%s(%s)" % (name, ", ".join(a[1] for a in args)))

    def call_stmt(self, sc, blk, ind, name, ps, depth, Rs, args=None):
        """`let c = f(..)` or `let (c1, c2) = f(..)`; the new names."""
        if args is None:
            args = [self.expr(sc, p, 1) for p in ps]
        args = list(args) + [depth]
        call = ("%s(%s)" % (name, ", ".join(a[0] for a in args)),
                "%s(%s)" % (name, ", ".join(a[1] for a in args)))
        names = [self.fresh("c") for _ in Rs]
        lhs = names[0] if len(names) == 1 else "(%s)" % ", ".join(names)
        blk.add(ind, "let %s = %s" % (lhs, call[0]), "%s = %s" % (lhs, call[1]))
        return names

    def rec_args(self, sc, names, ps):
        """Arguments of a recursive call: the parameters, shrunk, mixed with
        other values, replaced or (of equal shapes) swapped."""
        r = self.rng
        names = list(names)
        same = [(j, k) for j in range(len(ps)) for k in range(j + 1, len(ps))
                if ps[j] == ps[k]]
        if same and r.random() < 0.3:
            # swapped arguments: the activity changes from call to call
            j, k = r.choice(same)
            names[j], names[k] = names[k], names[j]
        out = []
        for a, s in zip(names, ps):
            x = r.random()
            if x < 0.3:
                c = lit(r, 0.5, 0.95)
                out.append(("%s * %s" % (a, c[0]), "_b(_MUL, %s, %s)" % (a, c[1])))
            elif x < 0.6:
                e = self.expr(sc, s, 1)
                out.append(("tanh(%s + %s)" % (a, e[0]),
                            "_u(_tanh, _b(_ADD, %s, %s))" % (a, e[1])))
            elif x < 0.8:
                out.append((a, a))
            else:
                out.append(self.expr(sc, s, 2))
        return out

    def squash(self, v):
        """A contraction of a call's result, so values stay moderate."""
        k = self.rng.choice(["tanh", "sin", "half", "id"])
        if k == "half":
            return "0.5 * %s" % v, "_b(_MUL, 0.5, %s)" % v
        if k == "id":
            return v, v
        return "%s(%s)" % (k, v), "_u(_%s, %s)" % (k, v)

    def rec_result(self, sc, blk, ind, parts):
        """`return` each result component: a fresh expression plus a
        contracted sum of the components in parts (lists of var names, one
        per component)."""
        r = self.rng
        es = []
        for R, vs in zip(self.cur_ret, parts):
            e = self.expr(sc, R, 1)
            c = lit(r, 0.2, 0.45)
            sq = [self.squash(v) for v in vs]
            es.append(("%s + %s * (%s)" % (e[0], c[0], " + ".join(x[0] for x in sq)),
                       "_b(_ADD, %s, _b(_MUL, %s, %s))" % (
                           e[1], c[1], self.pysum([x[1] for x in sq]))))
        if len(es) == 1:
            blk.add(ind, "return %s" % es[0][0], "return %s" % es[0][1])
        else:
            blk.add(ind, "return (%s)" % ", ".join(e[0] for e in es),
                    "return (%s)" % ", ".join(e[1] for e in es))

    def pysum(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = "_b(_ADD, %s, %s)" % (out, x)
        return out

    def recursive(self, cyc, idx, ps, Rs):
        """fn cyc[idx](a0: .., d: int) -> Rs: a base case at d <= 0 and
        calls of the functions of its cycle (itself, or the other one of a
        mutual pair first) with a smaller depth: plain, two calls, in a for
        loop, in an if branch, or in a loop that returns from inside."""
        r = self.rng
        name = cyc[idx]
        names = ["a%d" % j for j in range(len(ps))]
        rt = shape_bp(Rs[0]) if len(Rs) == 1 and Rs[0] else "f64" if len(Rs) == 1 \
            else "(%s)" % ", ".join(shape_bp(R) if R else "f64" for R in Rs)
        blk = Block()
        blk.add(0, "fn %s(%s, d: int) -> %s {" % (
            name, ", ".join("%s: %s" % (n, shape_bp(s) if s else "f64")
                            for n, s in zip(names, ps)), rt),
            "def %s(%s, d):" % (name, ", ".join(names)))
        sc = Scope()
        sc.vars = list(zip(names, ps)) + list(self.gparams)
        sc.loops.append(("d", 99))    # float(d) in expressions, not an index
        self.cur_ret = Rs
        blk.add(1, "if d <= 0 {", "if d <= 0:")
        base = Scope(sc)
        if r.random() < 0.3:
            self.stmt(base, blk, 2)
        self.ret(base, blk, 2)
        blk.add(1, "}", None)
        for _ in range(r.choice([0, 1, 1, 2])):
            self.stmt(sc, blk, 1)
        callees = [cyc[(idx + 1) % len(cyc)]] + [r.choice(cyc) for _ in range(2)]

        def call(s, ind, k, depth):
            names_ = self.call_stmt(s, blk, ind, callees[k], ps, depth, Rs,
                                    self.rec_args(s, names, ps))
            if r.random() < 0.3:
                s.vars += list(zip(names_, Rs))
            return names_
        form = r.choice([f for f in REC_FORMS
                         if f != "loopret" or self.ok("loopreturn")] or ["plain"])
        d1 = ("d - 1", "d - 1")
        if form == "plain":
            cs = call(sc, 1, 0, d1)
            self.rec_result(sc, blk, 1, [[c] for c in cs])
        elif form == "two":
            c1 = call(sc, 1, 0, d1)
            c2 = call(sc, 1, 1, ("d - 2", "d - 2"))
            self.rec_result(sc, blk, 1, [[a, b] for a, b in zip(c1, c2)])
        elif form == "loop":
            accs = [self.fresh("acc") for _ in Rs]
            for a, R in zip(accs, Rs):
                e = self.expr(sc, R, 1)
                blk.add(1, "var %s = %s" % (a, e[0]), "%s = _cp(%s)" % (a, e[1]))
            n = r.randint(1, 3)
            i = self.fresh("i")
            blk.add(1, "for %s in 0..%d {" % (i, n), "for %s in range(0, %d):" % (i, n))
            inner = Scope(sc)
            inner.in_loop = True
            inner.loops.append((i, n))
            dep = ("d - 1 - %s" % i, "d - 1 - %s" % i) if r.random() < 0.7 else d1
            if r.random() < 0.3:
                self.stmt(inner, blk, 2)
            cs = call(inner, 2, 0, dep)
            for a, c in zip(accs, cs):
                sq = self.squash(c)
                blk.add(2, "%s = 0.5 * %s + %s" % (a, a, sq[0]),
                        "%s = _b(_ADD, _b(_MUL, 0.5, %s), %s)" % (a, a, sq[1]))
            self.maybe_return(inner, blk, 2)
            blk.add(1, "}", None)
            sc.vars += list(zip(accs, Rs))
            self.rec_result(sc, blk, 1, [[a] for a in accs])
        elif form == "branch":
            c = self.cond(sc)
            blk.add(1, "if %s {" % c[0], "if %s:" % c[1])
            s1 = Scope(sc)
            cs = call(s1, 2, 0, d1)
            self.rec_result(s1, blk, 2, [[x] for x in cs])
            blk.add(1, "}", None)
            cs = call(sc, 1, 1, ("d - 2", "d - 2") if r.random() < 0.5 else d1)
            self.rec_result(sc, blk, 1, [[x] for x in cs])
        else:
            n = r.randint(1, 3)
            use_while = r.random() < 0.4
            i = self.fresh("k" if use_while else "i")
            if use_while:
                blk.add(1, "var %s = 0" % i, "%s = 0" % i)
                blk.add(1, "while %s < %d {" % (i, n), "while %s < %d:" % (i, n))
            else:
                blk.add(1, "for %s in 0..%d {" % (i, n),
                        "for %s in range(0, %d):" % (i, n))
            inner = Scope(sc)
            inner.in_loop = True
            inner.loops.append((i, n))
            cs = call(inner, 2, 0, ("d - 1 - %s" % i, "d - 1 - %s" % i))
            s1 = Scope(inner)
            s1.vars += list(zip(cs, Rs))
            c = self.cond(s1)
            blk.add(2, "if %s {" % c[0], "if %s:" % c[1])
            self.rec_result(s1, blk, 3, [[x] for x in cs])
            blk.add(2, "}", None)
            if use_while:
                blk.add(2, "%s += 1" % i, "%s += 1" % i)
            blk.add(1, "}", None)
            self.ret(sc, blk, 1)
        blk.add(0, "}", None)
        return blk

    def recursion(self):
        """One recursive helper, or a mutually recursive pair, over tensor
        (and sometimes scalar) arguments with a scalar, tensor or tuple
        result; callable from f (tuples through `let (a, b) = ..`)."""
        r = self.rng
        n = 2 if self.ok("mutual") and r.random() < P_MUTUAL else 1
        k = len(self.helpers)
        cyc = ["r%d_%d" % (self.pid, k + j) for j in range(n)]
        ps = [self.rshape() for _ in range(r.randint(1, 2))]
        if len(ps) == 2 and r.random() < 0.3:
            ps[1] = ps[0]
        if r.random() < 0.3:
            ps.append(())
        x = r.random()
        if self.ok("rectuple") and x < P_REC_TUPLE:
            Rs = [r.choice([(), (), self.rshape()]), r.choice([(), self.rshape()])]
        elif x < 0.65:
            Rs = [()]
        else:
            Rs = [self.rshape()]
        saved = self.helpers
        self.helpers = [h for h in saved if not h[3]]
        blocks = [self.recursive(cyc, j, ps, Rs) for j in range(n)]
        self.helpers = saved
        self.cur_ret = None
        for name in cyc:
            if len(Rs) == 1:
                self.helpers.append((name, ps, Rs[0], True))
            else:
                self.tuple_fns.append((name, ps, Rs))
        return blocks

    # ---- functions --------------------------------------------------------

    def helper(self):
        r = self.rng
        name = "h%d_%d" % (self.pid, len(self.helpers))
        ps = [self.rshape() for _ in range(r.randint(1, 2))]
        if r.random() < 0.3:
            ps.append(())
        R = self.rshape() if r.random() < 0.8 else ps[0]
        names = ["a%d" % j for j in range(len(ps))]
        sc = Scope()
        sc.vars = list(zip(names, ps))
        self.cur_ret = [R]
        blk = Block()
        blk.add(0, "fn %s(%s) -> %s {" % (
            name, ", ".join("%s: %s" % (n, shape_bp(s) if s else "f64")
                            for n, s in zip(names, ps)),
            shape_bp(R)), "def %s(%s):" % (name, ", ".join(names)))
        for _ in range(r.randint(0, 2)):
            self.stmt(sc, blk, 1)
        e = self.expr(sc, R, 2)
        blk.add(1, "return %s" % e[0], "return %s" % e[1])
        blk.add(0, "}", None)
        self.cur_ret = None
        self.helpers.append((name, ps, R, False))
        x = self.crng.random() if self.crng and self.ok("checkpoint") else 1
        if x < P_CKPT_INLINE:
            self.ckpt[name] = "inline"
        elif x < P_CKPT_INLINE + P_CKPT_BOUND:
            self.ckpt[name] = "bound"
            blk.add(0, "fn c%s = checkpoint(%s)" % (name, name), None)
        return blk

    def function(self):
        r = self.rng
        ok = self.ok
        pid = self.pid
        self.dims = sorted(set(r.choice([1, 2, 2, 3, 3, 4, 4]) for _ in range(3)))
        if r.random() < 0.5:
            self.dims.append(1)
        names = ["x", "W", "b", "U"]
        nargs = r.choice([1, 2, 2, 3, 3, 4])
        params = [(names[j], self.rshape()) for j in range(nargs)]
        if ok("scalar_arg") and r.random() < 0.25:
            params.append(("s", ()))
        blocks = []
        if ok("helpers") and r.random() < 0.3:
            blocks.append(self.helper())
        rec = ok("recursion") and r.random() < P_RECURSION
        if ok("params") and r.random() < (P_PARAMS_REC if rec else P_PARAMS):
            for j in range(r.choice([1, 1, 2])):
                self.gparams.append(("P%d_%d" % (pid, j),
                                     self.rshape() if r.random() < 0.8 else ()))
        if rec:
            blocks += self.recursion()
        fname = "f%d" % pid
        sc = Scope()
        sc.vars = list(params) + list(self.gparams)
        self.cur_ret = [()]
        blk = Block()
        blk.add(0, "fn %s(%s) -> f64 {" % (
            fname, ", ".join("%s: %s" % (n, shape_bp(s) if s else "f64")
                             for n, s in params)),
            "def %s(%s):" % (fname, ", ".join(n for n, _ in params)))
        for _ in range(r.randint(2, 6)):
            self.stmt(sc, blk, 1)
        for name, ps, Rs in self.tuple_fns:
            if not re.search(r"\b%s\b" % name, "\n".join(blk.bp[1:])):
                cs = self.call_stmt(sc, blk, 1, name, ps, self.depth_arg(sc), Rs)
                sc.vars += list(zip(cs, Rs))
        # the result: reductions of the locals (and of arguments unused so far)
        body = "\n".join(blk.bp[1:])
        locs = [(v, s) for v, s in sc.vars
                if (v, s) not in params and (v, s) not in self.gparams]
        terms = []
        for v, s in r.sample(locs, min(len(locs), r.randint(1, 3))):
            terms.append(self.reduce_term(sc, v, s))
        for n, s in params:
            if not re.search(r"\b%s\b" % n, body) and not any(
                    re.search(r"\b%s\b" % n, t[0]) for t in terms):
                terms.append(self.reduce_term(sc, n, s, simple=True))
        for name, ps, R, rec in self.helpers:
            if not re.search(r"\b%s\b" % name, body):
                c = self.call_text(sc, name, ps, rec, 1)
                if R == ():
                    terms.append(("0.5 * %s" % c[0], "0.5 * %s" % c[1]))
                else:
                    terms.append(("sum(%s)" % c[0], "_sum(%s)" % c[1]))
        if not terms:
            terms.append(self.expr(sc, (), 2))
        bp = " + ".join(t[0] for t in terms)
        py = " + ".join(t[1] for t in terms)
        blk.add(1, "return %s" % bp, "return %s" % py)
        blk.add(0, "}", None)
        blocks.append(blk)
        return fname, params, blocks

    def reduce_term(self, sc, v, s, simple=False):
        r = self.rng
        c = lit(r, 0.2, 1.5)
        if s == ():
            return "%s * %s" % (c[0], v), "%s * %s" % (c[1], v)
        k = r.choice(["sum", "sum", "mean", "dot", "lse", "sq"])
        if k == "sum":
            return "%s * sum(%s)" % (c[0], v), "%s * _sum(%s)" % (c[1], v)
        if k == "mean":
            return "mean(%s)" % v, "_mean(%s)" % v
        if k == "lse":
            return "logsumexp(%s)" % v, "_lse(%s)" % v
        if k == "sq":
            return "0.5 * sum(%s * %s)" % (v, v), "0.5 * _sum(_b(_MUL, %s, %s))" % (v, v)
        if len(s) == 1:
            o = self.expr(sc, s, 0 if simple else 1)
            return "dot(%s, %s)" % (v, o[0]), "_dot(%s, %s)" % (v, o[1])
        o = self.expr(sc, (s[1],), 0 if simple else 1)
        return "sum(%s @ %s)" % (v, o[0]), "_sum(_mm(%s, %s))" % (v, o[1])


# ---------------------------------------------------------------------------
# Programs and points.


class Program:
    pass


def make_program(pid, seed, allowed):
    for attempt in range(40):
        rng = random.Random("%d:%d:%d" % (seed, pid, attempt))
        g = Gen(rng, pid, allowed)
        g.crng = random.Random("checkpoint:%d:%d:%d" % (seed, pid, attempt))
        fname, params, blocks = g.function()
        gparams = g.gparams
        bp = "\n".join("\n".join(b.bp) for b in blocks) + "\n"
        py = "\n".join("\n".join(b.py) for b in blocks) + "\n"
        ns = dict(PRELUDE)
        exec(compile(py, "<mirror %d>" % pid, "exec"), ns)
        fn = mirror_call(ns, ns[fname], len(params), [n for n, _ in gparams])
        allvars = params + gparams
        for tries in range(6):
            pt = []
            for n, s in allvars:
                if s == ():
                    pt.append(round(rng.uniform(-1.5, 1.5), 4))
                else:
                    pt.append(T(s, [round(rng.uniform(-1.5, 1.5), 4)
                                    for _ in range(_size(s))]))
            res = check_point(fn, pt)
            if res is not None:
                p = Program()
                decl = "".join("param %s: %s = %s\n" % (
                    n, shape_bp(s) if s else "f64", tlit(a))
                    for (n, s), a in zip(gparams, pt[len(params):]))
                # (the mirror reads the params as globals, set by mirror_call
                # from the point)
                p.pid, p.bp, p.py, p.fname, p.params = pid, decl + bp, py, fname, params
                p.vars = allvars
                p.point = pt
                p.value, p.fd = res
                p.attempt = attempt
                p.mirror = fn
                tens = [j for j, (n, s) in enumerate(allvars) if s != ()]
                p.jarg = rng.choice(tens)
                p.tangent = T(allvars[p.jarg][1],
                              [round(rng.uniform(-1, 1), 3)
                               for _ in range(_size(allvars[p.jarg][1]))])
                p.main_rng = random.Random("main:%d:%d" % (seed, pid))
                return p
    raise RuntimeError("could not generate program %d" % pid)


def mirror_call(ns, fn, nargs, gnames):
    """The mirror as a function of f's arguments followed by the global
    params (set in the mirror's globals before each call)."""
    def call(*vals):
        for n, v in zip(gnames, vals[nargs:]):
            ns[n] = v
        return fn(*vals[:nargs])
    return call


H_FD = 1e-4
MAX_VALUE = 1e4


def perturbed(pt, j, e, delta):
    q = list(pt)
    if isinstance(q[j], T):
        c = q[j].copy()
        c.d[e] += delta
        q[j] = c
    else:
        q[j] = q[j] + delta
    return q


def check_point(fn, pt):
    """Accept the point when the mirror is finite, moderate and smooth around
    it; return (value, fd gradient per argument) or None."""
    base = evaluate(fn, pt)
    if base is None:
        return None
    v0, tr0 = base
    if abs(v0) > MAX_VALUE:
        return None
    fd = []
    for j, a in enumerate(pt):
        vals = a.d if isinstance(a, T) else [a]
        g = []
        for e, x in enumerate(vals):
            h = H_FD * max(1.0, abs(x))
            h = (x + h) - x
            fv = {}
            for m in (-2, -1, 1, 2):
                res = evaluate(fn, perturbed(pt, j, e, m * h))
                if res is None or res[1] != tr0:
                    return None
                fv[m] = res[0]
            d5 = (fv[-2] - 8 * fv[-1] + 8 * fv[1] - fv[2]) / (12 * h)
            d3 = (fv[1] - fv[-1]) / (2 * h)
            if not (abs(d5) < 1e6) or abs(d5 - d3) > 1e-5 * max(1.0, abs(d5)):
                return None    # too wild for a reliable finite difference
            g.append(d5)
        fd.append(g)
    return v0, fd


# ---------------------------------------------------------------------------
# BP main() and result checking.


def tlit(a):
    if not isinstance(a, T):
        return fmt(a)

    def rec(v):
        if isinstance(v, list):
            return "[%s]" % ", ".join(rec(x) for x in v)
        return repr(float(v))
    return rec(a.nested())


def main_lines(p, top):
    rng = p.main_rng
    pid = p.pid
    L = []
    names = []
    for (n, s), a in zip(p.params, p.point):
        an = "a%d_%s" % (pid, n)
        L.append("let %s = %s" % (an, tlit(a)))
        names.append(an)
    args = ", ".join(names)
    vl = ", ".join(n for n, _ in p.vars)
    k = len(p.vars)
    gs = ["g%d_%d" % (pid, j) for j in range(k)]
    lhs = gs[0] if k == 1 else "(%s)" % ", ".join(gs)
    if rng.random() < 0.5:
        top.append("fn df%d = grad(%s, %s)" % (pid, p.fname, vl))
        L.append("let %s = df%d(%s)" % (lhs, pid, args))
    else:
        L.append("let %s = grad(%s, %s)(%s)" % (lhs, p.fname, vl, args))
    jn = p.vars[p.jarg][0]
    L.append("let (jv%d, jd%d) = jvp(%s, %s)(%s, %s)" % (
        pid, pid, p.fname, jn, args, tlit(p.tangent)))
    L.append("print(%d, %s(%s), %s, jv%d, jd%d)" % (
        pid, p.fname, args, ", ".join(gs), pid, pid))
    return L


VAL_REL, VAL_ABS = 1e-10, 1e-11
FD_REL, FD_ABS = 1e-5, 1e-6
MODE_REL, MODE_ABS = 1e-9, 1e-12
SAME_REL = 1e-12

parse_values = common.parse_nested  # printed values of one line


def flat_of(v, shape):
    """Flatten a parsed value of the given shape, or None on a mismatch."""
    if shape == ():
        return [v] if isinstance(v, float) else None
    if not isinstance(v, list) or len(v) != shape[0]:
        return None
    out = []
    for x in v:
        f = flat_of(x, shape[1:])
        if f is None:
            return None
        out += f
    return out


def check_results(p, vals):
    """List of (what, bpc value, expected, how) mismatches."""
    k = len(p.vars)
    if len(vals) != 1 + k + 2:
        return [("output", "%d values" % len(vals), "%d values" % (k + 3), "")]
    bad = []
    v = vals[0]
    if not isinstance(v, float):
        return [("f value", v, p.value, "not a scalar")]
    if not close(v, p.value, VAL_REL, VAL_ABS):
        bad.append(("f value", v, p.value, "Python mirror"))
    grads = []
    for j, (n, s) in enumerate(p.vars):
        g = flat_of(vals[1 + j], s)
        if g is None:
            bad.append(("grad d/d%s shape" % n, vals[1 + j], shape_bp(s), "shape"))
            grads.append(None)
            continue
        grads.append(g)
        for e, (x, fdv) in enumerate(zip(g, p.fd[j])):
            if not close(x, fdv, FD_REL, FD_ABS):
                where = n if s == () else "%s%s" % (
                    n, list(divmod(e, s[1])) if len(s) == 2 else [e])
                bad.append(("grad d/d%s (reverse)" % where, x, fdv,
                            "finite difference of the mirror"))
    jv, jd = vals[1 + k], vals[2 + k]
    if not (isinstance(jv, float) and isinstance(jd, float)):
        return bad + [("jvp", (jv, jd), "scalars", "")]
    if not close(jv, v, SAME_REL, 1e-14):
        bad.append(("jvp value", jv, v, "f value"))
    g = grads[p.jarg]
    if g is not None:
        terms = [a * b for a, b in zip(g, p.tangent.d)]
        exp = math.fsum(terms)
        sc = sum(abs(t) for t in terms)
        if not close(jd, exp, MODE_REL, MODE_ABS * (1 + sc) + 1e-12 * sc):
            bad.append(("jvp d/d%s (forward)" % p.vars[p.jarg][0], jd, exp,
                        "dot(reverse grad, tangent)"))
    return bad


def add_vmap(p, args):
    """Vmapped forms of p's function for a --vmap fraction of the programs
    (their own random stream: the programs themselves do not change)."""
    rng = random.Random("vmap:%d:%d" % (args.seed, p.pid))
    if rng.random() >= args.vmap:
        return
    na = len(p.params)

    def ok(vals):
        r = evaluate(p.mirror, list(vals) + p.point[na:])
        return r is not None and abs(r[0]) <= MAX_VALUE

    def perturb(r, v):
        if not isinstance(v, T):
            return round(v + r.uniform(-0.3, 0.3), 4)
        return T(v.shape, [round(x + r.uniform(-0.3, 0.3), 4) for x in v.d])

    p.vmap = common.vmap_plan(
        rng, p.pid, p.fname,
        [(n, shape_bp(s) if s else "f64", s) for n, s in p.params],
        p.point[:na], tlit, perturb, ok, [n for n, _ in p.vars],
        grad_sum=args.vmap_grad_sum)


def point_text(p):
    return ", ".join("%s=%s" % (n, tlit(a)) for (n, _), a in zip(p.vars, p.point)) + \
        "; jvp along %s = %s" % (p.vars[p.jarg][0], tlit(p.tangent))


def main(argv=None):
    args = common.parse_args(argv, __doc__, CONSTRUCTS, count=200, batch=20,
                             flag_help="extra flag for `bpc run`")
    t0 = time.time()
    outdir = common.out_dir(args, "ad_fuzz_tensor")
    def make(pid):
        p = make_program(pid, args.seed, args.allowed)
        add_vmap(p, args)
        return p

    progs, failures, nruns, tgen = common.run_and_check(
        args, outdir, make, main_lines, parse_values, check_results, point_text)
    n_fail_progs = common.report(
        args, "ad_fuzz_tensor", outdir, failures, main_lines, point_text,
        lambda p: "program %d" % p.pid, max_details=12)
    print("ad_fuzz_tensor: seed %d, %d programs (%s), %d bpc runs, %d failed; "
          "generation %.1f s, total %.1f s%s" % (
              args.seed, len(progs), common.vmap_note(progs), nruns, n_fail_progs, tgen,
              time.time() - t0, common.files_note(args, outdir, failures)))
    return common.clean_up(args, outdir, failures)


if __name__ == "__main__":
    sys.exit(main())
