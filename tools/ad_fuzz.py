#!/usr/bin/env python3
"""ad_fuzz.py -- randomized property test for BP's automatic differentiation.

From a fixed seed it generates random, well-typed scalar BP programs (helper
functions, a recursive helper, if/else statements and expressions, for and
while loops with loop-carried vars, early returns (also from inside loops,
nested loops and ifs in loops), compound updates, stop_gradient, every
scalar builtin, helpers called checkpointed: `checkpoint(h)(...)` or through
`fn ch = checkpoint(h)`) together with an equivalent Python function (the "mirror").
Each program is emitted from one generator walk, so the BP text and the
Python text describe the same computation.

`bpc run` evaluates, for every program at a random point,
  - f's value,
  - grad(f, all f64 args)          (reverse mode),
  - jvp(f, ...) with each unit tangent e_i  (forward mode),
  - value_and_grad(f, ...).
The checker compares
  - the value with the Python mirror                  (relative ~1e-11),
  - each reverse-mode component with a five-point
    central finite difference of the mirror            (relative 1e-5 + abs floor),
  - forward mode with reverse mode                     (relative 1e-9),
  - value_and_grad / jvp's primal with grad / value    (relative 1e-12).
Second-derivative programs (one-argument g) also check grad(grad(g, x), x)
against a finite difference of the BP-printed first derivative at x +- h,
and jvp(grad(g, x), x) against grad(grad(g, x), x).

Points near kinks or branch boundaries are re-sampled: the mirror records a
trace of every branch decision and kink side, and the trace at all finite
difference points must equal the trace at the point itself.  stop_gradient is
honoured by the finite differences: its values are frozen at the point.

Many programs are batched into one BP file (one `main` printing all results);
a batch that fails to compile or run is re-run program by program.

Usage: python3 tools/ad_fuzz.py --seed 1 --count 300 --bpc PATH [--keep DIR]
Exit status 0 when everything passes, 1 otherwise.
Standard library only.
"""

import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ad_fuzz_common as common  # noqa: E402
from ad_fuzz_common import close, fmt  # noqa: E402

# Constructs that --exclude can switch off (for hunting further bugs while one
# is open; the committed lit test uses all of them).
CONSTRUCTS = ["if", "ifexpr", "for", "while", "recursion", "helpers", "sg",
              "kinks", "int", "pow", "lgamma", "tan", "second", "return",
              "intdiv", "loopreturn", "checkpoint"]

# How often a helper (recursive or not) is called checkpointed, inline as
# `checkpoint(h)(...)` and through `fn ch = checkpoint(h)`: the mirror calls
# h, so values and derivatives must be h's. Drawn from an rng of its own, so
# the programs of a seed are otherwise the ones they were without it.
P_CKPT_INLINE = 0.2
P_CKPT_BOUND = 0.2

# How often a loop body (for, while) may end with `if c { ...; return e }` or
# with a plain `return e`, and how often an if inside a loop returns from one
# of its branches: modest, so the rest of the coverage keeps its share.
P_LOOP_IF_RETURN = 0.08
P_LOOP_RETURN = 0.03
P_IF_IN_LOOP_RETURN = 0.12

# ---------------------------------------------------------------------------
# Python runtime for the mirrors.  Every discrete decision (comparison, kink
# side, int() value) is appended to a trace.


class _State:
    trace = []
    sg_rec = []
    frozen = None
    sg_i = 0


ST = _State()


def _c(b):
    ST.trace.append(bool(b))
    return b


def _sg(v):
    if ST.frozen is None:
        ST.sg_rec.append(v)
        return v
    r = ST.frozen[ST.sg_i]
    ST.sg_i += 1
    return r


def _exp(a):
    return math.exp(a)


def _log(a):
    return math.log(a)


def _sqrt(a):
    return math.sqrt(a)


_sigmoid = common.sigmoid_ref
_softplus = common.softplus_ref


def _relu(a):
    ST.trace.append(a > 0)
    return a if a > 0 else 0.0


def _abs(a):
    ST.trace.append(a >= 0)
    return abs(a)


def _sign(a):
    s = 1.0 if a > 0 else (-1.0 if a < 0 else 0.0)
    ST.trace.append(s)
    return s


def _max(a, b):
    ST.trace.append(a > b)
    return a if a > b else b


def _min(a, b):
    ST.trace.append(a < b)
    return a if a < b else b


def _clip(a, lo, hi):
    ST.trace.append((a < lo, a > hi))
    return min(max(a, lo), hi)


def _pow(a, b):
    return math.pow(a, b)


def _int(a):
    r = int(a)  # truncates toward zero, as BP's int()
    ST.trace.append(r)
    return r


def _idiv(a, b):  # C semantics: truncate toward zero
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _imod(a, b):
    return a - b * _idiv(a, b)


PRELUDE = {
    "_c": _c, "_sg": _sg, "_exp": _exp, "_log": _log, "_sqrt": _sqrt,
    "_sin": math.sin, "_cos": math.cos, "_tan": math.tan, "_tanh": math.tanh,
    "_sigmoid": _sigmoid, "_relu": _relu, "_softplus": _softplus,
    "_abs": _abs, "_sign": _sign, "_lgamma": math.lgamma, "_max": _max,
    "_min": _min, "_pow": _pow, "_clip": _clip, "_int": _int,
    "_idiv": _idiv, "_imod": _imod, "float": float, "_atan2": math.atan2,
}
# The smooth elementwise builtins of the op table (compiler/ir/Ops.def).
SMOOTH = common.smooth_unary()
for _name in SMOOTH:
    PRELUDE.setdefault("_" + _name, common.SMOOTH_REFERENCES[_name])


def evaluate(fn, args, frozen=None):
    """(value, trace, stop_gradient values) or None when the mirror fails."""
    ST.trace = []
    ST.sg_rec = []
    ST.frozen = frozen
    ST.sg_i = 0
    try:
        v = float(fn(*args))
    except (OverflowError, ValueError, ZeroDivisionError, RecursionError,
            IndexError):
        return None
    if not math.isfinite(v):
        return None
    return v, tuple(ST.trace), list(ST.sg_rec)


# ---------------------------------------------------------------------------
# Generator.  Every production returns (bp_text, py_text).


def lit(rng, lo=-1.5, hi=1.5):
    v = round(rng.uniform(lo, hi), 2)
    if v == 0:
        v = 0.25
    s = repr(v)
    return ("(%s)" % s, "(%s)" % s) if v < 0 else (s, s)


class Scope:
    def __init__(self, parent=None):
        if parent is None:
            self.f = []        # readable f64 names
            self.fm = []       # mutable f64 vars
            self.i = []        # readable int names
            self.im = []       # mutable int vars (updatable)
            self.in_loop = False
            self.loop_ret = False  # a return here leaves a loop (and the fn)
            self.nest = 0
        else:
            self.f = list(parent.f)
            self.fm = list(parent.fm)
            self.i = list(parent.i)
            self.im = list(parent.im)
            self.in_loop = parent.in_loop
            self.loop_ret = parent.loop_ret
            self.nest = parent.nest + 1


class Block:
    """Parallel BP / Python line lists with indentation."""

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
        self.ok = allowed
        self.counter = 0
        self.helpers = []      # (name, kind) callable from the current fn
        self.fn_ret = False    # the current fn may return early
        self.used = set()
        self.ckpt = {}         # helper -> how BP calls it checkpointed

    def callee(self, name):
        """How BP names helper `name` at a call (the mirror calls `name`)."""
        return common.checkpointed_callee(self.ckpt, name)

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

    # ---- expressions -----------------------------------------------------

    def fleaf(self, sc):
        r = self.rng
        x = r.random()
        if sc.f and x < 0.65:
            v = r.choice(sc.f)
            return v, v
        if sc.i and x < 0.75 and self.ok("int"):
            v = r.choice(sc.i)
            return "float(%s)" % v, "float(%s)" % v
        return lit(r)

    def fexpr(self, sc, d):
        r = self.rng
        if d <= 0 or r.random() < 0.12:
            return self.fleaf(sc)
        ok = self.ok
        k = self.pick([
            ("arith", 6), ("div", 2), ("neg", 0.7), ("smooth", 4),
            ("exp", 1.2), ("log", 1.2), ("sqrt", 1.2),
            ("lgamma", 0.8 if ok("lgamma") else 0),
            ("pow", 1.5 if ok("pow") else 0), ("tan", 0.7 if ok("tan") else 0),
            ("kink", 3 if ok("kinks") else 0),
            ("ifexpr", 1.3 if ok("ifexpr") else 0),
            ("call", 2.5 if self.helpers else 0),
            ("sg", 0.8 if ok("sg") else 0),
            ("mixint", 1.2 if (ok("int") and sc.i) else 0),
            ("intconv", 0.6 if ok("int") else 0),
        ])
        d1 = d - 1
        if k == "arith":
            a, b = self.fexpr(sc, d1), self.fexpr(sc, d1)
            op = r.choice("+-*")
            return "(%s %s %s)" % (a[0], op, b[0]), "(%s %s %s)" % (a[1], op, b[1])
        if k == "div":
            a, b = self.fexpr(sc, d1), self.pos(sc, d1)
            return "(%s / %s)" % (a[0], b[0]), "(%s / %s)" % (a[1], b[1])
        if k == "neg":
            a = self.fexpr(sc, d1)
            return "(-%s)" % a[0], "(-%s)" % a[1]
        if k == "smooth":
            if r.random() < 0.1:  # atan2(y, x) with x > 0: no branch cut
                a, b = self.fexpr(sc, d1), self.pos(sc, d1)
                return ("atan2(%s, %s)" % (a[0], b[0]),
                        "_atan2(%s, %s)" % (a[1], b[1]))
            fn = r.choice(SMOOTH)
            a = self.fexpr(sc, d1)
            return "%s(%s)" % (fn, a[0]), "_%s(%s)" % (fn, a[1])
        if k == "exp":
            a = self.fexpr(sc, d1)
            if r.random() < 0.5:
                return "exp(%s)" % a[0], "_exp(%s)" % a[1]
            return "exp((0.5 * %s))" % a[0], "_exp((0.5 * %s))" % a[1]
        if k in ("log", "sqrt", "lgamma"):
            a = self.pos(sc, d1)
            return "%s(%s)" % (k, a[0]), "_%s(%s)" % (k, a[1])
        if k == "pow":
            v = r.randrange(4)
            if v == 0:
                a, b = self.pos(sc, d1), self.bounded(sc, d1)
                return "pow(%s, %s)" % (a[0], b[0]), "_pow(%s, %s)" % (a[1], b[1])
            if v == 1:
                a, b = self.pos(sc, d1), self.bounded(sc, d1)
                return "(%s ^ %s)" % (a[0], b[0]), "_pow(%s, %s)" % (a[1], b[1])
            a = self.fexpr(sc, d1)
            e = r.choice(["2", "3", "2.0"])
            if v == 2:
                return "(%s ^ %s)" % (a[0], e), "_pow(%s, %s)" % (a[1], float(e))
            return "pow(%s, %s)" % (a[0], e), "_pow(%s, %s)" % (a[1], float(e))
        if k == "tan":
            a = self.fexpr(sc, d1)
            return "tan((0.5 * sin(%s)))" % a[0], "_tan((0.5 * _sin(%s)))" % a[1]
        if k == "kink":
            fn = r.choice(["relu", "abs", "sign", "max", "min", "clip"])
            a = self.fexpr(sc, d1)
            if fn in ("relu", "abs", "sign"):
                return "%s(%s)" % (fn, a[0]), "_%s(%s)" % (fn, a[1])
            if fn in ("max", "min"):
                b = self.fexpr(sc, d1)
                return ("%s(%s, %s)" % (fn, a[0], b[0]),
                        "_%s(%s, %s)" % (fn, a[1], b[1]))
            lo = round(r.uniform(-1.5, 0.0), 2)
            if r.random() < 0.5:
                hi = lit(r, 0.2, 1.5)
            else:   # hi depends on the inputs too (gradient flows to hi)
                b = self.fexpr(sc, 0)
                hi = ("(0.2 + sigmoid(%s))" % b[0], "(0.2 + _sigmoid(%s))" % b[1])
            return ("clip(%s, %s, %s)" % (a[0], "(%r)" % lo, hi[0]),
                    "_clip(%s, %s, %s)" % (a[1], "(%r)" % lo, hi[1]))
        if k == "ifexpr":
            c = self.cond(sc, d1)
            a, b = self.fexpr(sc, d1), self.fexpr(sc, d1)
            return ("(if %s { %s } else { %s })" % (c[0], a[0], b[0]),
                    "(%s if %s else %s)" % (a[1], c[1], b[1]))
        if k == "call":
            return self.call(sc, d1)
        if k == "sg":
            a = self.fexpr(sc, d1)
            return "stop_gradient(%s)" % a[0], "_sg(%s)" % a[1]
        if k == "mixint":   # implicit int -> f64 conversion in arithmetic
            a = self.fexpr(sc, d1)
            i = self.iexpr(sc, 1)
            op = r.choice("+-*")
            if r.random() < 0.5:
                return ("(%s %s %s)" % (a[0], op, i[0]),
                        "(%s %s float(%s))" % (a[1], op, i[1]))
            return ("(%s %s %s)" % (i[0], op, a[0]),
                    "(float(%s) %s %s)" % (i[1], op, a[1]))
        if k == "intconv":
            i = self.iexpr(sc, 2, allow_conv=True)
            return "float(%s)" % i[0], "float(%s)" % i[1]
        raise AssertionError(k)

    def pos(self, sc, d):
        """An f64 expression that is positive (>= ~0.1)."""
        r = self.rng
        a = self.fexpr(sc, max(d - 1, 0))
        v = r.randrange(7)
        if v == 0:
            return "(1.0 + (%s ^ 2))" % a[0], "(1.0 + _pow(%s, 2.0))" % a[1]
        if v == 1:
            return "(1.0 + %s * %s)" % (a[0], a[0]), "(1.0 + %s * %s)" % (a[1], a[1])
        if v == 2:
            return "(2.0 + sin(%s))" % a[0], "(2.0 + _sin(%s))" % a[1]
        if v == 3:
            return "(0.1 + softplus(%s))" % a[0], "(0.1 + _softplus(%s))" % a[1]
        if v == 4:
            return "(0.5 + sigmoid(%s))" % a[0], "(0.5 + _sigmoid(%s))" % a[1]
        if v == 5:
            return "exp((0.5 * tanh(%s)))" % a[0], "_exp((0.5 * _tanh(%s)))" % a[1]
        return "(1.5 + cos(%s))" % a[0], "(1.5 + _cos(%s))" % a[1]

    def bounded(self, sc, d):
        """An f64 expression in [-1, 1]."""
        r = self.rng
        a = self.fexpr(sc, max(d - 1, 0))
        v = r.randrange(5)
        if v == 0:
            return "tanh(%s)" % a[0], "_tanh(%s)" % a[1]
        if v == 1:
            return "sin(%s)" % a[0], "_sin(%s)" % a[1]
        if v == 2:
            return "cos(%s)" % a[0], "_cos(%s)" % a[1]
        if v == 3:
            return "(2.0 * sigmoid(%s) - 1.0)" % a[0], "(2.0 * _sigmoid(%s) - 1.0)" % a[1]
        if self.ok("kinks"):
            return "clip(%s, -1.0, 1.0)" % a[0], "_clip(%s, -1.0, 1.0)" % a[1]
        return "tanh(%s)" % a[0], "_tanh(%s)" % a[1]

    def iexpr(self, sc, d, allow_conv=False):
        """A small int expression."""
        r = self.rng
        if d <= 0 or r.random() < 0.35:
            if sc.i and r.random() < 0.7:
                v = r.choice(sc.i)
                return v, v
            v = str(r.randrange(0, 4))
            return v, v
        k = self.pick([("add", 2), ("sub", 1), ("mul", 1),
                       ("div", 1 if self.ok("intdiv") else 0),
                       ("mod", 1 if self.ok("intdiv") else 0),
                       ("conv", 2 if allow_conv else 0.5)])
        if k == "conv":
            b = self.bounded(sc, 2)
            m = r.choice(["2.5", "3.0", "1.7"])
            return "int((%s * %s))" % (m, b[0]), "_int((%s * %s))" % (m, b[1])
        a = self.iexpr(sc, d - 1)
        if k in ("add", "sub"):
            b = self.iexpr(sc, d - 1)
            op = "+" if k == "add" else "-"
            return "(%s %s %s)" % (a[0], op, b[0]), "(%s %s %s)" % (a[1], op, b[1])
        if k == "mul":
            c = str(r.randrange(-2, 3))
            c = "(%s)" % c if c.startswith("-") else c
            return "(%s * %s)" % (a[0], c), "(%s * %s)" % (a[1], c)
        c = str(r.randrange(2, 4))
        if r.random() < 0.3:
            c = "(-%s)" % c
        if k == "div":
            return "(%s / %s)" % (a[0], c), "_idiv(%s, %s)" % (a[1], c)
        return "(%s %% %s)" % (a[0], c), "_imod(%s, %s)" % (a[1], c)

    def cond(self, sc, d):
        r = self.rng
        k = self.pick([("flit", 5), ("ff", 2), ("ii", 1 if sc.i else 0),
                       ("and", 1), ("or", 1), ("not", 0.6)])
        if k in ("and", "or") and d > 0:
            a, b = self.cond(sc, d - 1), self.cond(sc, d - 1)
            return "(%s %s %s)" % (a[0], k, b[0]), "(%s %s %s)" % (a[1], k, b[1])
        if k == "not" and d > 0:
            a = self.cond(sc, d - 1)
            return "(not %s)" % a[0], "(not %s)" % a[1]
        if k == "ii":
            a = self.iexpr(sc, 1)
            op = r.choice(["==", "!=", "<", ">=", "<=", ">"])
            b = str(r.randrange(0, 3))
            if r.random() < 0.5:
                c = str(r.randrange(2, 4))
                return ("((%s %% %s) %s %s)" % (a[0], c, op, b),
                        "_c(_imod(%s, %s) %s %s)" % (a[1], c, op, b))
            return "(%s %s %s)" % (a[0], op, b), "_c(%s %s %s)" % (a[1], op, b)
        op = r.choice(["<", "<=", ">", ">="])
        a = self.fexpr(sc, min(d, 2))
        if k == "ff":
            b = self.fexpr(sc, min(d, 2))
        else:
            b = lit(r, -1.0, 1.0)
        return "(%s %s %s)" % (a[0], op, b[0]), "_c(%s %s %s)" % (a[1], op, b[1])

    def call(self, sc, d):
        r = self.rng
        name, kind = r.choice(self.helpers)
        self.used.add(name)
        bname = self.callee(name)
        if kind == "f1":
            a = self.fexpr(sc, d)
            return "%s(%s)" % (bname, a[0]), "%s(%s)" % (name, a[1])
        if kind == "f2":
            a, b = self.fexpr(sc, d), self.fexpr(sc, d)
            return "%s(%s, %s)" % (bname, a[0], b[0]), "%s(%s, %s)" % (name, a[1], b[1])
        if kind == "fi":
            a = self.fexpr(sc, d)
            m = self.iexpr(sc, 1)
            return "%s(%s, %s)" % (bname, a[0], m[0]), "%s(%s, %s)" % (name, a[1], m[1])
        # recursive helper: (f64, f64, depth)
        a, b = self.bounded(sc, d), self.fexpr(sc, d)
        if sc.i and r.random() < 0.5:
            dd = r.choice(sc.i)
            dd = ("(%s %% 4)" % dd, "_imod(%s, 4)" % dd)
        else:
            dd = str(r.randrange(0, 4))
            dd = (dd, dd)
        return ("%s(%s, %s, %s)" % (bname, a[0], b[0], dd[0]),
                "%s(%s, %s, %s)" % (name, a[1], b[1], dd[1]))

    # ---- statements ------------------------------------------------------

    def factor(self, sc, d):
        """Bounded multiplicative factor for *=."""
        b = self.bounded(sc, d)
        c = round(self.rng.uniform(0.2, 0.6), 2)
        return "(1.0 + %r * %s)" % (c, b[0]), "(1.0 + %r * %s)" % (c, b[1])

    def assign(self, blk, ind, sc, d):
        r = self.rng
        v = r.choice(sc.fm)
        op = r.choice(["=", "+=", "-=", "*=", "/=", "+=", "="])
        if op == "=":
            # loop-carried: new value depends on the old one
            a = self.fexpr(sc, d)
            c = round(r.uniform(0.3, 0.9), 2)
            if r.random() < 0.6:
                blk.add(ind, "%s = %r * %s + %s" % (v, c, v, a[0]),
                        "%s = %r * %s + %s" % (v, c, v, a[1]))
            else:
                blk.add(ind, "%s = %s" % (v, a[0]), "%s = %s" % (v, a[1]))
        elif op in ("+=", "-="):
            a = self.fexpr(sc, d)
            blk.add(ind, "%s %s %s" % (v, op, a[0]), "%s %s %s" % (v, op, a[1]))
        elif op == "*=":
            a = self.factor(sc, d)
            blk.add(ind, "%s *= %s" % (v, a[0]), "%s *= %s" % (v, a[1]))
        else:
            a = self.pos(sc, d)
            blk.add(ind, "%s /= %s" % (v, a[0]), "%s /= %s" % (v, a[1]))

    def stmt(self, blk, ind, sc, d, allow_return):
        r = self.rng
        ok = self.ok
        deep = sc.nest >= 2
        k = self.pick([
            ("let", 3), ("var", 2 if not sc.in_loop else 0.3),
            ("assign", 4 if sc.fm else 0),
            ("if", 1.5 if (ok("if") and not deep) else 0),
            ("for", 1.5 if (ok("for") and not deep) else 0),
            ("while", 1.0 if (ok("while") and not deep) else 0),
            ("ivar", 0.5 if (ok("int") and not sc.in_loop) else 0),
            ("iupd", 1.0 if (sc.im and sc.in_loop) else 0),
        ])
        if k == "let":
            n = self.fresh("t")
            a = self.fexpr(sc, d)
            blk.add(ind, "let %s = %s" % (n, a[0]), "%s = %s" % (n, a[1]))
            sc.f.append(n)
        elif k == "var":
            n = self.fresh("s")
            a = self.fexpr(sc, d)
            blk.add(ind, "var %s = %s" % (n, a[0]), "%s = %s" % (n, a[1]))
            sc.f.append(n)
            sc.fm.append(n)
        elif k == "assign":
            self.assign(blk, ind, sc, d)
        elif k == "ivar":
            n = self.fresh("m")
            a = self.iexpr(sc, 1)
            blk.add(ind, "var %s = %s" % (n, a[0]), "%s = %s" % (n, a[1]))
            sc.i.append(n)
            sc.im.append(n)
        elif k == "iupd":
            n = r.choice(sc.im)
            a = self.iexpr(sc, 1)
            if r.random() < 0.5 and ok("intdiv"):
                blk.add(ind, "%s = (%s + %s) %% 3" % (n, n, a[0]),
                        "%s = _imod((%s + %s), 3)" % (n, n, a[1]))
            else:
                blk.add(ind, "%s += %s" % (n, a[0]), "%s += %s" % (n, a[1]))
        elif k == "if":
            self.if_stmt(blk, ind, sc, d, allow_return)
        elif k == "for":
            self.for_stmt(blk, ind, sc, d)
        else:
            self.while_stmt(blk, ind, sc, d)

    def block(self, blk, ind, sc, d, n, allow_return=False, need_assign=False):
        for _ in range(n):
            self.stmt(blk, ind, sc, d, allow_return)
        if need_assign and sc.fm:
            self.assign(blk, ind, sc, d)

    def ensure_var(self, blk, ind, sc, d):
        if not sc.fm or self.rng.random() < 0.3:
            n = self.fresh("s")
            a = self.fexpr(sc, 1)
            blk.add(ind, "var %s = %s" % (n, a[0]), "%s = %s" % (n, a[1]))
            sc.f.append(n)
            sc.fm.append(n)

    def if_stmt(self, blk, ind, sc, d, allow_return):
        r = self.rng
        c = self.cond(sc, 1)
        blk.add(ind, "if %s {" % c[0], "if %s:" % c[1])
        s1 = Scope(sc)
        self.block(blk, ind + 1, s1, d, r.randint(1, 2), need_assign=True)
        if allow_return and self.ok("return") and r.random() < 0.35:
            a = self.fexpr(s1, d)
            blk.add(ind + 1, "return %s" % a[0], "return %s" % a[1])
        # Inside a loop: return from the then, the else-if or the else branch.
        lr = None
        if sc.loop_ret and r.random() < P_IF_IN_LOOP_RETURN:
            lr = r.choice(["then", "then", "elif", "else"])
        x = r.random()
        if lr == "then" or (lr is not None and x < 0.25):
            self.ret(blk, ind + 1, s1, d)
        if x < 0.25:
            blk.add(ind, "}", None)
            return
        if x < 0.45:   # else-if chain
            c2 = self.cond(sc, 1)
            blk.add(ind, "} else if %s {" % c2[0], "elif %s:" % c2[1])
            s2 = Scope(sc)
            self.block(blk, ind + 1, s2, d, 1, need_assign=True)
            if lr == "elif":
                self.ret(blk, ind + 1, s2, d)
        elif lr == "elif":
            lr = "else"
        blk.add(ind, "} else {", "else:")
        s3 = Scope(sc)
        self.block(blk, ind + 1, s3, d, r.randint(1, 2), need_assign=True)
        if lr == "else":
            self.ret(blk, ind + 1, s3, d)
        blk.add(ind, "}", None)

    def ret(self, blk, ind, sc, d):
        """`return e`, e usually depending on a loop-carried var."""
        r = self.rng
        a = self.fexpr(sc, d)
        if sc.fm and r.random() < 0.7:
            v = r.choice(sc.fm)
            c = round(r.uniform(0.3, 1.5), 2)
            a = ("%r * %s + %s" % (c, v, a[0]), "%r * %s + %s" % (c, v, a[1]))
        blk.add(ind, "return %s" % a[0], "return %s" % a[1])

    def loop_exit(self, blk, ind, sc, d):
        """Maybe end a loop body with `if c { ...; return e }` or `return e`
        (the rest of the loop, and of the function, is then skipped)."""
        if not sc.loop_ret:
            return
        r = self.rng
        x = r.random()
        if x < P_LOOP_IF_RETURN:
            c = self.cond(sc, 1)
            blk.add(ind, "if %s {" % c[0], "if %s:" % c[1])
            s1 = Scope(sc)
            if r.random() < 0.5:
                self.block(blk, ind + 1, s1, d, 1)
            self.ret(blk, ind + 1, s1, d)
            blk.add(ind, "}", None)
        elif x < P_LOOP_IF_RETURN + P_LOOP_RETURN:
            self.ret(blk, ind, sc, d)

    def for_stmt(self, blk, ind, sc, d):
        r = self.rng
        self.ensure_var(blk, ind, sc, d)
        i = self.fresh("i")
        opts = [("0", "0", "3", "3"), ("1", "1", "4", "4"), ("0", "0", "2", "2")]
        for v in ("n", "m"):
            if v in sc.i:
                opts += [("0", "0", v, v), ("1", "1", "(%s + 1)" % v, "(%s + 1)" % v)]
        loops = [v for v in sc.i if v.startswith("i")]
        if loops:
            o = r.choice(loops)
            opts.append((o, o, "3", "3"))
        if self.ok("int"):
            b = self.bounded(sc, 1)
            opts.append(("0", "0", "int((2.0 + 1.5 * %s))" % b[0],
                         "_int((2.0 + 1.5 * %s))" % b[1]))
        lo_b, lo_p, hi_b, hi_p = r.choice(opts)
        blk.add(ind, "for %s in %s..%s {" % (i, lo_b, hi_b),
                "for %s in range(%s, %s):" % (i, lo_p, hi_p))
        s = Scope(sc)
        s.in_loop = True
        s.loop_ret = self.fn_ret and self.ok("loopreturn")
        s.i.append(i)
        self.block(blk, ind + 1, s, d, r.randint(0, 2), need_assign=True)
        self.loop_exit(blk, ind + 1, s, d)
        blk.add(ind, "}", None)

    def while_stmt(self, blk, ind, sc, d):
        r = self.rng
        self.ensure_var(blk, ind, sc, d)
        k = self.fresh("k")
        bound = str(r.randint(1, 4))
        blk.add(ind, "var %s = 0" % k, "%s = 0" % k)
        extra = ("", "")
        x = r.random()
        if x < 0.3:
            c = self.cond(sc, 0)
            extra = (" and %s" % c[0], " and %s" % c[1])
        elif x < 0.5:
            v = r.choice(sc.fm)
            lim = lit(r, 0.5, 3.0)
            extra = (" and %s < %s" % (v, lim[0]), " and _c(%s < %s)" % (v, lim[1]))
        blk.add(ind, "while %s < %s%s {" % (k, bound, extra[0]),
                "while %s < %s%s:" % (k, bound, extra[1]))
        s = Scope(sc)
        s.in_loop = True
        s.loop_ret = self.fn_ret and self.ok("loopreturn")
        s.i.append(k)
        self.block(blk, ind + 1, s, d, r.randint(0, 2), need_assign=True)
        self.loop_exit(blk, ind + 1, s, d)
        blk.add(ind + 1, "%s += 1" % k, "%s += 1" % k)
        blk.add(ind, "}", None)

    # ---- functions -------------------------------------------------------

    def finish(self, blk, sc, d):
        """Final return: an expression plus the locals plus unused helpers."""
        r = self.rng
        a = self.fexpr(sc, d)
        bp, py = [a[0]], [a[1]]
        for v in sc.f:
            if r.random() < 0.6:
                c = round(r.uniform(0.1, 0.9), 2)
                bp.append("%r * %s" % (c, v))
                py.append("%r * %s" % (c, v))
        for name, kind in self.helpers:
            if name not in self.used:
                self.used.add(name)
                saved = self.helpers
                self.helpers = [(name, kind)]
                cl = self.call(sc, 1)
                self.helpers = saved
                bp.append(cl[0])
                py.append(cl[1])
        blk.add(1, "return %s" % " + ".join(bp), "return %s" % " + ".join(py))

    def function(self, name, params, n_stmts, d, allow_return=True):
        """params: list of (name, 'f64'|'int')."""
        blk = Block()
        sig = ", ".join("%s: %s" % p for p in params)
        blk.add(0, "fn %s(%s) -> f64 {" % (name, sig),
                "def %s(%s):" % (name, ", ".join(p for p, _ in params)))
        sc = Scope()
        for p, t in params:
            (sc.f if t == "f64" else sc.i).append(p)
        self.fn_ret = allow_return
        self.block(blk, 1, sc, d, n_stmts, allow_return=allow_return)
        self.finish(blk, sc, d)
        blk.add(0, "}", None)
        return blk

    def recursive(self, name):
        blk = Block()
        blk.add(0, "fn %s(a: f64, b: f64, d: int) -> f64 {" % name,
                "def %s(a, b, d):" % name)
        sc = Scope()
        sc.f = ["a", "b"]
        saved = self.helpers
        self.helpers = []
        base = self.fexpr(sc, 2)
        blk.add(1, "if d <= 0 {", "if d <= 0:")
        blk.add(2, "return %s" % base[0], "return %s" % base[1])
        blk.add(1, "}", None)
        t = self.fresh("t")
        e = self.fexpr(sc, 2)
        blk.add(1, "let %s = %s" % (t, e[0]), "%s = %s" % (t, e[1]))
        sc.f.append(t)
        calls = []
        for _ in range(self.rng.choice([1, 1, 2])):
            a1 = self.bounded(sc, 1)
            b1 = self.fexpr(sc, 1)
            calls.append(("%s(%s, %s, d - 1)" % (name, a1[0], b1[0]),
                          "%s(%s, %s, d - 1)" % (name, a1[1], b1[1])))
        self.helpers = saved
        fin = self.fexpr(sc, 1)
        c = round(self.rng.uniform(0.3, 0.8), 2)
        blk.add(1, "return %s + %r * (%s)" % (fin[0], c, " + ".join(x[0] for x in calls)),
                "return %s + %r * (%s)" % (fin[1], c, " + ".join(x[1] for x in calls)))
        blk.add(0, "}", None)
        return blk


class Program:
    pass


def checkpointed(g, crng, name, blocks):
    """Maybe makes the calls of helper `name` checkpointed (P_CKPT_*);
    `fn c<name> = checkpoint(<name>)` goes after its definition."""
    if not g.ok("checkpoint"):
        return
    x = crng.random()
    if x < P_CKPT_INLINE:
        g.ckpt[name] = "inline"
    elif x < P_CKPT_INLINE + P_CKPT_BOUND:
        g.ckpt[name] = "bound"
        blk = Block()
        blk.add(0, "fn c%s = checkpoint(%s)" % (name, name), None)
        blocks.append(blk)


def make_program(pid, seed, allowed, second):
    """Generate one program (retrying until the mirror accepts a point)."""
    for attempt in range(200):
        rng = random.Random("%d:%d:%d" % (seed, pid, attempt))
        # No stop_gradient in second-order programs: grad(grad(g)) treats
        # stop_gradient(e) in g' as a constant too (as JAX does), so it is not
        # the finite difference of g' that the checker compares it with.
        ok = (lambda c: c in allowed and c != "sg") if second else \
            (lambda c: c in allowed)
        g = Gen(rng, pid, ok)
        crng = random.Random("checkpoint:%d:%d:%d" % (seed, pid, attempt))
        blocks = []
        nh = rng.randint(1, 3) if "helpers" in allowed or "recursion" in allowed else 0
        helpers = []
        want_rec = "recursion" in allowed and rng.random() < 0.75
        for j in range(nh):
            if j == 0 and want_rec:
                name = "r%d" % pid
                blocks.append(g.recursive(name))
                helpers.append((name, "rec"))
                checkpointed(g, crng, name, blocks)
                continue
            if "helpers" not in allowed:
                continue
            name = "h%d_%d" % (pid, j)
            kind = rng.choice(["f1", "f2", "fi"])
            params = {"f1": [("a", "f64")], "f2": [("a", "f64"), ("b", "f64")],
                      "fi": [("a", "f64"), ("m", "int")]}[kind]
            g.helpers = list(helpers)
            g.used = set()
            g.counter = 0
            blocks.append(g.function(name, params, rng.randint(1, 3), 2))
            helpers.append((name, kind))
            checkpointed(g, crng, name, blocks)
        g.helpers = helpers
        g.used = set()
        g.counter = 0
        if second:
            fname = "g%d" % pid
            params = [("x", "f64")]
        else:
            fname = "f%d" % pid
            nf = rng.randint(2, 4)
            params = [(v, "f64") for v in ["x", "y", "z", "w"][:nf]]
            if "int" in allowed and rng.random() < 0.6:
                params.append(("n", "int"))
        blocks.append(g.function(fname, params, rng.randint(2, 5), 3))
        bp = "\n".join("\n".join(b.bp) for b in blocks) + "\n"
        py = "\n".join("\n".join(b.py) for b in blocks) + "\n"
        ns = dict(PRELUDE)
        try:
            exec(compile(py, "<mirror %d>" % pid, "exec"), ns)
        except (SyntaxError, RecursionError):
            continue
        fn = ns[fname]
        for tries in range(8):
            pt = [round(rng.uniform(-2.0, 2.0), 4) for p in params if p[1] == "f64"]
            nval = rng.randint(0, 4) if params[-1][1] == "int" else None
            res = check_point(fn, pt, nval, second)
            if res is not None:
                p = Program()
                p.pid, p.bp, p.py, p.fname, p.params = pid, bp, py, fname, params
                p.point, p.n, p.second = pt, nval, second
                p.value, p.fd, p.h = res
                p.attempt = attempt
                p.mirror = fn
                return p
    raise RuntimeError("could not generate program %d" % pid)


H_FD = 1e-4


def full_args(pt, nval):
    return list(pt) + ([nval] if nval is not None else [])


def check_point(fn, pt, nval, second):
    """Accept the point when the mirror is finite, moderate and smooth around
    it; return (value, fd gradient, h list) or None."""
    base = evaluate(fn, full_args(pt, nval))
    if base is None:
        return None
    v0, tr0, sg0 = base
    if abs(v0) > 1e6:
        return None
    fd, hs = [], []
    for j in range(len(pt)):
        h = H_FD * max(1.0, abs(pt[j]))
        h = (pt[j] + h) - pt[j]
        vals = {}
        for m in (-4, -2, -1, 1, 2, 4):
            q = list(pt)
            q[j] = pt[j] + m * h
            r = evaluate(fn, full_args(q, nval), frozen=sg0)
            if r is None or r[1] != tr0:
                return None
            vals[m] = r[0]
        d1 = (vals[-2] - 8 * vals[-1] + 8 * vals[1] - vals[2]) / (12 * h)
        d2 = (vals[-4] - 8 * vals[-2] + 8 * vals[2] - vals[4]) / (24 * h)
        if not (abs(d1) < 1e6) or abs(d1 - d2) > 1e-7 * max(1.0, abs(d1)):
            return None    # too wild for a reliable finite difference
        fd.append(d1)
        hs.append(h)
    return v0, fd, hs


# ---------------------------------------------------------------------------
# BP main() and result checking.


def main_lines(p, top):
    """Statements for main() that print program p's results on one line
    starting with its id; `top` collects top-level derived-fn bindings."""
    rng = random.Random("main:%d" % p.pid)
    L = []
    pid = p.pid
    if p.second:
        x0, h = p.point[0], p.h[0]
        g = p.fname
        if rng.random() < 0.5:
            top.append("fn dg%d = grad(%s, x)" % (pid, g))
            top.append("fn ddg%d = grad(dg%d, x)" % (pid, pid))
            gg = "ddg%d(%s)" % (pid, fmt(x0))
            hv = "jvp(dg%d, x)(%s, 1.0)" % (pid, fmt(x0))
            d1 = "dg%d" % pid
        else:
            gg = "grad(grad(%s, x), x)(%s)" % (g, fmt(x0))
            hv = "jvp(grad(%s, x), x)(%s, 1.0)" % (g, fmt(x0))
            d1 = "grad(%s, x)" % g
        L.append("let gg%d = %s" % (pid, gg))
        L.append("let (hv%d_0, hv%d_1) = %s" % (pid, pid, hv))
        pts = [x0 + m * h for m in (-2, -1, 1, 2)]
        outs = ["%s(%s)" % (d1, fmt(x0))] + ["%s(%s)" % (d1, fmt(q)) for q in pts]
        L.append("print(%d, %s(%s), gg%d, hv%d_0, hv%d_1, %s)" % (
            pid, g, fmt(x0), pid, pid, pid, ", ".join(outs)))
        return L
    args = [fmt(v) for v in p.point] + ([str(p.n)] if p.n is not None else [])
    a = ", ".join(args)
    fv = [n for n, t in p.params if t == "f64"]
    k = len(fv)
    vl = ", ".join(fv)
    gs = ["g%d_%d" % (pid, j) for j in range(k)]
    if rng.random() < 0.5:
        top.append("fn df%d = grad(%s, %s)" % (pid, p.fname, vl))
        L.append("let (%s) = df%d(%s)" % (", ".join(gs), pid, a))
    else:
        L.append("let (%s) = grad(%s, %s)(%s)" % (", ".join(gs), p.fname, vl, a))
    outs = ["%s(%s)" % (p.fname, a)] + gs
    for j in range(k):
        tang = ", ".join("1.0" if i == j else "0.0" for i in range(k))
        L.append("let (jv%d_%d, jd%d_%d) = jvp(%s, %s)(%s, %s)" % (
            pid, j, pid, j, p.fname, vl, a, tang))
        outs += ["jv%d_%d" % (pid, j), "jd%d_%d" % (pid, j)]
    qs = ["q%d_%d" % (pid, j) for j in range(k)]
    L.append("let (vv%d, %s) = value_and_grad(%s, %s)(%s)" % (
        pid, ", ".join(qs), p.fname, vl, a))
    outs += ["vv%d" % pid] + qs
    L.append("print(%d, %s)" % (pid, ", ".join(outs)))
    return L


VAL_REL, VAL_ABS = 1e-11, 1e-12
FD_REL, FD_ABS = 1e-5, 1e-6
MODE_REL, MODE_ABS = 1e-9, 1e-12
SAME_REL = 1e-12


def check_results(p, vals):
    """List of (what, bpc value, expected, how) mismatches."""
    bad = []
    if p.second:
        if len(vals) != 9:
            return [("output", "%d numbers" % len(vals), "9 numbers", "")]
        v, gg, hv0, hv1, d0, dm2, dm1, dp1, dp2 = vals
        h = p.h[0]
        if not close(v, p.value, VAL_REL, VAL_ABS):
            bad.append(("g(x)", v, p.value, "Python mirror"))
        if not close(d0, p.fd[0], FD_REL, FD_ABS):
            bad.append(("grad(g, x)", d0, p.fd[0], "finite difference of the mirror"))
        fd2 = (dm2 - 8 * dm1 + 8 * dp1 - dp2) / (12 * h)
        # The reference is only as good as its step: where the 5-point and
        # 3-point differences of BP's grad disagree, h is too coarse at this
        # point (large higher derivatives) and grad(grad) is checked by
        # jvp(grad) alone (below), as d0 is by the mirror.
        fd2_3 = (dp1 - dm1) / (2 * h)
        if not close(gg, fd2, FD_REL, FD_ABS) and close(fd2_3, fd2, FD_REL, FD_ABS):
            bad.append(("grad(grad(g, x), x)", gg, fd2,
                        "finite difference of BP's grad(g, x) at x +- h, x +- 2h"))
        if not close(hv0, d0, SAME_REL, 1e-14):
            bad.append(("jvp(grad(g, x), x) value", hv0, d0, "grad(g, x)"))
        sc = max(abs(gg), abs(hv1), abs(d0))
        if not close(hv1, gg, MODE_REL, MODE_ABS * (1 + sc)):
            bad.append(("jvp(grad(g, x), x) tangent", hv1, gg, "grad(grad(g, x), x)"))
        return bad
    k = len(p.point)
    if len(vals) != 1 + k + 2 * k + 1 + k:
        return [("output", "%d numbers" % len(vals), "%d numbers" % (2 + 4 * k), "")]
    fv = [n for n, t in p.params if t == "f64"]
    v = vals[0]
    g = vals[1:1 + k]
    jv = vals[1 + k:1 + 3 * k]
    vv = vals[1 + 3 * k]
    q = vals[2 + 3 * k:]
    if not close(v, p.value, VAL_REL, VAL_ABS):
        bad.append(("f value", v, p.value, "Python mirror"))
    sc = max([abs(x) for x in g] + [0.0])
    for j in range(k):
        if not close(g[j], p.fd[j], FD_REL, FD_ABS):
            bad.append(("grad d/d%s (reverse)" % fv[j], g[j], p.fd[j],
                        "finite difference of the mirror"))
        if not close(jv[2 * j], v, SAME_REL, 1e-14):
            bad.append(("jvp value (tangent e_%s)" % fv[j], jv[2 * j], v, "f value"))
        if not close(jv[2 * j + 1], g[j], MODE_REL, MODE_ABS * (1 + sc)):
            bad.append(("jvp d/d%s (forward)" % fv[j], jv[2 * j + 1], g[j],
                        "reverse mode grad"))
        if not close(q[j], g[j], SAME_REL, 1e-14):
            bad.append(("value_and_grad d/d%s" % fv[j], q[j], g[j], "grad"))
    if not close(vv, v, SAME_REL, 1e-14):
        bad.append(("value_and_grad value", vv, v, "f value"))
    return bad


def parse_values(text):
    """The numbers printed after a program's id."""
    return [float(t) for t in text.split()]


def add_vmap(p, args):
    """Vmapped forms of p's function for a --vmap fraction of the programs
    (their own random stream: the programs themselves do not change)."""
    rng = random.Random("vmap:%d:%d" % (args.seed, p.pid))
    if rng.random() >= args.vmap:
        return

    def ok(vals):
        r = evaluate(p.mirror, vals)
        return r is not None and abs(r[0]) <= 1e6

    p.vmap = common.vmap_plan(
        rng, p.pid, p.fname,
        [(n, t, () if t == "f64" else None) for n, t in p.params],
        full_args(p.point, p.n),
        lambda v: str(v) if isinstance(v, int) else fmt(v),
        lambda r, v: round(v + r.uniform(-0.5, 0.5), 4), ok,
        [n for n, t in p.params if t == "f64"], grad_sum=args.vmap_grad_sum)


def point_text(p):
    fv = [n for n, t in p.params if t == "f64"]
    s = ", ".join("%s=%r" % (n, v) for n, v in zip(fv, p.point))
    if p.n is not None:
        s += ", n=%d" % p.n
    return s


def main(argv=None):
    args = common.parse_args(argv, __doc__, CONSTRUCTS, count=300, batch=25,
                             flag_help="extra flag for `bpc run` (e.g. --no-simplify)")
    t0 = time.time()
    allowed = args.allowed

    def make(pid):
        second = "second" in allowed and pid % 6 == 5
        p = make_program(pid, args.seed, allowed, second)
        add_vmap(p, args)
        return p

    outdir = common.out_dir(args, "ad_fuzz")
    progs, failures, nruns, tgen = common.run_and_check(
        args, outdir, make, main_lines, parse_values, check_results, point_text)
    n_fail_progs = common.report(
        args, "ad_fuzz", outdir, failures, main_lines, point_text,
        lambda p: "program %d (%s order)" % (p.pid, "second" if p.second else "first"))
    nsec = sum(1 for p in progs if p.second)
    print("ad_fuzz: seed %d, %d programs (%d second-order, %s), %d bpc runs, "
          "%d failed; generation %.1f s, total %.1f s%s" % (
              args.seed, len(progs), nsec, common.vmap_note(progs), nruns,
              n_fail_progs, tgen,
              time.time() - t0, common.files_note(args, outdir, failures)))
    return common.clean_up(args, outdir, failures)


if __name__ == "__main__":
    sys.exit(main())
