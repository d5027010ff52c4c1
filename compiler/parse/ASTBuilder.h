//===- ASTBuilder.h - ANTLR parse tree to AST (internal) --------*- C++ -*-===//
//
// Private to compiler/parse: sees the generated parser. Parser.cpp parses,
// ASTBuilder.cpp turns the parse tree into our AST; both share the small
// token helpers below.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "parse/AST.h"
#include "support/Diagnostics.h"

#include "BPParser.h"
#include "antlr4-runtime.h"

#include <memory>
#include <string>

namespace bp::parse_detail {

inline Loc locOf(const antlr4::Token *t) {
  if (!t)
    return {};
  return {uint32_t(t->getLine()), uint32_t(t->getCharPositionInLine() + 1)};
}

/// The bytes of token `t` in the source (ANTLR's getText would re-encode
/// bytes >= 0x80 of the byte stream below).
inline std::string tokenText(const std::string &src, const antlr4::Token *t) {
  size_t a = t->getStartIndex(), b = t->getStopIndex();
  if (a == INVALID_INDEX || b == INVALID_INDEX || b < a || b >= src.size())
    return t->getText();
  return src.substr(a, b - a + 1);
}

/// Shortens and cleans a piece of source for a message.
inline std::string snippet(const std::string &s) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= 32) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

/// `s` in single quotes (built by appending: GCC 12 warns falsely on
/// `"'" + std::string&&`).
inline std::string quote(const std::string &s) {
  std::string out(1, '\'');
  out += s;
  out += '\'';
  return out;
}

/// Input:  the tree of a parse without syntax errors (null-safe all the same).
/// Output: its AST; errors found on the way (missing `else` of an
///         if-expression, unknown type names, nesting past maxASTDepth, ...)
///         go to `diags`.
std::unique_ptr<ast::Module> buildAST(bpgen::BPParser::ProgramContext *tree,
                                      const std::string &src,
                                      DiagEngine &diags);

} // namespace bp::parse_detail
