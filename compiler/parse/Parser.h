//===- Parser.h - .bp source to AST -----------------------------*- C++ -*-===//
//
// The only entry point into compiler/parse. ANTLR types never cross this
// header: the library is built with RTTI and exceptions (the ANTLR C++
// runtime needs them) and hands back our own AST.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "parse/AST.h"
#include "support/Diagnostics.h"

#include <iosfwd>
#include <memory>

namespace bp {

/// Input:  the whole text of one .bp file; `firstLine`: the line of
///         `diags`' source that the text's first line is (1, or where an
///         imported file was appended to it: pipeline/Imports.h).
/// Output: the module's AST, its imports apart from its items; every syntax
///         error is reported into `diags` as a located error (all of them,
///         not only the first). Every Loc counts lines from `firstLine`.
///         Returns null only when the input could not be parsed at all.
/// Never throws, never crashes: nesting deeper than `maxNestingDepth` and
/// sources larger than `maxSourceBytes` are located errors.
std::unique_ptr<ast::Module>
parseModule(const SourceFile &file, DiagEngine &diags, uint32_t firstLine = 1);

constexpr unsigned maxNestingDepth = 256;
/// Parsing keeps every token and the whole ANTLR parse tree: up to about
/// 650 bytes of memory per source byte for the densest code measured (lines
/// `a=a+1`; docs/DESIGN.md "Limits"). 16 MiB of source stays under 11 GB.
constexpr size_t maxSourceBytes = 16u << 20;

/// `bpc emit ast`: a deterministic, indented dump of the tree. With
/// `source`, the one the tree was parsed from, locations in imported files
/// name their file and line there.
void printAST(const ast::Module &module, std::ostream &os,
              const SourceFile *source = nullptr);

} // namespace bp
