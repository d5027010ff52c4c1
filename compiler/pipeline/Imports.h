//===- Imports.h - import: one program from several files -------*- C++ -*-===//
//
// LANGUAGE.md section 22. The files of a program become one SourceFile: the
// file given first, each imported file appended after it, and a LineOrigin
// per line naming the file and line it came from. Every stage after parse
// then sees one module and reports every location under its own file
// (DiagEngine::print, runtime errors, read_csv paths all read the origins).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "parse/AST.h"
#include "support/Diagnostics.h"

namespace bp {

/// Input:  `file`, the source `main` was parsed from (its origins empty for a
///         real file, or set: the REPL's `:load`), and `main` with imports.
/// Output: every file `main` imports, directly or through other imports, read
///         and parsed once (a diamond reads the shared file once), appended
///         to `file.text` with `file.origins` set for every line; its items
///         moved into `main.items`, an imported file's items before those of
///         the file that imports it (as if written at the import);
///         `main.imports` stays (`bpc emit ast` shows it). Paths are
///         relative to the importing file.
///         A missing or unreadable file, an import cycle (an error at the
///         import that closes it, a note where the cycle starts) and a
///         `train` block in an imported file are located errors in `diags`;
///         so is any syntax error in an imported file.
/// Preserves: the lines of the text already in `file` keep their numbers;
///         a name defined in two files is left to sema (two items).
void loadImports(SourceFile &file, DiagEngine &diags, ast::Module &main);

} // namespace bp
