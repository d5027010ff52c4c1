//===- Diagnostics.h - located user diagnostics -----------------*- C++ -*-===//
//
// User errors are collected here as `FILE:LINE:COL: error: MESSAGE` with the
// source line and a caret. Every stage reports into one DiagEngine so that all
// errors of a file are shown, not only the first. This header is free of LLVM
// and ANTLR so that every library (including the RTTI-enabled parser) uses it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace bp {

/// A 1-based position in the source file (0 means "unknown").
struct Loc {
  uint32_t line = 0;
  uint32_t col = 0;
};

/// Where a line of a synthesised source came from: the REPL compiles one
/// text assembled from many inputs and files, and reports each line under
/// the name and number the user typed or loaded it with.
struct LineOrigin {
  std::string path;
  uint32_t line = 0; // 0: a line the REPL wrote itself
};

/// The text of one source file plus its display path.
struct SourceFile {
  std::string path;
  std::string text;
  /// Empty for a real file; else one entry per line of `text` (index 0 is
  /// line 1).
  std::vector<LineOrigin> origins;

  /// Returns the text of 1-based line `line` without its newline.
  std::string lineText(uint32_t line) const;
  /// The path and line to show for 1-based line `line` of `text` (line 0
  /// when it has no place the user would recognise).
  LineOrigin origin(uint32_t line) const;
  /// Line `line` named in a message about line `from`: "line N" when both
  /// come from one file, else "PATH:N" (an imported file, LANGUAGE.md
  /// section 22). N is the line in its own file.
  std::string lineRef(uint32_t line, uint32_t from) const;
};

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity;
  Loc loc;
  std::string message;
};

class DiagEngine {
public:
  explicit DiagEngine(const SourceFile &file) : file(&file) {}

  void error(Loc loc, std::string message);
  void warning(Loc loc, std::string message);
  void note(Loc loc, std::string message);

  unsigned errorCount() const { return numErrors; }
  bool hasErrors() const { return numErrors != 0; }
  const std::vector<Diagnostic> &all() const { return diags; }
  const SourceFile &source() const { return *file; }

  /// Limits the number of errors kept (the rest are counted, not stored).
  static constexpr unsigned maxErrors = 100;

  /// Writes every diagnostic in clang's format: location, message, source
  /// line, caret.
  void print(std::ostream &os) const;

  /// `--verify-diagnostics`: compares the collected diagnostics with the
  /// `# expected-error {{text}}` (or `expected-warning`) comments in the
  /// source. A comment matches a diagnostic on its own line, or on the line
  /// given by `expected-error@+N` / `@-N`. Returns true when every expected
  /// diagnostic was produced and nothing unexpected was; mismatches are
  /// written to `os`.
  bool verify(std::ostream &os) const;

private:
  void add(Severity s, Loc loc, std::string message);

  const SourceFile *file;
  std::vector<Diagnostic> diags;
  unsigned numErrors = 0;
};

/// The Levenshtein distance between two names, or limit + 1 when it is
/// over `limit` (in O(|a| * limit) time).
unsigned editDistance(const std::string &a, const std::string &b,
                      unsigned limit);

/// "; did you mean 'x'?" for the candidate closest to `name` (at most 1 edit
/// for names of up to 3 characters, else 2), or "" when none is close.
std::string didYouMean(const std::string &name,
                       const std::vector<std::string> &candidates);

} // namespace bp
