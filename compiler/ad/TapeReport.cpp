//===- TapeReport.cpp - bytes taped by a derived function -----------------===//
//
// Reads the generated IR, so the numbers are those of the code that runs:
// a `tape.push` of an f64, int or bool is one 8-byte slot, of a tensor one
// slot per element (runtime/bp_runtime.h). Each push is counted in its
// scope: the function body (once per call) or the innermost loop around it
// (once per iteration); under an `if` the larger branch counts (an upper
// bound). A loop with constant bounds multiplies its body's bytes by its
// trip count. Every reverse function owns its tape, freed before it
// returns, so the most tape held at once is a function's own bytes plus
// the largest of its callees' (unknown on a call-graph cycle, where it
// depends on the recursion depth).
//
//===----------------------------------------------------------------------===//
#include "ad/TapeReport.h"

#include "ad/TapeSize.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

namespace bp::ad {
namespace {

using ir::OpKind;

/// One pushed value, per call or per iteration of its scope.
struct Item {
  const ir::Value *value;
  int64_t bytes;
  const ir::Op *branch; // the innermost `if` around the push, or null
};

/// The function body or one loop body.
struct Scope {
  const ir::Op *loop = nullptr; // null: the function body
  std::vector<Item> items;
  int64_t bytes = 0;            // per call / iteration (larger if branch)
  std::optional<int64_t> trips; // a loop with constant bounds
  std::vector<Scope> loops;

  /// Bytes per call or iteration with the nested loops; none when a nested
  /// loop's trip count is not constant.
  std::optional<int64_t> total() const {
    int64_t t = bytes;
    for (const Scope &s : loops) {
      std::optional<int64_t> inner = s.total();
      if (!inner || !s.trips)
        return std::nullopt;
      t += *inner * *s.trips;
    }
    return t;
  }
};

/// Adds the pushes of `blk` to `s`; returns their bytes (an `if` counts its
/// larger branch).
int64_t walk(const ir::Block &blk, Scope &s, const ir::Op *branch = nullptr) {
  int64_t bytes = 0;
  for (auto &op : blk.ops) {
    if (op->kind == OpKind::TapePush) {
      const ir::Value *v = op->operands[1];
      s.items.push_back({v, slotBytes(v->type), branch});
      bytes += s.items.back().bytes;
    } else if (op->kind == OpKind::For || op->kind == OpKind::While) {
      Scope inner;
      inner.loop = op.get();
      inner.trips = constTrips(*op);
      for (auto &r : op->regions)
        inner.bytes += walk(*r, inner);
      s.loops.push_back(std::move(inner));
    } else {
      int64_t most = 0;
      for (auto &r : op->regions)
        most = std::max(most, walk(*r, s, op.get()));
      bytes += most;
    }
  }
  return bytes;
}

/// A reverse function (it may need no tape) or one that has a tape.
bool hasTape(const ir::Function &f) {
  if (f.derivedFrom.rfind("reverse mode", 0) == 0)
    return true;
  for (auto &op : f.body->ops)
    if (op->kind == OpKind::TapeNew)
      return true;
  return false;
}

std::string at(Loc l) {
  return std::to_string(l.line) + ":" + std::to_string(l.col);
}

/// `x at 4:9`, `exp at 5:20`, `x (carried by the loop at 3:3)`.
std::string describe(const ir::Value &v) {
  std::string name = v.name;
  if (v.def) {
    if (name.empty())
      name = ir::mnemonic(v.def->kind) +
             (v.def->kind == OpKind::Call ? " " + v.def->callee() : "");
    return name + " at " + at(v.def->loc);
  }
  const ir::Op *owner = v.owner ? v.owner->parent : nullptr;
  if (name.empty())
    name = "argument " + std::to_string(v.index);
  return owner ? name + " (carried by the " + ir::mnemonic(owner->kind) +
                     " at " + at(owner->loc) + ")"
               : name + " (argument)";
}

/// Whether `s` or a loop in it pushes anything.
bool pushes(const Scope &s) {
  return !s.items.empty() ||
         std::any_of(s.loops.begin(), s.loops.end(), pushes);
}

bool pushesInLoops(const Scope &s) {
  return std::any_of(s.loops.begin(), s.loops.end(), pushes);
}

void printScope(const Scope &s, int depth, std::ostream &os) {
  if (s.loop && !pushes(s))
    return; // e.g. a reverse sweep's loop: it pops
  std::string pad(2 * depth, ' ');
  if (s.loop) {
    os << pad << ir::mnemonic(s.loop->kind) << " at " << at(s.loop->loc) << ": "
       << s.bytes << " B per iteration";
    if (s.trips)
      os << " x " << *s.trips << " iterations";
    if (std::optional<int64_t> t = s.total(); t && pushesInLoops(s))
      os << " (" << *t << " B per iteration with its loops)";
    os << '\n';
  }
  for (const Item &i : s.items)
    os << pad << "  " << i.bytes << " B " << describe(*i.value) << " : "
       << toString(i.value->type)
       << (i.branch ? " (only when the if at " + at(i.branch->loc) +
                          " takes its branch)"
                    : "")
       << '\n';
  for (const Scope &inner : s.loops)
    printScope(inner, depth + 1, os);
}

/// Functions `root` calls, directly, in the order of the calls.
std::vector<const ir::Function *> callees(const ir::Module &m,
                                          const ir::Function &root) {
  std::vector<const ir::Function *> out;
  std::function<void(const ir::Block &)> visit = [&](const ir::Block &b) {
    for (auto &op : b.ops) {
      if (op->kind == OpKind::Call)
        if (const ir::Function *f = m.lookup(op->callee());
            f && std::find(out.begin(), out.end(), f) == out.end())
          out.push_back(f);
      for (auto &r : op->regions)
        visit(*r);
    }
  };
  visit(*root.body);
  return out;
}

class Report {
public:
  explicit Report(const ir::Module &m) : m(m) {}

  /// The most tape `f` and what it calls hold at once; none on a cycle or
  /// where a trip count is not constant.
  std::optional<int64_t> peak(const ir::Function &f) {
    if (auto it = peaks.find(&f); it != peaks.end())
      return it->second;
    if (!visiting.insert(&f).second)
      return std::nullopt; // recursion: depends on the depth
    std::optional<int64_t> own = scope(f).total(), most = 0;
    for (const ir::Function *g : callees(m, f)) {
      std::optional<int64_t> p = peak(*g);
      most = p && most ? std::optional<int64_t>(std::max(*most, *p))
                       : std::nullopt;
    }
    visiting.erase(&f);
    std::optional<int64_t> r =
        own && most ? std::optional<int64_t>(*own + *most) : std::nullopt;
    peaks[&f] = r;
    return r;
  }

  const Scope &scope(const ir::Function &f) {
    auto it = scopes.find(&f);
    if (it == scopes.end()) {
      Scope s;
      s.bytes = walk(*f.body, s);
      it = scopes.emplace(&f, std::move(s)).first;
    }
    return it->second;
  }

private:
  const ir::Module &m;
  std::map<const ir::Function *, Scope> scopes;
  std::map<const ir::Function *, std::optional<int64_t>> peaks;
  std::set<const ir::Function *> visiting;
};

} // namespace

bool printTapeReport(const ir::Module &m, const std::string &fn,
                     std::ostream &os) {
  const ir::Function *root = m.lookup(fn);
  if (!root)
    return false;
  std::vector<const ir::Function *> order = {root};
  for (size_t k = 0; k < order.size(); ++k)
    for (const ir::Function *g : callees(m, *order[k]))
      if (std::find(order.begin(), order.end(), g) == order.end())
        order.push_back(g);
  Report r(m);
  os << "# tape of " << fn;
  if (const ir::DerivedInfo *d = m.lookupDerived(fn); d && d->name == fn)
    os << " (" << ir::spelling(d->kind) << " of " << d->base << ")";
  os << ": 8 B per f64, int or bool, 8 B per tensor element\n";
  std::optional<int64_t> peak = r.peak(*root);
  os << fn << ": ";
  if (peak)
    os << "at most " << *peak << " B of tape at once\n";
  else
    os << "tape at once depends on trip counts or recursion depth\n";
  for (const ir::Function *f : order) {
    if (!hasTape(*f))
      continue;
    const Scope &s = r.scope(*f);
    os << f->name;
    if (!f->derivedFrom.empty())
      os << " (" << f->derivedFrom << ")";
    os << ": " << s.bytes << " B per call outside loops";
    if (std::optional<int64_t> t = s.total(); t && pushesInLoops(s))
      os << ", " << *t << " B per call in all";
    os << '\n';
    printScope(s, 0, os);
  }
  return true;
}

} // namespace bp::ad
