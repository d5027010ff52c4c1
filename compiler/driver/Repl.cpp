//===- Repl.cpp - `bpc repl`: the interactive JIT session -----------------===//
//
// The session keeps the text of every item (fn, const, param, derived fn,
// train) by name, the values of top-level `let`/`var` bindings, and the
// params' current values. An input is compiled together with all items:
//
//   items input      the items are added (replacing same-named ones) and the
//                    whole session is checked; on an error nothing changes.
//   statements       wrapped in `fn __repl(__in0: T0, ...) -> (...)` whose
//                    arguments restore the bindings and whose results are
//                    the bindings afterwards plus the bare expression's
//                    value. A first pass (parse + sema, with one probe
//                    statement per binding) finds the types; the second
//                    compiles and runs it through its `bp.dyn` wrapper.
//
// Each run's machine code lives under its own ORC ResourceTracker and is
// removed afterwards; params are copied out of the JIT's globals before
// that and back in before the next run. Compiling the whole session each
// time is what makes redefinition exact: a new `f` re-derives `grad(f)`
// and re-specialises every caller (docs/REPL.md has the measurements).
//
// Lines keep the number they had in the session (or in a `:load`ed file):
// the assembled source carries a LineOrigin per line, used by diagnostics
// and by runtime errors.
//
//===----------------------------------------------------------------------===//
#include "driver/Repl.h"

#include "ad/AdjointPrinter.h"
#include "ad/Explain.h"
#include "bp_runtime.h"
#include "codegen/CodeGen.h"
#include "jit/JIT.h"
#include "parse/Parser.h"
#include "pipeline/Compilation.h"
#include "support/Diagnostics.h"
#include "support/FileIO.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace bp {
namespace {

constexpr const char *entryName = "__repl";
constexpr const char *stdinPath = "<stdin>";

const char *const commandNames[] = {":load",    ":type", ":ir",
                                    ":adjoint", ":llvm", ":time",
                                    ":explain", ":help", ":quit"};

const char *helpText =
    R"(Enter items (fn, const, param, fn d = grad(...), train, import "f.bp") and
statements as in a .bp file; a bare expression prints its value and type.
Redefining a name replaces it and everything that uses it. Input continues
over several lines while a bracket is open or a line ends with an operator or
a comma.
  :load FILE       add the items of FILE and its imports (fn main is not run)
  :type EXPR       the type of an expression (or a function's signature)
  :ir NAME         the IR of a function, derived ones included
  :adjoint NAME    a derived function as BP-like adjoint code
  :llvm NAME       the optimised LLVM IR of a function
  :time EXPR       run EXPR repeatedly; median time per run
  :explain CALL    backpropagation step by step, e.g. :explain dneuron(0.5, 0.1, 1.5, 1.0)
  :help            this text
  :quit            end the session (so does end of input)
)";

/// The text of one item and where its lines came from.
struct ItemText {
  std::string name; // "train" for the train block
  std::string text; // whole lines, each ending in '\n'
  std::vector<LineOrigin> origins;
};

/// A top-level `let` or `var` of the session and its value (flattened
/// row-major; ints and bools as doubles, exact below 2^53).
struct Binding {
  std::string name;
  bool isVar = false;
  const Type *type = nullptr;
  std::vector<double> value;
};

/// One compilation: the session's items plus (maybe) an entry function.
struct Unit {
  Compilation c;
  // Views of the compilation's source and artefacts.
  SourceFile &file = c.file;
  DiagEngine *diags = &c.diags;
  std::unique_ptr<ast::Module> &ast = c.ast;
  sema::Program &prog = c.prog;
  std::unique_ptr<ir::Module> &ir = c.ir;
  std::vector<bool> current; // per line: part of the input being run

  Unit(const CompileOptions &o, TypeContext &types) : c(o, &types) {
    file.path = stdinPath;
  }
  uint32_t lines() const { return (uint32_t)file.origins.size(); }
  void append(const std::string &text, const std::vector<LineOrigin> &from,
              bool isCurrent) {
    file.text += text;
    file.origins.insert(file.origins.end(), from.begin(), from.end());
    current.resize(file.origins.size(), isCurrent);
  }
  void synthetic(const std::string &line) {
    append(line + "\n", {LineOrigin{stdinPath, 0}}, false);
  }
};

int64_t sizeOf(const Type *t) { return t->isTensor() ? t->numElements() : 1; }

bool storable(const Type *t) {
  return t && (t->isF64() || t->isInt() || t->isBool() || t->isTensor());
}

/// Splits `text` (whole lines) into per-line origins starting at `line`.
std::vector<LineOrigin> originsOf(const std::string &text,
                                  const std::string &path, uint32_t line) {
  std::vector<LineOrigin> o;
  for (char c : text)
    if (c == '\n')
      o.push_back({path, line++});
  return o;
}

std::string withNewline(std::string s) {
  if (s.empty() || s.back() != '\n')
    s += '\n';
  return s;
}

/// Byte offset of 1-based (line, col) in `text`.
size_t offsetOf(const std::string &text, Loc loc) {
  size_t pos = 0;
  for (uint32_t l = 1; l < loc.line && pos != std::string::npos; ++l) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos)
      ++pos;
  }
  if (pos == std::string::npos)
    return text.size();
  return std::min(text.size(), pos + (loc.col ? loc.col - 1 : 0));
}

/// The first word of `text`, skipping blanks and comments.
std::string firstWord(const std::string &text) {
  size_t i = 0;
  while (i < text.size()) {
    if (isspace((unsigned char)text[i]) || text[i] == ';') {
      ++i;
    } else if (text[i] == '#') {
      while (i < text.size() && text[i] != '\n')
        ++i;
    } else {
      break;
    }
  }
  size_t j = i;
  while (j < text.size() &&
         (isalnum((unsigned char)text[j]) || text[j] == '_' || text[j] == ':'))
    ++j;
  return text.substr(i, j - i);
}

/// Only blanks, `;` and comments.
bool isBlank(const std::string &text) {
  bool comment = false;
  for (char c : text) {
    if (c == '\n')
      comment = false;
    else if (c == '#')
      comment = true;
    else if (!comment && !isspace((unsigned char)c) && c != ';')
      return false;
  }
  return true;
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

/// Brackets of `text` outside strings and comments: the depth at the end,
/// and the first closing bracket with no opening one.
struct BracketScan {
  int depth = 0;
  bool unmatched = false;
  Loc where;
  char ch = 0;
  char last = 0;        // last significant character (outside comments)
  std::string lastWord; // last identifier, when `last` ends one
};

BracketScan scanBrackets(const std::string &text) {
  BracketScan s;
  uint32_t line = 1, col = 0;
  bool inString = false;
  // The word being read; it is lastWord when wordLast (copied once at the
  // end: copying it at every character made a long identifier quadratic).
  std::string word;
  bool wordLast = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    ++col;
    if (c == '\n') {
      ++line;
      col = 0;
      inString = false; // strings end at the line (the lexer reports it)
      continue;
    }
    if (inString) {
      if (c == '\\')
        ++i, ++col;
      else if (c == '"')
        inString = false;
      s.last = '"';
      continue;
    }
    if (c == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n')
        ++i;
      continue;
    }
    if (isspace((unsigned char)c))
      continue;
    if (isalnum((unsigned char)c) || c == '_' || c == '.') {
      if (!(isalnum((unsigned char)s.last) || s.last == '_' || s.last == '.'))
        word.clear();
      word += c;
      s.last = c;
      wordLast = true;
      continue;
    }
    s.last = c;
    wordLast = false;
    if (c == '"')
      inString = true;
    else if (c == '(' || c == '[' || c == '{')
      ++s.depth;
    else if (c == ')' || c == ']' || c == '}') {
      if (--s.depth < 0 && !s.unmatched) {
        s.unmatched = true;
        s.where = {line, col};
        s.ch = c;
      }
    }
  }
  if (wordLast)
    s.lastWord = word;
  return s;
}

/// Drops the functions that `root` cannot reach through calls: an input
/// runs one entry function, and LLVM need not compile the whole session.
void keepReachable(ir::Module &m, const std::string &root) {
  std::set<std::string> reached;
  std::vector<const ir::Function *> work;
  auto reach = [&](const std::string &name) {
    if (reached.insert(name).second)
      if (const ir::Function *f = m.lookup(name))
        work.push_back(f);
  };
  std::function<void(const ir::Block &)> scan = [&](const ir::Block &b) {
    for (const auto &op : b.ops) {
      if (op->kind == ir::OpKind::Call)
        reach(op->str);
      for (const auto &r : op->regions)
        scan(*r);
    }
  };
  reach(root);
  while (!work.empty()) {
    const ir::Function *f = work.back();
    work.pop_back();
    scan(*f->body);
  }
  auto &fs = m.functions;
  fs.erase(std::remove_if(fs.begin(), fs.end(),
                          [&](auto &f) { return !reached.count(f->name); }),
           fs.end());
}

using DynFn = void (*)(const double *, double *);

/// Calls `fn`; false when it stopped with a runtime error (already
/// printed by the runtime). The runtime's guard (runtime/guard.c) returns
/// here from the error: it skips only generated code and the runtime's
/// error path, never a frame of the REPL, and no destructor.
bool guardedCall(DynFn fn, const double *in, double *out) {
  return bp_guarded_call(fn, in, out) == 0;
}

void printValue(const Type *t, const double *v) {
  if (t->isIntTensor()) { // its elements came back as doubles (bp.dyn)
    std::vector<int64_t> shape(t->shape.begin(), t->shape.end());
    std::vector<int64_t> ints(v, v + t->numElements());
    bp_print_tensor_i64(ints.data(), (int64_t)shape.size(), shape.data());
  } else if (t->isTensor()) {
    std::vector<int64_t> shape(t->shape.begin(), t->shape.end());
    bp_print_tensor(v, (int64_t)shape.size(), shape.data());
  } else if (t->isInt()) {
    bp_print_i64((int64_t)*v);
  } else if (t->isBool()) {
    bp_print_bool(*v != 0);
  } else {
    bp_print_f64(*v);
  }
}

std::string formatSeconds(double s) {
  char buf[64];
  if (s < 1e-6)
    snprintf(buf, sizeof buf, "%.1f ns", s * 1e9);
  else if (s < 1e-3)
    snprintf(buf, sizeof buf, "%.2f us", s * 1e6);
  else if (s < 1)
    snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  else
    snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

} // namespace

//===----------------------------------------------------------------------===//
// The session
//===----------------------------------------------------------------------===//

struct ReplSession::Impl {
  ReplOptions opts;
  JIT &jit;
  TypeContext types; // session-long: bindings keep their types
  std::vector<ItemText> items;
  std::vector<Binding> bindings;
  std::map<std::string, std::vector<double>> paramValues;
  bool quit = false;
  bool hadCompileError = false, hadRuntimeError = false;

  Impl(const ReplOptions &o, JIT &j) : opts(o), jit(j) {}

  enum class Mode { Run, Type, Time, Values };

  //===--- compiling ---------------------------------------------------===//

  /// Every unit compiles with the session's options and types, for its JIT.
  CompileOptions compileOptions() const {
    CompileOptions o;
    o.sema = opts.sema;
    o.simplify = opts.simplify;
    o.targetMachine = &jit.targetMachine();
    o.optLevel = opts.optLevel;
    o.checkNumerics = opts.checkNumerics;
    o.interruptible = opts.lineEditing;
    return o;
  }

  /// keepPowers: for :explain, which shows `x ^ 2` as written.
  std::unique_ptr<Unit> itemsUnit(const std::vector<ItemText> &list,
                                  bool keepPowers = false) {
    CompileOptions o = compileOptions();
    o.keepPowers = keepPowers;
    auto u = std::make_unique<Unit>(o, types);
    for (const ItemText &it : list)
      u->append(it.text, it.origins, false);
    return u;
  }

  /// An error at the end of the input (`fn f() {` then end of input), or
  /// on a line the REPL wrote after it (the `}` closing `__repl`), is shown
  /// at the end of the input's last line: such lines have no number the
  /// user could look up. (Warnings there are the REPL's own, not shown.)
  static Diagnostic atInput(const Unit &u, Diagnostic d) {
    uint32_t last = 0;
    for (uint32_t l = 1; l <= u.current.size(); ++l)
      if (u.current[l - 1])
        last = l;
    if (d.severity != Severity::Error || !last || d.loc.line <= last ||
        u.file.origin(d.loc.line).line != 0)
      return d;
    // A token of the REPL's, in the parser's words: say what the user sees.
    if (d.loc.line <= u.lines()) {
      for (const char *what : {" but found '", "unexpected '"})
        if (size_t at = d.message.find(what); at != std::string::npos) {
          d.message =
              d.message.substr(0, at + strlen(what) - 1) + "end of input";
          break;
        }
    }
    d.loc = {last, (uint32_t)u.file.lineText(last).size() + 1};
    return d;
  }

  /// Errors anywhere (a redefinition can break an older item), warnings
  /// and notes only on the lines of the current input.
  void report(const Unit &u, const ast::Expr *silenced = nullptr) {
    DiagEngine out(u.file);
    bool keptError = false;
    for (const Diagnostic &original : u.diags->all()) {
      Diagnostic d = atInput(u, original);
      bool inInput = d.loc.line && d.loc.line <= u.current.size() &&
                     u.current[d.loc.line - 1];
      if (silenced && d.loc.line == silenced->loc.line &&
          d.loc.col == silenced->loc.col && d.severity == Severity::Warning)
        continue;
      switch (d.severity) {
      case Severity::Error:
        out.error(d.loc, d.message);
        keptError = hadCompileError = true;
        break;
      case Severity::Warning:
        if (inInput)
          out.warning(d.loc, d.message);
        break;
      case Severity::Note:
        if (inInput || keptError)
          out.note(d.loc, d.message);
        break;
      }
    }
    std::cout.flush();
    fflush(stdout);
    out.print(std::cerr);
  }

  /// Takes `u` through the pipeline to `stage`. False after an error: the
  /// diagnostics stay in `u` for report(); a verifier failure (a bug in
  /// bpc) is printed here, and the input is dropped: the session goes on.
  bool reach(Unit &u, Stage stage) {
    bool ok = true;
    llvm::handleAllErrors(
        u.c.compileTo(stage), [&](const CompileError &) { ok = false; },
        [&](const VerifierError &e) {
          std::cerr << "bpc: internal compiler error: " << e.message
                    << "; this is a bug in bpc, please report it\n";
          hadCompileError = true;
          ok = false;
        });
    return ok;
  }

  bool frontEnd(Unit &u) { return reach(u, Stage::Sema); }
  bool lower(Unit &u) { return reach(u, Stage::IR); }

  /// The session's items through IR, or null after reporting errors.
  std::unique_ptr<Unit> compiledItems(bool keepPowers = false) {
    auto u = itemsUnit(items, keepPowers);
    if (!frontEnd(*u) || !lower(*u)) {
      report(*u);
      return nullptr;
    }
    return u;
  }

  //===--- items -------------------------------------------------------===//

  void defineItems(const std::string &text, const std::string &path,
                   uint32_t line) {
    // Parse the input alone to find where each item starts.
    Unit alone(compileOptions(), types);
    alone.file.path = path;
    alone.append(withNewline(text), originsOf(withNewline(text), path, line),
                 true);
    if (!reach(alone, Stage::Parse)) {
      report(alone);
      return;
    }
    const std::string &src = alone.file.text;
    std::vector<ItemText> fresh;
    auto &its = alone.ast->items;
    // Imported files follow the input in the text (pipeline/Imports.h) and
    // their items come first in the module: an item ends where the next
    // item in the text starts or where its file's lines end.
    std::vector<size_t> starts;
    for (auto &i : its)
      starts.push_back(offsetOf(src, i->loc));
    std::sort(starts.begin(), starts.end());
    for (size_t k = 0; k < its.size(); ++k) {
      const ast::Item &item = *its[k];
      size_t begin = offsetOf(src, {item.loc.line, 1});
      size_t start = offsetOf(src, item.loc);
      auto next = std::upper_bound(starts.begin(), starts.end(), start);
      size_t end = next != starts.end() ? *next : src.size();
      const std::string &path = alone.file.origin(item.loc.line).path;
      uint32_t l = item.loc.line + 1;
      for (size_t nl = src.find('\n', start);
           nl != std::string::npos && nl + 1 < end;
           nl = src.find('\n', nl + 1), ++l)
        if (alone.file.origin(l).path != path) {
          end = nl + 1;
          break;
        }
      ItemText t;
      t.name = item.kind == ast::ItemKind::Train ? "train" : item.name;
      // Keep columns: blank whatever precedes the item on its first line.
      t.text = withNewline(std::string(start - begin, ' ') +
                           src.substr(start, end - start));
      uint32_t nLines =
          (uint32_t)std::count(t.text.begin(), t.text.end(), '\n');
      for (uint32_t l = 0; l < nLines; ++l)
        t.origins.push_back(alone.file.origin(item.loc.line + l));
      fresh.push_back(std::move(t));
    }
    std::vector<ItemText> next = items;
    for (ItemText &t : fresh) {
      auto same = std::find_if(next.begin(), next.end(),
                               [&](auto &o) { return o.name == t.name; });
      if (same != next.end())
        *same = t;
      else
        next.push_back(t);
    }
    // Check the whole session with the new items, marking their lines.
    auto u = std::make_unique<Unit>(compileOptions(), types);
    for (const ItemText &it : next) {
      bool isNew = std::any_of(fresh.begin(), fresh.end(),
                               [&](auto &f) { return f.name == it.name; });
      u->append(it.text, it.origins, isNew);
    }
    if (!frontEnd(*u) || !lower(*u)) {
      report(*u);
      return;
    }
    report(*u); // warnings
    items = std::move(next);
    for (const ItemText &t : fresh)
      paramValues.erase(t.name); // a redefined param starts afresh
  }

  void load(const std::string &path) {
    std::string text;
    ReadResult read = readRegularFile(path, maxSourceBytes, text);
    if (!read) {
      fail(argLoc,
           describeReadFailure(read, path, "source file", maxSourceBytes));
      return;
    }
    defineItems(text, path, 1);
  }

  //===--- statements and expressions ----------------------------------===//

  struct Entry {
    std::unique_ptr<Unit> unit;
    ast::FnItem *fn = nullptr;
    size_t firstUser = 0; // index of the first user statement in fn->body
  };

  /// items + `fn __repl(in...) <result> {` + restores + text + `tail` + `}`.
  Entry assemble(const std::string &text, uint32_t line,
                 const std::string &result,
                 const std::vector<std::string> &tail) {
    Entry e;
    e.unit = itemsUnit(items);
    Unit &u = *e.unit;
    std::string header = "fn " + std::string(entryName) + "(";
    for (size_t k = 0; k < bindings.size(); ++k)
      header += (k ? ", " : "") + ("__in" + std::to_string(k)) + ": " +
                toString(bindings[k].type);
    u.synthetic(header + ")" + result + " {");
    for (size_t k = 0; k < bindings.size(); ++k)
      u.synthetic(std::string(bindings[k].isVar ? "  var " : "  let ") +
                  bindings[k].name + " = __in" + std::to_string(k));
    std::string body = withNewline(text);
    u.append(body, originsOf(body, stdinPath, line), true);
    for (const std::string &l : tail)
      u.synthetic(l);
    u.synthetic("}");
    if (!frontEndParse(u))
      return e;
    // The entry function must be the last item and hold the input whole.
    if (u.ast->items.size() != items.size() + 1 ||
        u.ast->items.back()->name != entryName ||
        u.ast->items.back()->kind != ast::ItemKind::Fn) {
      u.diags->error({}, "expected statements (an item starts with fn, "
                         "const, param or train)");
      return e;
    }
    e.fn = static_cast<ast::FnItem *>(u.ast->items.back().get());
    e.firstUser = bindings.size();
    return e;
  }

  bool frontEndParse(Unit &u) { return reach(u, Stage::Parse); }

  /// What pass 1 learns about an input: the bindings after it with their
  /// types, and its value's type split into components (`parts`).
  struct Typed {
    Entry entry; // pass 1's unit, which owns the value expression
    std::vector<Binding> after;
    ast::Expr *valueExpr = nullptr;
    const Type *valueType = nullptr;
    std::vector<const Type *> parts;
  };

  /// A `return` at the prompt is an error at each place it occurs.
  bool rejectReturns(Entry &a) {
    auto &stmts = a.fn->body.stmts;
    bool misplaced = false;
    for (size_t i = a.firstUser; i < stmts.size(); ++i)
      if (const ast::Stmt *r = ast::firstReturn(*stmts[i])) {
        a.unit->diags->error(r->loc, "'return' outside a function "
                                     "(statements at the prompt run directly)");
        misplaced = true;
      }
    if (misplaced)
      report(*a.unit);
    return misplaced;
  }

  /// The session's bindings after the input's `let`s and `var`s: a name
  /// bound again moves to the end. Types are filled in by pass 1.
  std::vector<Binding> bindingsAfter(const Entry &a) const {
    auto &stmts = a.fn->body.stmts;
    std::vector<Binding> after = bindings;
    for (size_t i = a.firstUser; i < stmts.size(); ++i) {
      if (stmts[i]->kind != ast::StmtKind::Let)
        continue;
      auto &let = static_cast<ast::LetStmt &>(*stmts[i]);
      for (const ast::Binding &n : let.names) {
        auto old = std::find_if(after.begin(), after.end(),
                                [&](auto &b) { return b.name == n.name; });
        if (old != after.end())
          after.erase(old);
        after.push_back({n.name, let.isVar, nullptr, {}});
      }
    }
    return after;
  }

  /// Pass 1: types of the bindings after the input and of its value, found
  /// by checking the input followed by one probe statement per binding.
  std::optional<Typed> typeInput(const std::string &text, uint32_t line,
                                 Mode mode) {
    Typed t;
    t.entry = assemble(text, line, "", {});
    Entry &a = t.entry;
    if (!a.fn) {
      report(*a.unit);
      return std::nullopt;
    }
    if (rejectReturns(a))
      return std::nullopt;
    auto &stmts = a.fn->body.stmts;
    t.after = bindingsAfter(a);
    ast::ExprStmt *value = nullptr;
    if (stmts.size() > a.firstUser && stmts.back()->kind == ast::StmtKind::Expr)
      value = static_cast<ast::ExprStmt *>(stmts.back().get());
    if (mode != Mode::Run && (!value || stmts.size() != a.firstUser + 1)) {
      fail({1, 1}, "expected one expression");
      return std::nullopt;
    }
    t.valueExpr = value ? value->expr.get() : nullptr;
    Loc probeLoc{a.unit->lines(), 1};
    std::vector<ast::ExprStmt *> probes;
    for (const Binding &b : t.after) {
      stmts.push_back(std::make_unique<ast::ExprStmt>(
          probeLoc, std::make_unique<ast::NameExpr>(probeLoc, b.name)));
      probes.push_back(static_cast<ast::ExprStmt *>(stmts.back().get()));
    }
    reach(*a.unit, Stage::Sema);
    report(*a.unit, t.valueExpr);
    if (a.unit->diags->hasErrors())
      return std::nullopt;
    for (size_t k = 0; k < t.after.size(); ++k)
      t.after[k].type = static_cast<const Type *>(probes[k]->expr->type);
    // Strings and other values without a runtime form are not kept.
    t.after.erase(std::remove_if(t.after.begin(), t.after.end(),
                                 [](auto &b) { return !storable(b.type); }),
                  t.after.end());
    t.valueType =
        t.valueExpr ? static_cast<const Type *>(t.valueExpr->type) : nullptr;
    if (t.valueType && t.valueType->isTuple())
      t.parts = t.valueType->elems;
    else if (t.valueType && !t.valueType->isVoid())
      t.parts = {t.valueType};
    return t;
  }

  /// False (after the error at the value) when a part of the value has no
  /// runtime form.
  bool printable(const Typed &t, uint32_t line) {
    for (const Type *p : t.parts)
      if (!storable(p)) {
        LineOrigin o = t.entry.unit->file.origin(t.valueExpr->loc.line);
        fail({o.line - line + 1, t.valueExpr->loc.col},
             "a value of type '" + toString(t.valueType) +
                 "' cannot be printed (strings are only for paths and "
                 "messages)");
        return false;
      }
    return true;
  }

  /// Pass 2: the entry function returns the bindings and the value; lowered
  /// to IR. Null (after the errors) when it does not compile.
  std::unique_ptr<Unit> entryUnit(const std::string &text, uint32_t line,
                                  const Typed &t) {
    std::vector<std::string> resultTypes, resultNames;
    for (const Binding &b : t.after) {
      resultTypes.push_back(toString(b.type));
      resultNames.push_back(b.name);
    }
    for (size_t k = 0; k < t.parts.size(); ++k) {
      resultTypes.push_back(toString(t.parts[k]));
      resultNames.push_back("__value" + std::to_string(k));
    }
    auto joined = [](const std::vector<std::string> &v) {
      std::string s = v.size() == 1 ? v[0] : "(";
      if (v.size() != 1) {
        for (size_t k = 0; k < v.size(); ++k)
          s += (k ? ", " : "") + v[k];
        s += ")";
      }
      return s;
    };
    std::string result =
        resultTypes.empty() ? "" : " -> " + joined(resultTypes);
    std::vector<std::string> tail;
    if (!resultNames.empty())
      tail.push_back("  return " + joined(resultNames));
    Entry b = assemble(text, line, result, tail);
    if (!b.fn) {
      report(*b.unit);
      return nullptr;
    }
    if (!t.parts.empty()) {
      // The bare expression becomes `let __value0 = e` (or a destructuring
      // let for a tuple), just before the synthetic return.
      auto &bs = b.fn->body.stmts;
      auto &slot = bs[bs.size() - 2];
      assert(slot->kind == ast::StmtKind::Expr && "value statement moved");
      auto *es = static_cast<ast::ExprStmt *>(slot.get());
      auto let = std::make_unique<ast::LetStmt>(es->loc);
      let->isDestructure = t.valueType->isTuple();
      for (size_t k = 0; k < t.parts.size(); ++k)
        let->names.push_back({es->loc, "__value" + std::to_string(k)});
      let->init = std::move(es->expr);
      slot = std::move(let);
    }
    if (!lower(*b.unit)) {
      report(*b.unit);
      return nullptr;
    }
    return std::move(b.unit);
  }

  /// Machine code for the entry function, under a tracker removed at the end
  /// of this input; one call (or `:time`'s runs) with the current bindings as
  /// input. Returns the results: the bindings after, then the value's parts.
  std::optional<std::vector<double>> runEntry(Unit &u, const Typed &t,
                                              Mode mode) {
    keepReachable(*u.ir, entryName);
    if (!reach(u, Stage::LLVM))
      return std::nullopt;
    auto tracker =
        jit.addRemovable(std::move(u.c.llvm), std::move(u.c.llvmContext));
    if (!tracker) {
      std::cerr << "bpc: error: JIT: " << llvm::toString(tracker.takeError())
                << '\n';
      return std::nullopt;
    }
    auto entry = jit.lookup(codegen::dynamicSymbol(entryName));
    if (!entry) {
      std::cerr << "bpc: error: JIT: " << llvm::toString(entry.takeError())
                << '\n';
      llvm::consumeError(jit.remove(*tracker));
      return std::nullopt;
    }
    auto fn = reinterpret_cast<DynFn>(*entry);
    std::vector<double> in, out;
    for (const Binding &bd : bindings)
      in.insert(in.end(), bd.value.begin(), bd.value.end());
    int64_t nOut = 0;
    for (const Binding &bd : t.after)
      nOut += sizeOf(bd.type);
    for (const Type *p : t.parts)
      nOut += sizeOf(p);
    out.assign(std::max<int64_t>(nOut, 1), 0);
    in.resize(std::max<size_t>(in.size(), 1));

    writeParams(*u.ir);
    std::cout.flush();
    bool ok;
    if (mode == Mode::Time)
      ok = timeCalls(fn, in.data(), out.data());
    else
      ok = guardedCall(fn, in.data(), out.data());
    fflush(stdout);
    if (!ok)
      hadRuntimeError = true;
    readParams(*u.ir);
    if (auto err = jit.remove(*tracker))
      std::cerr << "bpc: error: JIT: " << llvm::toString(std::move(err))
                << '\n';
    if (!ok)
      return std::nullopt;
    out.resize(nOut);
    return out;
  }

  /// Prints the value after a statement line: `v : type`, a tuple in
  /// parentheses. `v` points at its components.
  void printRunValue(const Typed &t, const double *v) {
    if (t.parts.size() > 1)
      bp_print_str("(", 1);
    for (size_t k = 0; k < t.parts.size(); ++k) {
      if (k)
        bp_print_str(", ", 2);
      printValue(t.parts[k], v);
      v += sizeOf(t.parts[k]);
    }
    if (t.parts.size() > 1)
      bp_print_str(")", 1);
    std::string s = " : " + toString(t.valueType) + "\n";
    bp_print_str(s.data(), (int64_t)s.size());
    fflush(stdout);
  }

  /// Runs statements (Mode::Run) or evaluates one expression (the other
  /// modes). Returns the value's components for Mode::Values.
  std::optional<std::vector<double>> evaluate(const std::string &text,
                                              uint32_t line, Mode mode) {
    std::optional<Typed> t = typeInput(text, line, mode);
    if (!t)
      return std::nullopt;
    if (mode == Mode::Type) {
      std::cout << (t->valueType ? toString(t->valueType) : "()") << '\n';
      return std::vector<double>{};
    }
    if (!printable(*t, line))
      return std::nullopt;
    std::unique_ptr<Unit> u = entryUnit(text, line, *t);
    if (!u)
      return std::nullopt;
    std::optional<std::vector<double>> out = runEntry(*u, *t, mode);
    if (!out)
      return std::nullopt;

    // The input ran: keep its bindings, show its value.
    const double *p = out->data();
    for (Binding &bd : t->after) {
      bd.value.assign(p, p + sizeOf(bd.type));
      p += sizeOf(bd.type);
    }
    bindings = std::move(t->after);
    std::vector<double> values(p, (const double *)out->data() + out->size());
    if (mode == Mode::Run && !t->parts.empty())
      printRunValue(*t, p);
    return values;
  }

  /// `:time`: runs of at least 1 ms each (a run repeats the call), 11 runs
  /// or 2 s, median per call.
  bool timeCalls(DynFn fn, const double *in, double *out) {
    using clock = std::chrono::steady_clock;
    if (!guardedCall(fn, in, out))
      return false;
    auto timeRun = [&](int64_t reps, double &seconds) {
      auto t0 = clock::now();
      for (int64_t r = 0; r < reps; ++r)
        if (!guardedCall(fn, in, out))
          return false;
      seconds = std::chrono::duration<double>(clock::now() - t0).count();
      return true;
    };
    int64_t reps = 1;
    double s = 0;
    for (;;) {
      if (!timeRun(reps, s))
        return false;
      if (s >= 1e-3 || reps >= (1 << 24))
        break;
      reps *= 2;
    }
    std::vector<double> perCall;
    double total = 0;
    while (perCall.size() < 11 && (perCall.size() < 3 || total < 2)) {
      if (!timeRun(reps, s))
        return false;
      perCall.push_back(s / reps);
      total += s;
    }
    std::sort(perCall.begin(), perCall.end());
    fflush(stdout);
    std::cout << "median " << formatSeconds(perCall[perCall.size() / 2])
              << " per run (" << perCall.size() << " samples of " << reps
              << " run" << (reps == 1 ? "" : "s") << ")\n";
    std::cout.flush();
    return true;
  }

  void writeParams(const ir::Module &m) {
    for (size_t k = 0; k < m.params.size(); ++k) {
      const ir::Param &p = m.params[k];
      auto *data =
          static_cast<double *>(jit.find(codegen::paramSymbol(p.name)));
      if (!data)
        continue;
      std::vector<double> &v = paramValues[p.name];
      if ((int64_t)v.size() != sizeOf(p.type))
        v = ir::initialValues(p, k, opts.seed);
      std::copy(v.begin(), v.end(), data);
    }
  }

  void readParams(const ir::Module &m) {
    for (const ir::Param &p : m.params) {
      if (auto *d = static_cast<const double *>(
              jit.find(codegen::paramSymbol(p.name))))
        paramValues[p.name].assign(d, d + sizeOf(p.type));
    }
  }

  //===--- commands ----------------------------------------------------===//

  void command(const std::string &text, uint32_t line) {
    std::string word = firstWord(text);
    size_t at = text.find(word) + word.size();
    std::string arg = trim(text.substr(at));
    cmdLoc = {1, (uint32_t)text.find(word) + 1};
    argLoc = {1,
              (uint32_t)(text.find_first_not_of(" \t", at) == std::string::npos
                             ? at + 1
                             : text.find_first_not_of(" \t", at) + 1)};
    // Expressions keep their columns: the command is blanked out.
    std::string argText = std::string(at, ' ') + text.substr(at);
    auto needArg = [&](const char *what) {
      if (!arg.empty())
        return true;
      fail(cmdLoc, word + " needs " + what);
      return false;
    };
    if (word == ":quit" || word == ":q") {
      quit = true;
    } else if (word == ":help" || word == ":h") {
      std::cout << helpText;
    } else if (word == ":load") {
      if (needArg("a file name"))
        load(arg.size() > 1 && arg.front() == '"' && arg.back() == '"'
                 ? arg.substr(1, arg.size() - 2)
                 : arg);
    } else if (word == ":type") {
      if (needArg("an expression") && !signatureOf(arg))
        evaluate(argText, line, Mode::Type);
    } else if (word == ":time") {
      if (needArg("an expression"))
        evaluate(argText, line, Mode::Time);
    } else if (word == ":ir" || word == ":adjoint" || word == ":llvm") {
      if (needArg("a function name"))
        showFunction(word, arg, line);
    } else if (word == ":explain") {
      if (needArg("a call such as dneuron(0.5, 0.1, 1.5, 1.0)"))
        explain(text, at, line);
    } else {
      fail(cmdLoc, "unknown command '" + word + "'" +
                       didYouMean(word, {std::begin(commandNames),
                                         std::end(commandNames)}) +
                       " (:help lists them)");
    }
  }

  /// `:type f` for a function: its signature. False when `name` is not one.
  bool signatureOf(const std::string &name) {
    bool isName =
        !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
          return isalnum((unsigned char)c) || c == '_';
        });
    if (!isName)
      return false;
    auto u = itemsUnit(items);
    if (!frontEnd(*u))
      return false;
    const sema::FnSig *sig = u->prog.signature(name);
    if (!sig)
      return false;
    std::cout << "fn(";
    for (size_t k = 0; k < sig->params.size(); ++k)
      std::cout << (k ? ", " : "") << sig->paramNames[k] << ": "
                << toString(sig->params[k]);
    std::cout << ")";
    if (sig->result && !sig->result->isVoid())
      std::cout << " -> " << toString(sig->result);
    std::cout << '\n';
    return true;
  }

  void showFunction(const std::string &cmd, const std::string &name,
                    uint32_t line) {
    auto u = compiledItems();
    if (!u)
      return;
    auto unknown = [&] {
      fail(argLoc, std::string("no ") +
                       (cmd == ":adjoint" ? "derived function" : "function") +
                       " named '" + name + "'" + suggestItem(name));
    };
    if (cmd == ":adjoint") {
      if (!u->prog.lookupDerived(name) ||
          !ad::printAdjoints(*u->ir, name, std::cout))
        unknown();
      return;
    }
    ir::Function *f = u->ir->lookup(name);
    if (!f)
      return unknown();
    if (cmd == ":ir") {
      ir::print(*f, std::cout);
      return;
    }
    if (!reach(*u, Stage::LLVM))
      return;
    std::string symbol = codegen::functionSymbol(name), s;
    llvm::raw_string_ostream os(s);
    if (llvm::Function *lf = u->c.llvm->getFunction(symbol))
      lf->print(os);
    std::cout << os.str();
  }

  std::string suggestItem(const std::string &name) const {
    std::vector<std::string> names;
    for (const ItemText &it : items)
      names.push_back(it.name);
    return didYouMean(name, names);
  }

  /// `:explain d(args)`: the arguments are evaluated, then shown through
  /// the same table as `bpc explain`.
  void explain(const std::string &text, size_t argStart, uint32_t line) {
    std::string call = text.substr(argStart);
    size_t open = call.find('('), close = call.rfind(')');
    std::string name = trim(call.substr(0, open));
    if (open == std::string::npos || close == std::string::npos ||
        close < open || !trim(call.substr(close + 1)).empty() || name.empty()) {
      fail(argLoc, ":explain needs a call of a derived function, e.g. "
                   ":explain dneuron(0.5, 0.1, 1.5, 1.0)");
      return;
    }
    auto u = compiledItems(/*keepPowers=*/true);
    if (!u)
      return;
    const sema::FnSig *sig = u->prog.signature(name);
    if (!sig || !u->prog.lookupDerived(name)) {
      fail(argLoc, "'" + name +
                       "' is not a derived function (fn d = grad(f, ...))" +
                       suggestItem(name));
      return;
    }
    // The arguments as one tuple, columns kept.
    std::string args = std::string(argStart + open, ' ') + "(" +
                       call.substr(open + 1, close - open - 1) +
                       (sig->params.size() == 1 ? ",)" : ")");
    if (sig->params.size() == 1)
      args = std::string(argStart + open, ' ') +
             call.substr(open, close - open + 1);
    auto values = evaluate(args, line, Mode::Values);
    if (!values)
      return;
    if (values->size() != sig->params.size()) {
      fail(argLoc, "'" + name + "' takes " +
                       std::to_string(sig->params.size()) +
                       " scalar arguments, found " +
                       std::to_string(values->size()) + " values");
      return;
    }
    std::map<std::string, double> at;
    for (size_t k = 0; k < values->size(); ++k)
      at[sig->paramNames[k]] = (*values)[k];
    std::map<std::string, double> current; // scalar params, as they are now
    for (auto &[p, v] : paramValues)
      if (v.size() == 1)
        current[p] = v[0];
    std::string err;
    if (!ad::explain(*u->ir, name, at, std::cout, err, &current))
      fail(argLoc, err);
  }

  //===--- dispatch ----------------------------------------------------===//

  std::string curText; // the input being run, for `fail`
  uint32_t curLine = 0;
  Loc cmdLoc, argLoc; // a command's name and argument in `curText`

  /// A located error in the current input (`loc` counts from its start).
  void fail(Loc loc, const std::string &message) {
    Unit u(compileOptions(), types);
    std::string text = withNewline(curText);
    u.append(text, originsOf(text, stdinPath, curLine), true);
    u.diags->error(loc, message);
    report(u);
  }

  void input(const std::string &text, uint32_t line) {
    curText = text;
    curLine = line;
    std::string word = firstWord(text);
    if (isBlank(text))
      return;
    if (!word.empty() && word[0] == ':')
      return command(text, line);
    BracketScan scan = scanBrackets(text);
    if (scan.unmatched) {
      fail(scan.where, std::string("unmatched '") + scan.ch + "'");
      return;
    }
    // `import "f.bp"` typed at the prompt loads f.bp and what it imports
    // (the path relative to the working directory), as :load does.
    if (word == "fn" || word == "const" || word == "param" || word == "train" ||
        word == "adjoint" || word == "tangent" || word == "import")
      defineItems(text, stdinPath, line);
    else
      evaluate(text, line, Mode::Run);
  }
};

ReplSession::ReplSession(const ReplOptions &o, JIT &jit)
    : impl(std::make_unique<Impl>(o, jit)) {}

ReplSession::~ReplSession() = default;

void ReplSession::input(const std::string &text, uint32_t line) {
  impl->input(text, line);
  std::cout.flush();
  fflush(stdout);
}

bool ReplSession::quitRequested() const { return impl->quit; }

ExitCode ReplSession::status() const {
  return impl->hadCompileError   ? ExitCode::CompileError
         : impl->hadRuntimeError ? ExitCode::RuntimeError
                                 : ExitCode::Success;
}

std::vector<std::string>
ReplSession::completions(const std::string &prefix) const {
  std::set<std::string> all;
  if (!prefix.empty() && prefix[0] == ':') {
    for (const char *c : commandNames)
      all.insert(c);
  } else {
    for (const std::string &b : sema::builtinNames())
      all.insert(b);
    for (const ItemText &it : impl->items)
      if (it.name != "train" && it.name.find('.') == std::string::npos)
        all.insert(it.name); // not a rule's `f.adjoint`
    for (const Binding &b : impl->bindings)
      all.insert(b.name);
    for (const char *k :
         {"let",     "var",  "fn",    "param", "const", "return", "if",
          "else",    "for",  "in",    "while", "train", "import", "adjoint",
          "tangent", "true", "false", "and",   "or",    "not"})
      all.insert(k);
  }
  std::vector<std::string> out;
  for (const std::string &s : all)
    if (s.compare(0, prefix.size(), prefix) == 0)
      out.push_back(s);
  return out;
}

bool ReplSession::needsMore(const std::string &text) {
  std::string word = firstWord(text);
  if (!word.empty() && word[0] == ':')
    return false;
  BracketScan s = scanBrackets(text);
  if (s.unmatched)
    return false;
  if (s.depth > 0)
    return true;
  if (!s.lastWord.empty())
    return s.lastWord == "and" || s.lastWord == "or" || s.lastWord == "not";
  return s.last && strchr("+-*/%@^=,<>!", s.last) != nullptr;
}

} // namespace bp
