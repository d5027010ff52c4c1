//===- Inline.cpp - inlining calls of non-recursive functions -------------===//
#include "ir/Inline.h"

#include <functional>
#include <set>

namespace bp::ir {
namespace {

/// Whether `name` reaches itself through calls (memoised).
class Recursion {
public:
  explicit Recursion(const Module &m) : m(m) {}
  bool recursive(const std::string &name) {
    auto it = memo.find(name);
    if (it != memo.end())
      return it->second;
    std::set<std::string> seen;
    bool r = reaches(name, name, seen);
    memo[name] = r;
    return r;
  }

private:
  const Module &m;
  std::map<std::string, bool> memo;

  bool reaches(const std::string &from, const std::string &target,
               std::set<std::string> &seen) {
    if (!seen.insert(from).second)
      return false;
    const Function *f = m.lookup(from);
    if (!f)
      return false;
    bool found = false;
    std::function<void(const Block &)> walk = [&](const Block &b) {
      for (auto &op : b.ops) {
        if (op->kind == OpKind::Call &&
            (op->callee() == target || reaches(op->callee(), target, seen)))
          found = true;
        for (auto &r : op->regions)
          walk(*r);
      }
    };
    walk(*f->body);
    return found;
  }
};

/// Replaces every use of a key of `with` by its value, in `b` and its
/// regions.
void replaceUses(Block &b, const std::map<const Value *, Value *> &with) {
  for (auto &op : b.ops) {
    for (Value *&v : op->operands)
      if (auto it = with.find(v); it != with.end())
        v = it->second;
    for (auto &r : op->regions)
      replaceUses(*r, with);
  }
}

/// Inlines the inlinable calls directly in `b` (and, recursively, in its
/// regions); true when one was inlined.
bool inlineIn(Block &b, Function &f, const Module &m, Recursion &rec) {
  bool changed = false;
  for (size_t i = 0; i < b.ops.size(); ++i) {
    Op &op = *b.ops[i];
    for (auto &r : op.regions)
      changed |= inlineIn(*r, f, m, rec);
    if (op.kind != OpKind::Call || op.callee() == f.name ||
        rec.recursive(op.callee()))
      continue;
    const Function *callee = m.lookup(op.callee());
    // A function with a custom derivative rule (section 15) stays a call:
    // AD must see it to use the rule. So does a checkpointed one (section
    // 16): reverse mode recomputes a call's intermediates instead of
    // taping them.
    if (!callee || callee->checkpointed || m.lookup(op.callee() + ".adjoint") ||
        m.lookup(op.callee() + ".tangent"))
      continue;
    std::map<const Value *, Value *> map;
    for (size_t a = 0; a < callee->args().size(); ++a)
      map[callee->args()[a].get()] = op.operands[a];
    Block copy;
    cloneOpsInto(*callee->body, copy, map, /*skipTerminator=*/true);
    std::map<const Value *, Value *> results;
    const Op *ret = callee->body->terminator();
    for (size_t r = 0; r < op.results.size(); ++r) {
      auto it = map.find(ret->operands[r]);
      results[op.result(r)] = it == map.end() ? ret->operands[r] : it->second;
    }
    for (auto &c : copy.ops)
      c->parent = &b;
    size_t n = copy.ops.size();
    std::unique_ptr<Op> call = std::move(b.ops[i]);
    b.ops.erase(b.ops.begin() + i);
    b.ops.insert(b.ops.begin() + i, std::make_move_iterator(copy.ops.begin()),
                 std::make_move_iterator(copy.ops.end()));
    replaceUses(b, results); // the results are visible only in b
    i += n;
    --i; // the loop's ++i moves past the inlined ops
    changed = true;
  }
  return changed;
}

} // namespace

void inlineCalls(Function &f, const Module &m) {
  Recursion rec(m);
  while (inlineIn(*f.body, f, m, rec)) {
  }
}

} // namespace bp::ir
