"""ad_fuzz_common.py -- the runner shared by ad_fuzz.py and ad_fuzz_tensor.py.

The two property tests differ in what they generate and check; this module
holds what they do alike: the command line, formatting BP numbers, writing
the batched BP file, running `bpc run` (batches first, then program by
program for a batch that failed), parsing its `id value ...` lines, and
reporting failures.  A fuzzer supplies its own pieces as functions:
  make_program(pid) -> program   (with .pid, .bp, .py)
  main_lines(p, top) -> statements of main() printing p's results on one
                        line starting with p.pid (derived-fn bindings go to top)
  parse_values(text) -> the values printed after the id
  check_results(p, values) -> list of (what, bpc value, expected, how)
  point_text(p) -> the point p is evaluated at, for the reports
A program may also carry p.vmap (from vmap_plan below): vmapped forms of its
function and of its gradient, printed on a line of their own (id
VMAP_ID + pid) and checked here against per-example calls.
Standard library only.
"""

import argparse
import concurrent.futures
import math
import os
import re
import subprocess
import sys
import tempfile
import time



# --- The op table ---------------------------------------------------------
# The fuzzers draw their elementwise functions from compiler/ir/Ops.def (the
# MATH lines whose Builtin column is Fn), so an op added there is fuzzed as
# soon as this file has a Python reference for it (an independent oracle);
# one without is named on stderr, not silently skipped.

OPS_DEF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "compiler", "ir", "Ops.def")


def table_builtins(path=OPS_DEF):
    """{name: arity} of the elementwise builtins of the op table."""
    text = open(path).read()
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^MATH\(\w+, "(\w+)", (\d), Fn,', text, re.M)}


def sigmoid_ref(a):
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def softplus_ref(a):
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _gelu_ref(a):  # PyTorch's approximate="tanh"
    return 0.5 * a * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) *
                                      (a + 0.044715 * a * a * a)))


# Smooth on every real number: the fuzzers' "smooth" choice.
SMOOTH_REFERENCES = {
    "sin": math.sin, "cos": math.cos, "tanh": math.tanh,
    "sigmoid": sigmoid_ref, "softplus": softplus_ref, "atan": math.atan,
    "erf": math.erf, "gelu": _gelu_ref,
}
# Fuzzed by constructs of their own (restricted domains, kinks, arity 2+;
# atan2 by ad_fuzz.py's "smooth" construct, scalars only).
FUZZED_ELSEWHERE = {"exp", "log", "sqrt", "tan", "lgamma", "pow", "relu",
                    "sign", "clip", "stop_gradient", "atan2"}


def smooth_unary(path=OPS_DEF):
    """The table's one-operand builtins with a smooth reference, in table
    order; warns once about table builtins no fuzzer construct covers."""
    table = table_builtins(path)
    missing = sorted(n for n in table
                     if n not in SMOOTH_REFERENCES and n not in FUZZED_ELSEWHERE)
    if missing:
        sys.stderr.write("ad_fuzz: no Python reference, not fuzzed: %s\n"
                         % ", ".join(missing))
    return [n for n, a in table.items() if a == 1 and n in SMOOTH_REFERENCES]


def fmt(x):
    s = repr(float(x))
    return "(%s)" % s if s.startswith("-") else s


def close(a, b, rel, absf):
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + absf


# --- vmap ------------------------------------------------------------------
# vmap_plan gives a program vmapped forms of its function f (LANGUAGE.md
# section 11): B in 1..5 examples, a random nonempty subset of f's f64 and
# f64-tensor arguments batched (or `vmap(f, B)`, every argument, when all of
# them can be), named (`fn fv = vmap(f, B, x)`) or inline.  Example 0 is the
# program's point, the others are perturbations of it that the mirror
# accepts.  main() prints, on the line VMAP_ID + pid, the items of
#   - vmap(f, B, ...)(X, ...)[i],
#   - vmap(grad(f, ...), B, ...)(X, ...)[i]  (each component),
#   - grad(fn(X, ...) -> f64 { sum or mean of vmap(f, ...)(X, ...) }, x)[i],
# then the same items from per-example calls (f(x_i, ...), grad(f)(x_i, ...),
# that gradient's x component, / B for a mean); the checker compares the two
# halves element by element.

VMAP_ID = 1000000
VMAP_REL, VMAP_ABS = 1e-10, 1e-12


def parse_nested(text):
    """Printed values (numbers and nested [..] lists) of one line."""
    toks = re.findall(r"\s*(\[|\]|,|[^\s\[\],]+)", text)
    pos = [0]

    def value():
        t = toks[pos[0]]
        pos[0] += 1
        if t == "[":
            out = []
            while True:
                out.append(value())
                t = toks[pos[0]]
                pos[0] += 1
                if t == "]":
                    return out
                if t != ",":
                    raise ValueError("expected , or ]")
        return float(t)
    vals = []
    while pos[0] < len(toks):
        vals.append(value())
    return vals


def _flat(v):
    return [v] if isinstance(v, float) else [x for e in v for x in _flat(e)]


def _has_lines(p, got):
    return p.pid in got and (getattr(p, "vmap", None) is None or
                             VMAP_ID + p.pid in got)


class VmapPlan:
    """The vmapped forms of one program: top-level bindings, main() lines
    and the labels of the printed items."""

    def __init__(self):
        self.top, self.lines, self.labels = [], [], []

    def check(self, vals):
        """(what, bpc value, expected, how) mismatches of the vmap line."""
        n = len(self.labels)
        if vals is None:
            return [("vmap output", "missing", "%d items" % (2 * n), "")]
        if len(vals) != 2 * n:
            return [("vmap output", "%d items" % len(vals), "%d items" % (2 * n), "")]
        bad = []
        for what, got, exp in zip(self.labels, vals[:n], vals[n:]):
            g, e = _flat(got), _flat(exp)
            if len(g) != len(e):
                bad.append((what + " shape", got, exp, "per-example call"))
                continue
            sc = max([abs(x) for x in e if math.isfinite(x)] + [1.0])
            for j, (a, b) in enumerate(zip(g, e)):
                if not close(a, b, VMAP_REL, VMAP_ABS * sc):
                    bad.append((what + ("" if len(g) == 1 else "{%d}" % j), a, b,
                                "per-example call"))
        return bad


def vmap_note(progs):
    """How many programs got which vmapped forms, for the summary line."""
    vs = [p.vmap for p in progs if getattr(p, "vmap", None) is not None]
    return "%d with vmap: %d of grad, %d grad of sum/mean" % (
        len(vs), sum(1 for v in vs if v.grad), sum(1 for v in vs if v.sum))


def _batched_type(shape, B):
    return "f64[%s]" % ", ".join(str(d) for d in (B,) + tuple(shape))


def vmap_plan(rng, pid, fname, args, point, lit, perturb, ok, gvars,
              grad_sum=True):
    """Vmapped forms of f for main() (see above), or None when no argument
    can be batched.
      args:    f's arguments [(name, BP type, shape)]; shape () for f64, a
               tuple for a tensor, None for what cannot be batched (int)
      point:   f's argument values at the program's point
      lit(v), perturb(rng, v): BP literal text / a nearby value of one
               argument
      ok(vals): whether the mirror accepts f at these argument values
      gvars:   what grad(f, ...) differentiates (f's f64 arguments and
               params), in order
      grad_sum: whether the grad-of-sum/mean form may be drawn."""
    can = [j for j, a in enumerate(args) if a[2] is not None]
    if not can:
        return None
    B = rng.randint(1, 5)
    bat = sorted(rng.sample(can, rng.randint(1, len(can))))
    all_form = len(bat) == len(args) and rng.random() < 0.4
    # The examples: 0 is the point, the others perturbations the mirror accepts.
    exs = [list(point)]
    for i in range(1, B):
        for tries in range(10):
            q = list(point)
            for j in bat:
                q[j] = perturb(rng, point[j])
            if ok(q):
                break
        else:
            q = list(point)
        exs.append(q)
    v = VmapPlan()
    names = ", ".join(args[j][0] for j in bat)
    vm = "vmap(%s, %d%s)" % (fname, B, "" if all_form else ", " + names)
    if rng.random() < 0.6:
        v.top.append("fn fv%d = %s" % (pid, vm))
        vm = "fv%d" % pid
    for j in bat:
        v.lines.append("let vX%d_%s = [%s]" % (pid, args[j][0],
                                            ", ".join(lit(e[j]) for e in exs)))
    call = ", ".join(("vX%d_%s" % (pid, a[0])) if j in bat else lit(point[j])
                     for j, a in enumerate(args))
    ex_args = [", ".join(lit(e[j]) for j in range(len(args))) for e in exs]
    got, exp = [], []
    v.lines.append("let vr%d = %s(%s)" % (pid, vm, call))
    for i in range(B):
        v.labels.append("vmap(f, %d, %s)[%d]" % (B, names, i))
        got.append("vr%d[%d]" % (pid, i))
        exp.append("%s(%s)" % (fname, ex_args[i]))
    k = len(gvars)
    want_grad = rng.random() < 0.6
    want_sum = rng.random() < 0.5 and grad_sum
    if want_grad or want_sum:
        v.top.append("fn vdf%d = grad(%s, %s)" % (pid, fname, ", ".join(gvars)))
        for i in range(B):
            es = ["vg%d_%d_%d" % (pid, i, c) for c in range(k)]
            v.lines.append("let %s = vdf%d(%s)" % (
                es[0] if k == 1 else "(%s)" % ", ".join(es), pid, ex_args[i]))
    if want_grad:
        gm = "vmap(vdf%d, %d, %s)" % (pid, B, names)
        if rng.random() < 0.5:
            v.top.append("fn vdfb%d = %s" % (pid, gm))
            gm = "vdfb%d" % pid
        bs = ["vgb%d_%d" % (pid, c) for c in range(k)]
        v.lines.append("let %s = %s(%s)" % (
            bs[0] if k == 1 else "(%s)" % ", ".join(bs), gm, call))
        for c in range(k):
            for i in range(B):
                v.labels.append("vmap(grad(f), %d, %s) d/d%s[%d]" % (B, names, gvars[c], i))
                got.append("%s[%d]" % (bs[c], i))
                exp.append("vg%d_%d_%d" % (pid, i, c))
    if want_sum:
        red = rng.choice(["sum", "mean"])
        wrt = args[rng.choice(bat)][0]
        ps = ", ".join("%s: %s" % (a[0], _batched_type(a[2], B) if j in bat else a[1])
                       for j, a in enumerate(args))
        inner = "fv%d" % pid if ("fn fv%d = " % pid) in "".join(v.top) else \
            "vmap(%s, %d, %s)" % (fname, B, names)
        v.top.append("fn vs%d(%s) -> f64 { return %s(%s(%s)) }" % (
            pid, ps, red, inner, ", ".join(a[0] for a in args)))
        v.top.append("fn dvs%d = grad(vs%d, %s)" % (pid, pid, wrt))
        v.lines.append("let vd%d = dvs%d(%s)" % (pid, pid, call))
        c = gvars.index(wrt)
        for i in range(B):
            v.labels.append("grad(%s(vmap(f, %d, %s)), %s)[%d]" % (red, B, names, wrt, i))
            got.append("vd%d[%d]" % (pid, i))
            e = "vg%d_%d_%d" % (pid, i, c)
            exp.append(e if red == "sum" else "%s / %d.0" % (e, B))
    v.lines.append("print(%d, %s)" % (VMAP_ID + pid, ", ".join(got + exp)))
    v.B, v.nbatched, v.grad, v.sum = B, len(bat), want_grad, want_sum
    return v


def program_file(progs, main_lines):
    top, body = [], []
    for p in progs:
        body += main_lines(p, top)
        v = getattr(p, "vmap", None)
        if v is not None:
            top += v.top
            body += v.lines
    src = "".join(p.bp + "\n" for p in progs)
    src += "\n".join(top) + "\n\nfn main() {\n"
    src += "".join("  %s\n" % l for l in body) + "}\n"
    return src


def run_bpc(bpc, path, flags=(), timeout=300):
    """(returncode or "timeout", stdout, stderr) of `bpc run path`."""
    err = None
    for attempt in range(10):
        try:
            r = subprocess.run([bpc, "run"] + list(flags) + [path],
                               capture_output=True, text=True, timeout=timeout)
            return r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            if isinstance(out, bytes):
                out = out.decode(errors="replace")
            return "timeout", out, "timed out after %d s" % timeout
        except OSError as e:
            # bpc being relinked right now (text file busy, permission
            # denied while it is written): wait and retry.
            err = e
            time.sleep(2)
    return "exec-error", "", "cannot run %s: %s" % (bpc, err)


def parse_output(out, parse_values):
    """{program id: values} from the lines `id value ...` of bpc's output
    (a vmap line, id VMAP_ID + pid, is parsed by parse_nested)."""
    res = {}
    for line in out.splitlines():
        toks = line.split(None, 1)
        if not toks:
            continue
        try:
            pid = int(toks[0])
            parse = parse_nested if pid >= VMAP_ID else parse_values
            res[pid] = parse(toks[1] if len(toks) > 1 else "")
        except (ValueError, IndexError):
            continue
    return res


def parse_args(argv, doc, constructs, count, batch, flag_help):
    """The common command line; adds args.allowed (constructs not excluded)
    and args.ids (program ids to run)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=count)
    ap.add_argument("--count-scale", type=float, default=1.0,
                    help="run round(COUNT * SCALE) programs (at least 1): the "
                    "sanitizer pass of the suite runs half, lit's %%fuzz_scale")
    ap.add_argument("--bpc", required=True)
    ap.add_argument("--keep", help="directory for generated programs and failures")
    ap.add_argument("--batch", type=int, default=batch, help="programs per bpc run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--exclude", default="",
                    help="comma-separated constructs to leave out (%s)" % ",".join(constructs))
    ap.add_argument("--only", type=int, nargs="*", help="only these program ids")
    ap.add_argument("--max-report", type=int, default=10)
    ap.add_argument("--bpc-flag", action="append", default=[], help=flag_help)
    ap.add_argument("--vmap", type=float, default=1.0,
                    help="fraction of the programs that also get vmapped forms "
                    "(vmap of f, of grad(f), grad of sum/mean of a vmap), "
                    "checked against per-example calls; 0 switches them off")
    ap.add_argument("--no-vmap-grad-sum", dest="vmap_grad_sum",
                    action="store_false",
                    help="no grad of a sum/mean of a vmap among the forms")
    args = ap.parse_args(argv)
    excl = set(x for x in args.exclude.split(",") if x)
    unknown = excl - set(constructs)
    if unknown:
        ap.error("unknown construct(s): %s" % ", ".join(sorted(unknown)))
    args.allowed = set(constructs) - excl
    if args.count_scale <= 0:
        ap.error("--count-scale must be > 0")
    args.count = max(1, round(args.count * args.count_scale))
    args.ids = args.only if args.only else list(range(args.count))
    return args


def out_dir(args, tool):
    outdir = args.keep or tempfile.mkdtemp(prefix=tool + ".")
    os.makedirs(outdir, exist_ok=True)
    return outdir


def _failure_kind(rc):
    if rc == "timeout":
        return "timeout"
    if isinstance(rc, int) and rc < 0:
        return "crash (signal %d)" % -rc
    return "exit status %s" % rc


def run_and_check(args, outdir, make_program, main_lines, parse_values,
                  check_results, point_text):
    """Generate the programs batch by batch and start bpc on each batch while
    the next one is generated (for the tensor programs the mirror's finite
    differences are the expensive part); re-run a batch that failed program
    by program; check every result.
    Returns (programs, failures, bpc runs, generation seconds), failures as
    (program, kind, details): details are check_results' list for kind
    "wrong result", else bpc's stderr."""
    def run_batch(bi, batch):
        path = os.path.join(outdir, "batch%03d.bp" % bi)
        with open(path, "w") as fh:
            fh.write(program_file(batch, main_lines))
        return run_bpc(args.bpc, path, args.bpc_flag)

    def run_single(p):
        path = os.path.join(outdir, "prog%04d.bp" % p.pid)
        with open(path, "w") as fh:
            fh.write(program_file([p], main_lines))
        with open(os.path.join(outdir, "prog%04d.py" % p.pid), "w") as fh:
            fh.write("# Python mirror of prog%04d.bp, point: %s\n" % (p.pid, point_text(p)))
            fh.write(p.py)
        return run_bpc(args.bpc, path, args.bpc_flag)

    progs, batches, futs = [], [], []
    tgen = 0.0
    ids = args.ids
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for i in range(0, len(ids), args.batch):
            tg = time.time()
            batch = [make_program(pid) for pid in ids[i:i + args.batch]]
            tgen += time.time() - tg
            progs += batch
            futs.append(ex.submit(run_batch, len(batches), batch))
            batches.append(batch)
        results = {}
        rerun = []
        for b, fu in zip(batches, futs):
            rc, out, err = fu.result()
            got = parse_output(out, parse_values)
            results.update(got)
            if not (rc == 0 and all(_has_lines(p, got) for p in b)):
                rerun += [p for p in b if not _has_lines(p, got) or rc != 0]
        singles = list(ex.map(run_single, rerun))

    failures = []
    for p, (rc, out, err) in zip(rerun, singles):
        got = parse_output(out, parse_values)
        if rc != 0 or not _has_lines(p, got):
            failures.append((p, "bpc failed: " + _failure_kind(rc), err.strip()))
            results.pop(p.pid, None)
        else:
            results.update(got)
    for p in progs:
        if p.pid in results:
            bad = check_results(p, results[p.pid])
            if getattr(p, "vmap", None) is not None:
                bad = bad + p.vmap.check(results.get(VMAP_ID + p.pid))
            if bad:
                failures.append((p, "wrong result", bad))
    failures.sort(key=lambda f: f[0].pid)
    return progs, failures, len(batches) + len(rerun), tgen


def _category(kind, det):
    """Summary keys of one failure: the checks that failed, or bpc's first
    error line with names and line numbers blanked."""
    if kind == "wrong result":
        return set("wrong " + re.sub(r"\[.*", "", w[0].split(" (")[0].split(" d/d")[0])
                   for w in det)
    first = (det.splitlines() or [""])[0]
    first = first.split(": error: ")[-1]
    first = re.sub(r"@[A-Za-z_0-9.]+", "@F", first)
    first = re.sub(r"'[^']*'", "'_'", first)
    first = re.sub(r"\(line \d+\)", "(line _)", first)
    return {kind + ": " + first[:110]}


def report(args, tool, outdir, failures, main_lines, point_text, title,
           max_details=None):
    """Save every failing program (fail<id>.bp, .py, .err) and print the
    first --max-report of them and a summary by category; `title(p)` names
    a program in the FAIL line.  Returns the number of failing programs."""
    for idx, (p, kind, det) in enumerate(failures):
        path = os.path.join(outdir, "fail%04d.bp" % p.pid)
        with open(path, "w") as fh:
            fh.write("# %s --seed %d program %d: %s\n# point: %s\n" % (
                tool, args.seed, p.pid, kind, point_text(p)))
            fh.write(program_file([p], main_lines))
        with open(os.path.join(outdir, "fail%04d.py" % p.pid), "w") as fh:
            fh.write(p.py)
        if kind != "wrong result":
            with open(os.path.join(outdir, "fail%04d.err" % p.pid), "w") as fh:
                fh.write(det + "\n")
        if idx >= args.max_report:
            continue
        print("=" * 72)
        print("FAIL %s: %s" % (title(p), kind))
        print("point: %s" % point_text(p))
        if kind == "wrong result":
            shown = det if max_details is None else det[:max_details]
            for what, got, exp, how in shown:
                print("  %-34s bpc %-24r expected %-24r (%s)" % (what, got, exp, how))
            if len(det) > len(shown):
                print("  ... %d more" % (len(det) - len(shown)))
        else:
            lines = det.splitlines()
            print("  " + "\n  ".join(lines[:12]))
        print("program (saved as %s, mirror %s):" % (path, path[:-3] + ".py"))
        print(p.bp.rstrip())
    if len(failures) > args.max_report:
        print("... %d more failures, all saved in %s" % (
            len(failures) - args.max_report, outdir))
    if failures:
        cats = {}
        for p, kind, det in failures:
            for key in _category(kind, det):
                cats.setdefault(key, []).append(p.pid)
        print("failure summary:")
        for key, pids in sorted(cats.items(), key=lambda kv: -len(kv[1])):
            print("  %4d  %s  (e.g. %s)" % (len(pids), key,
                                           ", ".join(map(str, pids[:5]))))
    return len(set(f[0].pid for f in failures))


def files_note(args, outdir, failures):
    """The end of the summary line: where the files are, when kept."""
    return (", files in %s" % outdir) if (args.keep or failures) else ""


def clean_up(args, outdir, failures):
    """Remove the temporary directory when nothing is to be kept; the exit
    status."""
    if not args.keep and not failures:
        for f in os.listdir(outdir):
            os.unlink(os.path.join(outdir, f))
        os.rmdir(outdir)
    return 1 if failures else 0


def checkpointed_callee(ckpt, name):
    """How BP names helper `name` at a call when `ckpt` (helper -> how BP
    calls it checkpointed) says so: `checkpoint(h)` inline, `ch` bound by
    `fn ch = checkpoint(h)`, else `h`. The Python mirror always calls `h`."""
    how = ckpt.get(name)
    if how == "inline":
        return "checkpoint(%s)" % name
    return "c" + name if how == "bound" else name
