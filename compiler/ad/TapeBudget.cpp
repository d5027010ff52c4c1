//===- TapeBudget.cpp - --tape-budget: nested checkpointing of long loops -===//
//
// A `for` of n iterations (constant bounds) whose body may tape b bytes per
// iteration and carries c bytes tapes up to n * b. Split into L levels of
// chunks of m = ceil(n^(1/L)) iterations, each level's body outlined (as
// checkpoint(f) does, ad/Checkpoint.cpp), a gradient tapes at most m
// carried values per level and the m iterations of one innermost chunk:
// (L - 1) * m * c + m * b bytes at once, for L - 1 more forward runs of
// each iteration. The smallest L (2..8) within the function's share of the
// budget is used. b is an upper bound: every value the body defines (inner
// loops times their trip counts), which the reverse sweep may tape.
//
//===----------------------------------------------------------------------===//
#include "ad/Derived.h"

#include "ad/TapeSize.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace bp::ad {
namespace {

using ir::OpKind;

int64_t bytesOf(const Type *t) {
  return t->kind == TypeKind::Tape ? 0 : slotBytes(t);
}

/// Bytes the values `blk` defines can take per run of it (an upper bound on
/// what a reverse sweep tapes); none if an inner loop's trip count is not
/// constant.
std::optional<int64_t> definedBytes(const ir::Block &blk) {
  int64_t total = 0;
  for (auto &a : blk.args)
    total += bytesOf(a->type);
  for (auto &op : blk.ops) {
    for (auto &r : op->results)
      total += bytesOf(r->type);
    for (auto &r : op->regions) {
      std::optional<int64_t> inner = definedBytes(*r);
      if (!inner)
        return std::nullopt;
      int64_t times = 1;
      if (op->kind == OpKind::For) {
        std::optional<int64_t> t = constTrips(*op);
        if (!t)
          return std::nullopt;
        times = *t;
      } else if (op->kind == OpKind::While) {
        return std::nullopt;
      }
      total += *inner * times;
    }
  }
  return total;
}

int64_t ipow(int64_t m, int e) {
  int64_t r = 1;
  for (int k = 0; k < e; ++k)
    r *= m;
  return r;
}

/// Nested chunk loops replacing one `for` (see the file comment).
class Splitter {
public:
  Splitter(ir::Module &m, ir::Op &loop, int levels, int64_t m_)
      : m(m), loop(loop), levels(levels), width(m_), b(*m.types) {}

  /// Builds level 1 into `tmp`; returns the values replacing the loop's.
  std::vector<ir::Value *> build(ir::Block &tmp) {
    b.setInsertionPointToEnd(&tmp);
    b.loc = loop.loc;
    std::vector<ir::Value *> inits;
    for (size_t i = 0; i < loop.numCarried(); ++i)
      inits.push_back(loop.init(i));
    return level(1, loop.lower(), loop.upper(), inits, &tmp);
  }

private:
  ir::Module &m;
  ir::Op &loop;
  int levels;
  int64_t width;
  ir::Builder b;

  /// Iterations [lo, hi) at `lvl`: chunks of width^(levels - lvl).
  std::vector<ir::Value *> level(int lvl, ir::Value *lo, ir::Value *hi,
                                 std::vector<ir::Value *> carried,
                                 ir::Block *into) {
    b.setInsertionPointToEnd(into);
    if (lvl == levels) { // the original loop over [lo, hi)
      std::map<const ir::Value *, ir::Value *> map;
      auto copy = ir::cloneOp(loop, map);
      copy->operands[0] = lo;
      copy->operands[1] = hi;
      for (size_t i = 0; i < carried.size(); ++i)
        copy->operands[copy->firstInit() + i] = carried[i];
      copy->parent = into;
      ir::Op *op = copy.get();
      into->ops.push_back(std::move(copy));
      std::vector<ir::Value *> out;
      for (auto &r : op->results)
        out.push_back(r.get());
      return out;
    }
    int64_t w = ipow(width, levels - lvl);
    // Level 1's count from the constant trip count; below, at most width
    // chunks, the last ones empty when [lo, hi) is shorter.
    int64_t n = *constTrips(loop);
    int64_t count = lvl == 1 ? (n + w - 1) / w : width;
    std::vector<ir::Value *> ops = {b.constI(0), b.constI(count)};
    std::vector<const Type *> types;
    for (ir::Value *v : carried) {
      ops.push_back(v);
      types.push_back(v->type);
    }
    ir::Value *wv = b.constI(w);
    ir::Op *chunk = b.create(OpKind::For, ops, types);
    ir::Block *body = chunk->addRegion();
    ir::Value *s = body->addArg(m.types->i64(), "chunk");
    std::vector<ir::Value *> args;
    for (size_t i = 0; i < carried.size(); ++i)
      args.push_back(body->addArg(carried[i]->type, loop.carriedArg(i)->name));
    b.setInsertionPointToEnd(body);
    auto minI = [&](ir::Value *x, ir::Value *y) {
      return b.select(b.cmp(OpKind::ICmp, ir::CmpPred::Lt, x, y), x, y);
    };
    ir::Value *a =
        minI(b.binary(OpKind::IAdd, lo, b.binary(OpKind::IMul, s, wv)), hi);
    ir::Value *e = minI(b.binary(OpKind::IAdd, a, wv), hi);
    std::vector<ir::Value *> next = level(lvl + 1, a, e, args, body);
    b.setInsertionPointToEnd(body);
    b.yield(next);
    b.setInsertionPointToEnd(into);
    std::vector<ir::Value *> out;
    for (auto &r : chunk->results)
      out.push_back(r.get());
    return out;
  }
};

void replaceUses(ir::Block &blk, const std::map<ir::Value *, ir::Value *> &to) {
  for (auto &op : blk.ops) {
    for (ir::Value *&v : op->operands)
      if (auto it = to.find(v); it != to.end())
        v = it->second;
    for (auto &r : op->regions)
      replaceUses(*r, to);
  }
}

/// Splits `blk`'s loop at `index` into `levels` levels; outlines each
/// chunk level's body.
void split(ir::Module &m, ir::Function &f, ir::Block &blk, size_t index,
           int levels, int64_t width, int &count) {
  ir::Op &loop = *blk.ops[index];
  ir::Block tmp;
  std::vector<ir::Value *> out = Splitter(m, loop, levels, width).build(tmp);
  std::map<ir::Value *, ir::Value *> to;
  for (size_t i = 0; i < loop.results.size(); ++i)
    to[loop.result(i)] = out[i];
  ir::Op *top = nullptr;
  for (auto &op : tmp.ops) {
    op->parent = &blk;
    if (op->kind == OpKind::For)
      top = op.get();
  }
  std::unique_ptr<ir::Op> old = std::move(blk.ops[index]); // freed last
  blk.ops.erase(blk.ops.begin() + index);
  blk.ops.insert(blk.ops.begin() + index,
                 std::make_move_iterator(tmp.ops.begin()),
                 std::make_move_iterator(tmp.ops.end()));
  replaceUses(*f.body, to);
  // Outline the bodies of levels 1 .. levels - 1: level k's body holds
  // level k + 1's loop.
  ir::Op *cur = top;
  for (int lvl = 1; lvl < levels && cur; ++lvl) {
    ir::Function *g = outlineLoopBody(
        m, *cur, f.name + ".chunk." + std::to_string(count++), f.name);
    cur = nullptr;
    if (g)
      for (auto &op : g->body->ops)
        if (op->kind == OpKind::For)
          cur = op.get();
  }
}

} // namespace

void applyTapeBudget(ir::Module &m, int64_t budget) {
  size_t nFunctions = m.functions.size();
  for (size_t k = 0; k < nFunctions; ++k) {
    ir::Function &f = *m.functions[k];
    if (!f.derivedFrom.empty())
      continue;
    std::vector<size_t> loops;
    for (size_t i = 0; i < f.body->ops.size(); ++i)
      if (f.body->ops[i]->kind == OpKind::For && constTrips(*f.body->ops[i]))
        loops.push_back(i);
    if (loops.empty())
      continue;
    int64_t share = budget / (int64_t)loops.size();
    int count = 0;
    // Last first: splitting a loop inserts ops before the later indices.
    for (auto it = loops.rbegin(); it != loops.rend(); ++it) {
      ir::Op &loop = *f.body->ops[*it];
      int64_t n = *constTrips(loop);
      std::optional<int64_t> body = definedBytes(*loop.body());
      if (!body || n < 4 || n * *body <= share)
        continue;
      int64_t carried = 0;
      for (size_t i = 0; i < loop.numCarried(); ++i)
        carried += bytesOf(loop.init(i)->type);
      int levels = 2;
      int64_t width = 2;
      for (; levels <= 8; ++levels) {
        width = (int64_t)std::ceil(std::pow((double)n, 1.0 / levels));
        while (ipow(width, levels) < n)
          ++width;
        if ((levels - 1) * width * carried + width * *body <= share)
          break;
      }
      levels = std::min(levels, 8);
      split(m, f, *f.body, *it, levels, std::max<int64_t>(width, 2), count);
    }
  }
}

} // namespace bp::ad
