//===- TensorEval.cpp - the semantics of ops on dense values --------------===//
#include "ir/TensorEval.h"

#include "ir/Eval.h"

#include <cmath>
#include <functional>

namespace bp::ir {

namespace {

using Shape = std::vector<int64_t>;

int64_t count(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

Shape stridesOf(const Shape &s) {
  Shape st(s.size(), 1);
  for (size_t j = s.size(); j-- > 1;)
    st[j - 1] = st[j] * s[j];
  return st;
}

Shape shapeOf(const Type *t) { return t->isTensor() ? t->shape : Shape{}; }

/// Calls `f(index)` for every multi-index of `s`, row-major.
void forEach(const Shape &s, const std::function<void(const Shape &)> &f) {
  if (count(s) == 0)
    return;
  Shape i(s.size(), 0);
  for (;;) {
    f(i);
    size_t j = s.size();
    while (j > 0 && ++i[j - 1] == s[j - 1])
      i[--j] = 0;
    if (j == 0)
      return;
  }
}

/// One element of an elementwise op (or a constant): ir/Eval.h for the
/// MATH ops and comparisons.
bool scalarOp(const Op &op, const double *a, double &r, std::string &err) {
  auto i = [&](int k) { return (int64_t)a[k]; };
  switch (op.kind) {
  case OpKind::ConstF:
    r = op.fval;
    return true;
  case OpKind::ConstI:
  case OpKind::ConstB:
    r = (double)op.ival;
    return true;
  case OpKind::IAdd:
    r = (double)(i(0) + i(1));
    return true;
  case OpKind::ISub:
    r = (double)(i(0) - i(1));
    return true;
  case OpKind::IMul:
    r = (double)(i(0) * i(1));
    return true;
  case OpKind::IDiv:
  case OpKind::IRem:
    if (i(1) == 0) {
      err = "division by zero";
      return false;
    }
    r = (double)(op.kind == OpKind::IDiv ? i(0) / i(1) : i(0) % i(1));
    return true;
  case OpKind::INeg:
    r = (double)-i(0);
    return true;
  case OpKind::FCmp:
    r = compare(op.pred(), a[0], a[1]);
    return true;
  case OpKind::ICmp:
    r = compare(op.pred(), i(0), i(1));
    return true;
  case OpKind::Not:
    r = a[0] == 0;
    return true;
  case OpKind::BEq:
    r = (a[0] != 0) == (a[1] != 0);
    return true;
  case OpKind::Select:
    r = a[0] != 0 ? a[1] : a[2];
    return true;
  case OpKind::IToF:
    r = a[0];
    return true;
  case OpKind::FToI:
    r = std::trunc(a[0]);
    return true;
  default:
    if (evalMath(op.kind, a, r))
      return true;
    err = std::string("cannot evaluate '") + mnemonic(op.kind) + "'";
    return false;
  }
}

bool elementwise(const Op &op, const std::vector<const TensorValue *> &in,
                 TensorValue &out, std::string &err) {
  out.shape = shapeOf(op.result()->type);
  int64_t n = count(out.shape);
  out.data.assign(n, 0.0);
  std::vector<double> a(std::max<size_t>(in.size(), 3), 0.0);
  for (int64_t e = 0; e < n; ++e) {
    for (size_t k = 0; k < in.size(); ++k)
      a[k] = in[k]->isScalar() ? in[k]->data[0] : in[k]->data[e];
    if (!scalarOp(op, a.data(), out.data[e], err))
      return false;
  }
  return true;
}

/// For each axis of `big`, the stride of `small` along it (0 where it is
/// broadcast): axis >= 0 is the axis `small` lacks, -1 NumPy's rules.
Shape broadcastMap(const Shape &big, const Shape &small, int64_t axis) {
  Shape map(big.size(), 0), ss = stridesOf(small);
  if (axis >= 0) {
    for (size_t j = 0, s = 0; j < big.size(); ++j)
      if ((int64_t)j != axis)
        map[j] = ss[s++];
    return map;
  }
  size_t lead = big.size() - small.size();
  for (size_t j = lead; j < big.size(); ++j)
    map[j] = small[j - lead] == 1 ? 0 : ss[j - lead];
  return map;
}

/// broadcast (sumTo false) or sum_to: `big` the larger shape.
void broadcast(const Op &op, const TensorValue &x, TensorValue &out,
               bool sumTo) {
  out.shape = shapeOf(op.result()->type);
  const Shape &big = sumTo ? x.shape : out.shape;
  const Shape &small = sumTo ? out.shape : x.shape;
  out.data.assign(count(out.shape), 0.0);
  Shape map = broadcastMap(big, small, op.axis());
  int64_t b = 0;
  forEach(big, [&](const Shape &i) {
    int64_t s = 0;
    for (size_t j = 0; j < i.size(); ++j)
      s += i[j] * map[j];
    if (sumTo)
      out.data[s] += x.data[b];
    else
      out.data[b] = x.data[s];
    ++b;
  });
}

/// reduce_sum, reduce_max, max_mask: over all elements (axis -1) or each
/// line along `axis`.
void reduce(const Op &op, const TensorValue &x, TensorValue &out) {
  out.shape = shapeOf(op.result()->type);
  int64_t axis = op.axis();
  int64_t outer = 1, n = (int64_t)x.data.size(), inner = 1;
  if (axis >= 0) {
    n = x.shape[axis];
    for (int64_t j = 0; j < axis; ++j)
      outer *= x.shape[j];
    for (size_t j = axis + 1; j < x.shape.size(); ++j)
      inner *= x.shape[j];
  }
  out.data.assign(count(out.shape), 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t i) { return (o * n + i) * inner + j; };
      double sum = 0, best = -INFINITY;
      int64_t first = 0;
      for (int64_t i = 0; i < n; ++i) {
        double v = x.data[at(i)];
        sum += v;
        if (std::isnan(best))
          continue;
        if (std::isnan(v) || v > best) {
          best = v;
          first = i;
        }
      }
      if (op.kind == OpKind::MaxMask)
        out.data[at(first)] = n > 0 ? 1.0 : 0.0;
      else
        out.data[o * inner + j] = op.kind == OpKind::ReduceSum ? sum : best;
    }
}

void matmul(const TensorValue &a, const TensorValue &b, TensorValue &out,
            const Type *rt) {
  out.shape = shapeOf(rt);
  out.data.assign(count(out.shape), 0.0);
  bool av = a.shape.size() == 1, bv = b.shape.size() == 1;
  int64_t M = av ? 1 : a.shape[0], K = a.shape.back();
  int64_t N = bv ? 1 : b.shape[1];
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j)
        out.data[i * N + j] += a.data[i * K + k] * b.data[k * N + j];
}

void transpose(const TensorValue &x, TensorValue &out) {
  out.shape = x.shape;
  size_t r = x.shape.size();
  std::swap(out.shape[r - 2], out.shape[r - 1]);
  int64_t R = x.shape[r - 2], C = x.shape[r - 1],
          mats = count(x.shape) / (R * C);
  out.data.assign(x.data.size(), 0.0);
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < C; ++j)
        out.data[m * R * C + j * R + i] = x.data[m * R * C + i * C + j];
}

/// The offset and element count of `x[idx...]` (leading axes indexed);
/// false with `err` for an index out of range.
bool subTensor(const Shape &s, const std::vector<const TensorValue *> &in,
               size_t first, int64_t &offset, int64_t &n, std::string &err) {
  Shape st = stridesOf(s);
  offset = 0;
  size_t k = 0;
  for (size_t o = first; o < in.size(); ++o, ++k) {
    int64_t i = (int64_t)in[o]->data[0];
    if (i < 0 || i >= s[k]) {
      err = "index " + std::to_string(i) + " out of range for axis " +
            std::to_string(k) + " of length " + std::to_string(s[k]);
      return false;
    }
    offset += i * st[k];
  }
  n = 1;
  for (size_t j = k; j < s.size(); ++j)
    n *= s[j];
  return true;
}

bool indexing(const Op &op, const std::vector<const TensorValue *> &in,
              TensorValue &out, std::string &err) {
  const TensorValue &x = *in[0];
  bool isExtract = op.kind == OpKind::Extract;
  int64_t offset, n;
  if (!subTensor(x.shape, in, isExtract ? 1 : 2, offset, n, err))
    return false;
  out.shape = shapeOf(op.result()->type);
  if (isExtract) {
    out.data.assign(x.data.begin() + offset, x.data.begin() + offset + n);
    return true;
  }
  out.data = x.data;
  const TensorValue &e = *in[1];
  for (int64_t j = 0; j < n; ++j)
    out.data[offset + j] = e.isScalar() ? e.data[0] : e.data[j];
  return true;
}

/// slice, unslice, splice: calls `f(full offset, part offset)` for every
/// element of the region. `full` is the whole tensor's shape, `part` the
/// region's (without indexed axes).
bool forRegion(const Op &op, const std::vector<const TensorValue *> &in,
               const Shape &full, const Shape &part, std::string &err,
               const std::function<void(int64_t, int64_t)> &f) {
  const auto &axes = op.sliceAxes();
  Shape start(full.size()), len(full.size());
  size_t idx = op.firstSliceIndex(), p = 0;
  for (size_t j = 0; j < axes.size(); ++j) {
    if (axes[j].kind == SliceAxis::Offset) {
      start[j] = axes[j].offset;
      len[j] = part[p++];
      continue;
    }
    start[j] = (int64_t)in[idx++]->data[0];
    len[j] = axes[j].kind == SliceAxis::Index ? 1 : part[p++];
    if (start[j] < 0 || start[j] + len[j] > full[j]) {
      err = "index " + std::to_string(start[j]) + " out of range for axis " +
            std::to_string(j) + " of length " + std::to_string(full[j]);
      return false;
    }
  }
  Shape st = stridesOf(full);
  int64_t q = 0;
  forEach(len, [&](const Shape &i) {
    int64_t o = 0;
    for (size_t j = 0; j < i.size(); ++j)
      o += (start[j] + i[j]) * st[j];
    f(o, q++);
  });
  return true;
}

bool region(const Op &op, const std::vector<const TensorValue *> &in,
            TensorValue &out, std::string &err) {
  out.shape = shapeOf(op.result()->type);
  const TensorValue &x = *in[0];
  switch (op.kind) {
  case OpKind::Slice:
    out.data.assign(count(out.shape), 0.0);
    return forRegion(op, in, x.shape, out.shape, err,
                     [&](int64_t o, int64_t q) { out.data[q] = x.data[o]; });
  case OpKind::Unslice:
    out.data.assign(count(out.shape), 0.0);
    return forRegion(op, in, out.shape, x.shape, err,
                     [&](int64_t o, int64_t q) { out.data[o] = x.data[q]; });
  default: { // splice
    out.data = x.data;
    const TensorValue &e = *in[1];
    return forRegion(op, in, x.shape, e.shape, err, [&](int64_t o, int64_t q) {
      out.data[o] = e.isScalar() ? e.data[0] : e.data[q];
    });
  }
  }
}

/// im2col / col2im (ir/Ops.def): r[n, c, kh, kw, oh, ow] = x[n, c,
/// oh s + kh - p, ow s + kw - p], zero outside x; col2im adds back.
void convPatches(const Op &op, const TensorValue &src, TensorValue &out) {
  bool fwd = op.kind == OpKind::Im2Col;
  out.shape = shapeOf(op.result()->type);
  out.data.assign(count(out.shape), 0.0);
  const Shape &xs = fwd ? src.shape : out.shape;
  const Shape &cs = fwd ? out.shape : src.shape;
  size_t lead = xs.size() - 3;
  int64_t N = 1;
  for (size_t i = 0; i < lead; ++i)
    N *= xs[i];
  int64_t C = xs[lead], H = xs[lead + 1], W = xs[lead + 2];
  int64_t KH = cs[lead + 1], KW = cs[lead + 2], OH = cs[lead + 3],
          OW = cs[lead + 4];
  int64_t s = op.convStride(), p = op.convPad();
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t kh = 0; kh < KH; ++kh)
      for (int64_t kw = 0; kw < KW; ++kw)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            int64_t ih = oh * s + kh - p, iw = ow * s + kw - p;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
              continue;
            int64_t xi = (nc * H + ih) * W + iw;
            int64_t ci = (((nc * KH + kh) * KW + kw) * OH + oh) * OW + ow;
            if (fwd)
              out.data[ci] = src.data[xi];
            else
              out.data[xi] += src.data[ci];
          }
}

} // namespace

TensorValue TensorValue::zeros(const Type *t) {
  TensorValue v;
  v.shape = shapeOf(t);
  v.data.assign(count(v.shape), 0.0);
  return v;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool evalTensorOp(const Op &op, const std::vector<const TensorValue *> &in,
                  TensorValue &out, std::string &err) {
  switch (op.kind) {
  case OpKind::Broadcast:
  case OpKind::SumTo:
    broadcast(op, *in[0], out, op.kind == OpKind::SumTo);
    return true;
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
  case OpKind::MaxMask:
    reduce(op, *in[0], out);
    return true;
  case OpKind::MatMul:
    matmul(*in[0], *in[1], out, op.result()->type);
    return true;
  case OpKind::Transpose:
    transpose(*in[0], out);
    return true;
  case OpKind::Extract:
  case OpKind::Insert:
    return indexing(op, in, out, err);
  case OpKind::Slice:
  case OpKind::Unslice:
  case OpKind::Splice:
    return region(op, in, out, err);
  case OpKind::Pack:
    out.shape = shapeOf(op.result()->type);
    out.data.clear();
    for (const TensorValue *e : in)
      out.data.insert(out.data.end(), e->data.begin(), e->data.end());
    return true;
  case OpKind::Reshape:
    out.shape = shapeOf(op.result()->type);
    out.data = in[0]->data;
    return true;
  case OpKind::Im2Col:
  case OpKind::Col2Im:
    convPatches(op, *in[0], out);
    return true;
  case OpKind::ArgMax: {
    double best = -INFINITY;
    int64_t at = 0;
    for (size_t i = 0; i < in[0]->data.size(); ++i)
      if (in[0]->data[i] > best) {
        best = in[0]->data[i];
        at = (int64_t)i;
      }
    out = TensorValue::scalar((double)at);
    return true;
  }
  default:
    if (ruleKind(op.kind) == RuleKind::Pass || op.kind == OpKind::Print ||
        op.kind == OpKind::Assert || op.kind == OpKind::ReadCsv) {
      err = std::string("cannot evaluate '") + mnemonic(op.kind) + "'";
      return false;
    }
    return elementwise(op, in, out, err);
  }
}

} // namespace bp::ir
