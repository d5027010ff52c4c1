//===- Repl.h - `bpc repl`: the interactive JIT session ---------*- C++ -*-===//
//
// Items and statements as in a file, one input at a time (LANGUAGE.md
// section 10; docs/REPL.md). Every input is compiled together with the
// session's items, so redefining an item re-derives everything that uses it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "driver/Pipeline.h"

#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <vector>

namespace bp {

class JIT;

struct ReplOptions {
  /// Show prompts. Default: only when stdin is a terminal.
  bool prompt = false;
  /// Line editing, history and completion with libedit (stdin a terminal).
  bool lineEditing = false;
  sema::Options sema;
  unsigned optLevel = 2;
  uint64_t seed = 0;
  bool checkNumerics = false;
  bool simplify = true; // --no-simplify
};

/// One REPL session: the items defined so far, the values of top-level
/// `let`/`var` bindings, and the params' current values.
class ReplSession {
public:
  ReplSession(const ReplOptions &o, JIT &jit);
  ~ReplSession();

  /// Runs one complete input (a `:command`, items, or statements) whose
  /// first line is line `line` of the session. Output goes to stdout,
  /// diagnostics to stderr; nothing here ends the session except `:quit`.
  void input(const std::string &text, uint32_t line);
  bool quitRequested() const;
  /// CompileError when some input had a compile error, else RuntimeError
  /// when some input stopped with a runtime error, else Success.
  ExitCode status() const;

  /// Names for tab completion: commands, builtins, items, bindings.
  std::vector<std::string> completions(const std::string &prefix) const;

  /// True when `text` needs more lines: an open bracket, or a last line
  /// that ends with a binary operator or a comma.
  static bool needsMore(const std::string &text);

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// `bpc repl`: reads inputs from stdin until EOF or `:quit`. On a
/// terminal the exit status is 0; from a pipe it is ReplSession::status().
ExitCode runRepl(const ReplOptions &o);

} // namespace bp
