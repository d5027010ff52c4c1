//===- Parser.cpp - .bp source to AST through ANTLR -----------------------===//
//
// parseModule runs four steps:
//   1. lex the whole file (one ANTLR character per byte, so columns are byte
//      columns and malformed UTF-8 cannot throw);
//   2. filter the tokens: the newline rules of LANGUAGE.md section 2, the
//      nesting guard (ANTLR's recursive descent would overflow the stack on
//      deep input) and token-level checks (bad characters, escapes, literals);
//   3. parse: SLL prediction with a bail-out strategy first (fast), and on
//      failure a second parse in full LL mode with the default recovering
//      strategy, whose errors the listener rewrites into our messages;
//   4. build the AST from the parse tree (ASTBuilder below), only when the
//      parse had no syntax error.
//
//===----------------------------------------------------------------------===//
#include "parse/Parser.h"

#include "BPLexer.h"
#include "BPParser.h"
#include "antlr4-runtime.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

namespace bp {
namespace {

using antlr4::Token;
using bpgen::BPLexer;
using bpgen::BPParser;

/// Bounds the depth of the AST (and so every recursive walk over it, here and
/// in later stages): a left-associative chain `1 + 1 + ... + 1` counts one
/// level per operator, and so does each `else if`. Deeper input is the error
/// "expression too long". The parser itself never recurses per chain element.
constexpr unsigned maxASTDepth = 4096;

Loc locOf(const Token *t) {
  if (!t)
    return {};
  return {uint32_t(t->getLine()), uint32_t(t->getCharPositionInLine() + 1)};
}

/// The bytes of token `t` in the source (ANTLR's getText would re-encode
/// bytes >= 0x80 of the byte stream below).
std::string tokenText(const std::string &src, const Token *t) {
  size_t a = t->getStartIndex(), b = t->getStopIndex();
  if (a == INVALID_INDEX || b == INVALID_INDEX || b < a || b >= src.size())
    return t->getText();
  return src.substr(a, b - a + 1);
}

/// Shortens and cleans a piece of source for a message.
std::string snippet(const std::string &s) {
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
std::string quote(const std::string &s) {
  std::string out(1, '\'');
  out += s;
  out += '\'';
  return out;
}

/// The character at byte `i`: a whole UTF-8 sequence when it is one, else
/// the byte as `\xNN`.
std::string describeChar(const std::string &src, size_t i) {
  unsigned char c = src[i];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4 : 0;
  bool valid = len != 0 && i + len <= src.size();
  for (size_t k = 1; valid && k < len; ++k)
    valid = (static_cast<unsigned char>(src[i + k]) & 0xc0) == 0x80;
  if (valid && c >= 0x80)
    return src.substr(i, len);
  static const char hex[] = "0123456789abcdef";
  if (c >= 0x20 && c < 0x7f)
    return std::string(1, char(c));
  return std::string("\\x") + hex[c >> 4] + hex[c & 15];
}

/// The source as a character stream of bytes (0..255).
class ByteStream : public antlr4::ANTLRInputStream {
public:
  explicit ByteStream(const std::string &text) {
    _data.resize(text.size());
    for (size_t i = 0; i < text.size(); ++i)
      _data[i] = static_cast<unsigned char>(text[i]);
    p = 0;
  }
};

//===----------------------------------------------------------------------===//
// Token filter
//===----------------------------------------------------------------------===//

bool isOperandEnd(size_t t) {
  switch (t) {
  case BPLexer::ID:
  case BPLexer::INT:
  case BPLexer::FLOAT:
  case BPLexer::STRING:
  case BPLexer::TRUE:
  case BPLexer::FALSE:
  case BPLexer::RPAREN:
  case BPLexer::RBRACK:
  case BPLexer::RBRACE:
    return true;
  default:
    return false;
  }
}

/// Binary operators below `^` (they end a run of unary minus and `^`).
bool isArithOrCompare(size_t t) {
  switch (t) {
  case BPLexer::PLUS:
  case BPLexer::MINUS:
  case BPLexer::STAR:
  case BPLexer::SLASH:
  case BPLexer::PERCENT:
  case BPLexer::AT:
  case BPLexer::EQ:
  case BPLexer::NE:
  case BPLexer::LT:
  case BPLexer::LE:
  case BPLexer::GT:
  case BPLexer::GE:
    return true;
  default:
    return false;
  }
}

/// Tokens that end every operator run (`and`, `or`, separators, `=`...).
bool isRunEnd(size_t t) {
  switch (t) {
  case BPLexer::AND:
  case BPLexer::OR:
  case BPLexer::COMMA:
  case BPLexer::SEMI:
  case BPLexer::NEWLINE:
  case BPLexer::COLON:
  case BPLexer::DOTDOT:
  case BPLexer::ARROW:
  case BPLexer::ASSIGN:
  case BPLexer::ADD_ASSIGN:
  case BPLexer::SUB_ASSIGN:
  case BPLexer::MUL_ASSIGN:
  case BPLexer::DIV_ASSIGN:
    return true;
  default:
    return false;
  }
}

/// Tokens that can only start a statement or an item: a newline inside
/// brackets before one of them is kept, so that an unclosed bracket is
/// reported at the end of its line rather than on the next one.
bool startsStatement(size_t t) {
  switch (t) {
  case BPLexer::LET:
  case BPLexer::VAR:
  case BPLexer::FN:
  case BPLexer::PARAM:
  case BPLexer::CONST:
  case BPLexer::RETURN:
  case BPLexer::FOR:
  case BPLexer::WHILE:
  case BPLexer::TRAIN:
    return true;
  default:
    return false;
  }
}

/// A newline after these tokens continues the line.
bool continuesLine(size_t t) {
  return isArithOrCompare(t) || isRunEnd(t) || t == BPLexer::CARET ||
         t == BPLexer::NOT || t == BPLexer::LBRACE || t == BPLexer::LPAREN ||
         t == BPLexer::LBRACK;
}

/// Applies the newline rules and checks nesting and single tokens. The
/// nesting depth approximates the parser's recursion: one level per open
/// bracket, plus one per prefix operator or `^` (each recurses) until an
/// operator or separator that ends that run.
class TokenFilter {
public:
  TokenFilter(const std::string &src, DiagEngine &diags)
      : src(src), diags(diags) {}

  /// Moves the filtered tokens of `lexer` to `out`. Returns false (after
  /// reporting) when the nesting is too deep to parse.
  bool run(BPLexer &lexer, std::vector<std::unique_ptr<Token>> &out);

private:
  struct Frame {
    Frame(size_t open, bool isBlock) : open(open), isBlock(isBlock) {}
    size_t open;        // token type of the bracket, 0 for the file
    bool isBlock;       // a '{' that opens statements (not `if c { e }`)
    unsigned arith = 0; // pending unary '-'/'+' and '^'
    unsigned logic = 0; // pending 'not'
    /// Kinds of the '{' expected on this line by `if` (block or branch of
    /// an if-expression), `for`, `while`, `fn`, `train`, innermost last.
    std::vector<bool> braces;
  };

  bool account(Token &tok, size_t prevType);
  void classifyBraces(Token &tok, size_t prevType);
  void resetRuns(bool all);
  void checkToken(Token &tok);
  void checkInt(const Token &tok);
  void checkFloat(const Token &tok);
  void checkString(const Token &tok);

  const std::string &src;
  DiagEngine &diags;
  std::vector<Frame> frames{Frame(0, true)};
  unsigned depth = 0;
  bool lastClosedBlock = true; // kind of the last '}' (for `else`)
  size_t lastBadStop = INVALID_INDEX;
};

bool TokenFilter::run(BPLexer &lexer,
                      std::vector<std::unique_ptr<Token>> &out) {
  auto dropNewline = [&] {
    if (!out.empty() && out.back()->getType() == BPLexer::NEWLINE)
      out.pop_back();
  };
  std::unique_ptr<Token> pendingNewline; // seen inside ( ) or [ ]
  for (;;) {
    std::unique_ptr<Token> tok = lexer.nextToken();
    size_t type = tok->getType();
    if (pendingNewline && type != BPLexer::NEWLINE &&
        type != BPLexer::ERROR_CHAR) {
      if (startsStatement(type))
        out.push_back(std::move(pendingNewline));
      pendingNewline.reset();
    }
    if (type == Token::EOF) {
      dropNewline();
      out.push_back(std::move(tok));
      return true;
    }
    if (type == BPLexer::ERROR_CHAR) {
      // One message per run of bad characters (binary input, a UTF-8
      // sequence outside a string).
      size_t start = tok->getStartIndex();
      if (lastBadStop == INVALID_INDEX || start != lastBadStop + 1)
        diags.error(locOf(tok.get()), "unexpected character " +
                                          quote(describeChar(src, start)));
      lastBadStop = tok->getStopIndex();
      continue;
    }
    if (type == BPLexer::NEWLINE) {
      resetRuns(true);
      size_t top = frames.back().open;
      if (top == BPLexer::LPAREN || top == BPLexer::LBRACK) {
        if (!pendingNewline)
          pendingNewline = std::move(tok);
        continue;
      }
      if (out.empty() || out.back()->getType() == BPLexer::NEWLINE ||
          continuesLine(out.back()->getType()))
        continue;
      frames.back().braces.clear();
      out.push_back(std::move(tok));
      continue;
    }
    checkToken(*tok);
    if (type == BPLexer::RBRACE || type == BPLexer::ELSE)
      dropNewline();
    size_t prevType = out.empty() ? 0 : out.back()->getType();
    if (!account(*tok, prevType))
      return false;
    out.push_back(std::move(tok));
  }
}

void TokenFilter::resetRuns(bool all) {
  Frame &f = frames.back();
  depth -= f.arith;
  f.arith = 0;
  if (all) {
    depth -= f.logic;
    f.logic = 0;
  }
}

/// Decides which `if` starts a statement (retyped to STMT_IF) and which '{'
/// opens a block: a '{' takes the kind announced by the last `if`, `for`,
/// `while`, `fn` or `train` on its line; `else` repeats the kind of the '}'
/// before it.
void TokenFilter::classifyBraces(Token &tok, size_t prevType) {
  Frame &f = frames.back();
  switch (tok.getType()) {
  case BPLexer::IF: {
    bool stmt = prevType == BPLexer::ELSE
                    ? lastClosedBlock
                    : prevType == 0 || prevType == BPLexer::NEWLINE ||
                          prevType == BPLexer::SEMI ||
                          (prevType == BPLexer::LBRACE && f.isBlock);
    if (stmt && prevType != BPLexer::ELSE)
      if (auto *w = dynamic_cast<antlr4::WritableToken *>(&tok))
        w->setType(BPParser::STMT_IF);
    f.braces.push_back(stmt);
    break;
  }
  case BPLexer::FOR:
  case BPLexer::WHILE:
  case BPLexer::FN:
  case BPLexer::TRAIN:
    f.braces.push_back(true);
    break;
  case BPLexer::SEMI:
    f.braces.clear();
    break;
  case BPLexer::LBRACE: {
    bool block = true;
    if (prevType == BPLexer::ELSE) {
      block = lastClosedBlock;
    } else if (!f.braces.empty()) {
      block = f.braces.back();
      f.braces.pop_back();
    }
    frames.emplace_back(BPLexer::LBRACE, block);
    break;
  }
  case BPLexer::RBRACE:
    if (frames.size() > 1)
      lastClosedBlock = f.isBlock;
    break;
  default:
    break;
  }
}

bool TokenFilter::account(Token &tok, size_t prevType) {
  classifyBraces(tok, prevType);
  size_t type = tok.getType();
  bool deeper = false;
  switch (type) {
  case BPLexer::LPAREN:
  case BPLexer::LBRACK:
    frames.emplace_back(type, false);
    deeper = true;
    break;
  case BPLexer::LBRACE: // pushed by classifyBraces
    deeper = true;
    break;
  case BPLexer::RPAREN:
  case BPLexer::RBRACK:
  case BPLexer::RBRACE:
    if (frames.size() > 1) {
      depth -= 1 + frames.back().arith + frames.back().logic;
      frames.pop_back();
    }
    break;
  case BPLexer::MINUS:
  case BPLexer::PLUS:
    if (isOperandEnd(prevType)) {
      resetRuns(false);
    } else {
      ++frames.back().arith;
      deeper = true;
    }
    break;
  case BPLexer::CARET:
    ++frames.back().arith;
    deeper = true;
    break;
  case BPLexer::NOT:
    ++frames.back().logic;
    deeper = true;
    break;
  default:
    if (isArithOrCompare(type))
      resetRuns(false);
    else if (isRunEnd(type))
      resetRuns(true);
    break;
  }
  if (deeper && ++depth > maxNestingDepth) {
    diags.error(locOf(&tok), "nesting too deep (more than " +
                                 std::to_string(maxNestingDepth) +
                                 " levels)");
    return false;
  }
  return true;
}

void TokenFilter::checkToken(Token &tok) {
  switch (tok.getType()) {
  case BPLexer::UNTERMINATED_STRING:
    diags.error(locOf(&tok), "unterminated string literal");
    // Parse on as a string so that the rest of the line makes sense.
    if (auto *w = dynamic_cast<antlr4::WritableToken *>(&tok))
      w->setType(BPLexer::STRING);
    checkString(tok);
    break;
  case BPLexer::STRING:
    checkString(tok);
    break;
  case BPLexer::INT:
    checkInt(tok);
    break;
  case BPLexer::FLOAT:
    checkFloat(tok);
    break;
  default:
    break;
  }
}

void TokenFilter::checkInt(const Token &tok) {
  std::string text = tokenText(src, &tok);
  int64_t v;
  auto res = std::from_chars(text.data(), text.data() + text.size(), v);
  if (res.ec != std::errc())
    diags.error(locOf(&tok),
                "integer literal " + quote(snippet(text)) + " is too large");
}

void TokenFilter::checkFloat(const Token &tok) {
  std::string text = tokenText(src, &tok);
  errno = 0;
  double v = std::strtod(text.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(v))
    diags.error(locOf(&tok), "floating-point literal " + quote(snippet(text)) +
                                 " is out of range");
}

void TokenFilter::checkString(const Token &tok) {
  std::string text = tokenText(src, &tok);
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] != '\\')
      continue;
    char c = text[i + 1];
    if (c != '"' && c != '\\' && c != 'n' && c != 't') {
      Loc loc = locOf(&tok);
      loc.col += i;
      diags.error(loc, "unknown escape sequence '\\" +
                           describeChar(text, i + 1) + "' in string literal");
    }
    ++i;
  }
}

//===----------------------------------------------------------------------===//
// Syntax error messages
//===----------------------------------------------------------------------===//

std::string describeTokenType(const antlr4::dfa::Vocabulary &vocab,
                              size_t t) {
  switch (t) {
  case Token::EOF:
    return "end of file";
  case BPLexer::NEWLINE:
    return "newline";
  case BPParser::STMT_IF:
    return "'if'";
  case BPLexer::ID:
    return "identifier";
  case BPLexer::INT:
    return "integer literal";
  case BPLexer::FLOAT:
    return "number";
  case BPLexer::STRING:
    return "string literal";
  default:
    return vocab.getLiteralName(t);
  }
}

/// The expected set in words: "expression", "')'", "',' or ')'"; empty when
/// the set is too large to say anything useful.
std::string describeExpected(const antlr4::dfa::Vocabulary &vocab,
                             const antlr4::misc::IntervalSet &set,
                             size_t ruleIndex, bool atEOF) {
  std::set<size_t> s;
  for (ssize_t t : set.toList())
    s.insert(size_t(t));
  auto has = [&](size_t t) { return s.count(t) != 0; };
  std::vector<std::string> parts;
  if (ruleIndex == BPParser::RuleType && has(BPLexer::ID))
    return "type";
  if (atEOF && has(BPLexer::RBRACE))
    return "'}'";
  if (has(BPLexer::INT) && has(BPLexer::ID) && has(BPLexer::LBRACK)) {
    parts.push_back(has(BPLexer::LET) ? "statement" : "expression");
    for (size_t t : std::initializer_list<size_t>{
             BPLexer::INT, BPLexer::FLOAT, BPLexer::STRING, BPLexer::ID,
          BPLexer::TRUE, BPLexer::FALSE, BPLexer::LPAREN, BPLexer::LBRACK,
          BPLexer::MINUS, BPLexer::PLUS, BPLexer::NOT, BPLexer::IF,
          BPLexer::LET, BPLexer::VAR, BPLexer::FOR, BPLexer::WHILE,
          BPLexer::RETURN, BPParser::STMT_IF})
      s.erase(t);
  }
  if (has(BPLexer::FN) && has(BPLexer::PARAM)) {
    parts.push_back("'fn', 'const', 'param' or 'train'");
    for (size_t t : std::initializer_list<size_t>{
             BPLexer::FN, BPLexer::CONST, BPLexer::PARAM, BPLexer::TRAIN,
             Token::EOF, BPLexer::NEWLINE, BPLexer::SEMI})
      s.erase(t);
  }
  // Operators and postfix brackets may follow any operand: listing them is
  // noise when something else is expected too.
  if (has(BPLexer::STAR) || has(BPLexer::ASSIGN)) {
    std::set<size_t> rest;
    for (size_t t : s)
      if (!isArithOrCompare(t) && t != BPLexer::CARET && t != BPLexer::AND &&
          t != BPLexer::OR && t != BPLexer::LPAREN && t != BPLexer::LBRACK &&
          (t < BPLexer::ASSIGN || t > BPLexer::DIV_ASSIGN))
        rest.insert(t);
    if (!rest.empty() || !parts.empty())
      s = rest;
  }
  // At the end of a statement: "expected newline", or at the end of the
  // file the missing closing brace.
  if (has(BPLexer::NEWLINE)) {
    s.erase(BPLexer::SEMI);
    s.erase(Token::EOF);
    if (atEOF && has(BPLexer::RBRACE))
      s.erase(BPLexer::NEWLINE);
    else
      s.erase(BPLexer::RBRACE);
  }
  // Closing brackets read best last: "',' or ')'".
  std::vector<size_t> order(s.begin(), s.end());
  std::stable_partition(order.begin(), order.end(), [](size_t t) {
    return t != BPLexer::RPAREN && t != BPLexer::RBRACK &&
           t != BPLexer::RBRACE;
  });
  for (size_t t : order)
    parts.push_back(describeTokenType(vocab, t));
  if (parts.empty() || parts.size() > 3)
    return {};
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i)
    out += (i + 1 == parts.size() ? " or " : ", ") + parts[i];
  return out;
}

/// Turns ANTLR's syntax errors into located diagnostics in our words.
class SyntaxErrorListener : public antlr4::BaseErrorListener {
public:
  SyntaxErrorListener(const std::string &src, DiagEngine &diags)
      : src(src), diags(diags) {}

  void syntaxError(antlr4::Recognizer *recognizer, Token *offending,
                   size_t line, size_t col, const std::string &msg,
                   std::exception_ptr e) override;

  unsigned count = 0;

private:
  std::string describeFound(const Token *t) const {
    if (!t || t->getType() == Token::EOF)
      return "end of file";
    if (t->getType() == BPLexer::NEWLINE)
      return "newline";
    return quote(snippet(tokenText(src, t)));
  }

  const std::string &src;
  DiagEngine &diags;
};

void SyntaxErrorListener::syntaxError(antlr4::Recognizer *recognizer,
                                      Token *offending, size_t line,
                                      size_t col, const std::string &msg,
                                      std::exception_ptr e) {
  ++count;
  Loc loc{uint32_t(line), uint32_t(col + 1)};
  auto *parser = dynamic_cast<antlr4::Parser *>(recognizer);
  if (!parser) { // the lexer has a catch-all rule; this is a fallback
    diags.error(loc, "unexpected character");
    return;
  }
  antlr4::misc::IntervalSet expected;
  bool atStart = true; // the expected set describes the offending token
  antlr4::RuleContext *ctx = parser->getContext();
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (antlr4::NoViableAltException &nv) {
      expected = nv.getExpectedTokens();
      ctx = nv.getCtx();
      atStart = nv.getStartToken() == nv.getOffendingToken();
    } catch (antlr4::RecognitionException &re) {
      expected = re.getExpectedTokens();
      ctx = re.getCtx();
    } catch (...) {
      atStart = false;
    }
  } else {
    // "extraneous input" and "missing X at Y" from the recovering strategy.
    expected = parser->getExpectedTokens();
  }
  size_t rule = ctx ? ctx->getRuleIndex() : INVALID_INDEX;
  std::string want =
      atStart ? describeExpected(parser->getVocabulary(), expected, rule,
                                 offending &&
                                     offending->getType() == Token::EOF)
              : std::string();
  if (want.empty())
    diags.error(loc, "unexpected " + describeFound(offending));
  else
    diags.error(loc,
                "expected " + want + " but found " + describeFound(offending));
}

//===----------------------------------------------------------------------===//
// Parse tree to AST
//===----------------------------------------------------------------------===//

/// Builds the AST of a parse tree without syntax errors (still null-safe).
/// Left-recursive chains (`a + b + c`, `f(x)(y)`, `x[i][j]`) are walked
/// iteratively; recursion otherwise follows bracket nesting, which the token
/// filter bounds.
class ASTBuilder {
public:
  ASTBuilder(const std::string &src, DiagEngine &diags)
      : src(src), diags(diags) {}

  std::unique_ptr<ast::Module> build(BPParser::ProgramContext *ctx);

private:
  void checkSeparated(antlr4::ParserRuleContext *ctx);
  ast::ItemPtr item(BPParser::ItemContext *ctx);
  std::optional<ast::TypeExpr> type(BPParser::TypeContext *ctx);
  ast::Block block(BPParser::BlockContext *ctx);
  ast::StmtPtr stmt(BPParser::StmtContext *ctx);
  ast::StmtPtr ifStmt(BPParser::IfStmtContext *ctx);
  ast::ExprPtr expr(BPParser::ExprContext *ctx);
  ast::ExprPtr prefix(BPParser::ExprContext *ctx);
  ast::ExprPtr postfix(BPParser::ExprContext *ctx, ast::ExprPtr base);
  ast::ExprPtr primary(BPParser::PrimaryContext *ctx);
  ast::ExprPtr ifExpr(BPParser::IfExprContext *ctx);
  ast::ExprPtr number(Token *tok, bool isInt);
  std::string unescape(const std::string &quoted);
  std::vector<ast::ExprPtr> exprs(const std::vector<BPParser::ExprContext *> &v,
                                  size_t from = 0);

  /// Adds `n` levels of AST depth; false (after reporting once) when that
  /// passes maxASTDepth. Pair with leave(n).
  bool enter(unsigned n, Loc loc, const char *what);
  void leave(unsigned n) { depth -= n; }

  ast::Binding binding(Token *t) {
    if (!t)
      return {};
    return {locOf(t), tokenText(src, t)};
  }
  Loc start(antlr4::ParserRuleContext *ctx) {
    return ctx ? locOf(ctx->getStart()) : Loc{};
  }

  const std::string &src;
  DiagEngine &diags;
  unsigned depth = 0;
  bool reportedDepth = false;
};

bool ASTBuilder::enter(unsigned n, Loc loc, const char *what) {
  depth += n;
  if (depth <= maxASTDepth)
    return true;
  if (!reportedDepth)
    diags.error(loc, std::string(what) + " (more than " +
                         std::to_string(maxASTDepth) + " nested levels)");
  reportedDepth = true;
  return false;
}

/// The grammar's `(item | NEWLINE | ';')*` loops also match two items or
/// statements in a row; they need a separator.
void ASTBuilder::checkSeparated(antlr4::ParserRuleContext *ctx) {
  bool afterNode = false;
  for (antlr4::tree::ParseTree *child : ctx->children) {
    auto *rule = dynamic_cast<antlr4::ParserRuleContext *>(child);
    if (!rule) {
      afterNode = false;
      continue;
    }
    if (afterNode)
      diags.error(locOf(rule->getStart()),
                  "expected newline but found " +
                      quote(snippet(tokenText(src, rule->getStart()))));
    afterNode = true;
  }
}

std::unique_ptr<ast::Module> ASTBuilder::build(BPParser::ProgramContext *ctx) {
  auto module = std::make_unique<ast::Module>();
  if (!ctx)
    return module;
  checkSeparated(ctx);
  for (auto *i : ctx->item())
    if (ast::ItemPtr it = item(i))
      module->items.push_back(std::move(it));
  return module;
}

ast::ItemPtr ASTBuilder::item(BPParser::ItemContext *ctx) {
  Loc loc = start(ctx);
  auto named = [&](ast::Item &it, Token *name) {
    ast::Binding b = binding(name);
    it.name = b.name;
    it.nameLoc = b.loc;
  };
  if (auto *c = dynamic_cast<BPParser::ConstItemContext *>(ctx)) {
    auto it = std::make_unique<ast::ConstItem>(loc);
    named(*it, c->name);
    it->value = expr(c->expr());
    return it;
  }
  if (auto *c = dynamic_cast<BPParser::ParamItemContext *>(ctx)) {
    auto it = std::make_unique<ast::ParamItem>(loc);
    named(*it, c->name);
    if (auto t = type(c->type()))
      it->type = std::move(*t);
    if (c->expr())
      it->init = expr(c->expr());
    return it;
  }
  if (auto *c = dynamic_cast<BPParser::FnItemContext *>(ctx)) {
    if (!c->fnSignature()) {
      auto it = std::make_unique<ast::DerivedFnItem>(loc);
      named(*it, c->name);
      it->value = expr(c->expr());
      return it;
    }
    auto *sig = c->fnSignature();
    auto it = std::make_unique<ast::FnItem>(loc);
    named(*it, c->name);
    for (auto *p : sig->fnParam()) {
      ast::FnParam param;
      param.name = binding(p->ID() ? p->ID()->getSymbol() : nullptr);
      if (auto t = type(p->type()))
        param.type = std::move(*t);
      it->params.push_back(std::move(param));
    }
    if (sig->type())
      it->result = type(sig->type());
    it->body = block(c->block());
    return it;
  }
  if (auto *c = dynamic_cast<BPParser::TrainItemContext *>(ctx)) {
    auto it = std::make_unique<ast::TrainItem>(loc);
    for (auto *f : c->trainField()) {
      ast::TrainField field;
      field.key = binding(f->ID() ? f->ID()->getSymbol() : nullptr);
      field.value = expr(f->expr());
      it->fields.push_back(std::move(field));
    }
    return it;
  }
  return nullptr;
}

std::optional<ast::TypeExpr> ASTBuilder::type(BPParser::TypeContext *ctx) {
  ast::TypeExpr t;
  t.loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::TupleTypeContext *>(ctx)) {
    t.kind = ast::TypeExpr::Tuple;
    for (auto *e : c->type())
      if (auto et = type(e))
        t.elems.push_back(std::move(*et));
    return t;
  }
  auto *c = dynamic_cast<BPParser::NamedTypeContext *>(ctx);
  if (!c || !c->ID())
    return std::nullopt;
  std::string name = tokenText(src, c->ID()->getSymbol());
  if (name == "f64") {
    t.kind = c->dim().empty() ? ast::TypeExpr::F64 : ast::TypeExpr::Tensor;
  } else if (name == "int" || name == "bool") {
    t.kind = name == "int" ? ast::TypeExpr::Int : ast::TypeExpr::Bool;
    if (!c->dim().empty())
      diags.error(t.loc, "tensor element type must be 'f64', not '" + name +
                             "'");
  } else {
    diags.error(t.loc, "unknown type '" + name + "'");
    return std::nullopt;
  }
  for (auto *d : c->dim()) {
    ast::Dim dim;
    dim.loc = start(d);
    if (d->INT()) {
      std::string text = tokenText(src, d->INT()->getSymbol());
      std::from_chars(text.data(), text.data() + text.size(), dim.value);
    } else if (d->ID()) {
      dim.name = tokenText(src, d->ID()->getSymbol());
    }
    t.dims.push_back(std::move(dim));
  }
  return t;
}

ast::Block ASTBuilder::block(BPParser::BlockContext *ctx) {
  ast::Block b;
  if (!ctx)
    return b;
  b.loc = locOf(ctx->getStart());
  b.endLoc = locOf(ctx->getStop());
  checkSeparated(ctx);
  for (auto *s : ctx->stmt())
    if (ast::StmtPtr st = stmt(s))
      b.stmts.push_back(std::move(st));
  return b;
}

ast::StmtPtr ASTBuilder::stmt(BPParser::StmtContext *ctx) {
  Loc loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::LetStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::LetStmt>(loc);
    s->isVar = c->kw && c->kw->getType() == BPLexer::VAR;
    s->isDestructure = c->LPAREN() != nullptr;
    for (auto *id : c->ID())
      s->names.push_back(binding(id->getSymbol()));
    if (c->type())
      s->type = type(c->type());
    s->init = expr(c->expr());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::IfStmtContext *>(ctx))
    return ifStmt(c);
  if (auto *c = dynamic_cast<BPParser::ForStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::ForStmt>(loc);
    s->var = binding(c->ID() ? c->ID()->getSymbol() : nullptr);
    auto e = c->expr();
    s->lo = e.size() > 0 ? expr(e[0]) : nullptr;
    s->hi = e.size() > 1 ? expr(e[1]) : nullptr;
    s->body = block(c->block());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::WhileStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::WhileStmt>(loc);
    s->cond = expr(c->expr());
    s->body = block(c->block());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::ReturnStmtContext *>(ctx)) {
    auto s = std::make_unique<ast::ReturnStmt>(loc);
    if (c->expr())
      s->value = expr(c->expr());
    return s;
  }
  if (auto *c = dynamic_cast<BPParser::ExprStmtContext *>(ctx)) {
    auto e = c->expr();
    if (!c->op)
      return std::make_unique<ast::ExprStmt>(
          loc, e.empty() ? nullptr : expr(e[0]));
    auto s = std::make_unique<ast::AssignStmt>(loc);
    switch (c->op->getType()) {
    case BPLexer::ADD_ASSIGN:
      s->op = ast::AssignOp::Add;
      break;
    case BPLexer::SUB_ASSIGN:
      s->op = ast::AssignOp::Sub;
      break;
    case BPLexer::MUL_ASSIGN:
      s->op = ast::AssignOp::Mul;
      break;
    case BPLexer::DIV_ASSIGN:
      s->op = ast::AssignOp::Div;
      break;
    default:
      s->op = ast::AssignOp::Set;
      break;
    }
    s->target = e.size() > 0 ? expr(e[0]) : nullptr;
    s->value = e.size() > 1 ? expr(e[1]) : nullptr;
    if (s->target && s->target->kind != ast::ExprKind::Name &&
        s->target->kind != ast::ExprKind::Index)
      diags.error(s->target->loc, "expression is not assignable");
    return s;
  }
  return nullptr;
}

/// `if c0 {b0} else if c1 {b1} ... else {bn}`: built from the last branch
/// backwards, each `else if` becoming an else block with one IfStmt.
ast::StmtPtr ASTBuilder::ifStmt(BPParser::IfStmtContext *ctx) {
  struct Branch {
    Token *ifTok;
    BPParser::ExprContext *cond;
    BPParser::BlockContext *body;
  };
  std::vector<Branch> branches{{ctx->getStart(), ctx->expr(), ctx->block()}};
  BPParser::BlockContext *last = nullptr; // the final `else { }`
  for (auto *e : ctx->elseClause()) {
    if (last) {
      diags.error(start(e), "'else' after the final 'else' branch");
      break;
    }
    if (e->IF())
      branches.push_back({e->IF()->getSymbol(), e->expr(), e->block()});
    else
      last = e->block();
  }
  unsigned n = unsigned(branches.size());
  if (!enter(n, start(ctx), "too many 'else if' branches")) {
    leave(n);
    return nullptr;
  }
  std::optional<ast::Block> elseBlock;
  if (last)
    elseBlock = block(last);
  BPParser::BlockContext *lastBody = last ? last : branches.back().body;
  Loc endLoc = lastBody ? locOf(lastBody->getStop()) : Loc{};
  std::unique_ptr<ast::IfStmt> s;
  for (size_t i = n; i-- > 0;) {
    s = std::make_unique<ast::IfStmt>(locOf(branches[i].ifTok));
    s->cond = expr(branches[i].cond);
    s->thenBlock = block(branches[i].body);
    s->elseBlock = std::move(elseBlock);
    if (i > 0) {
      elseBlock.emplace();
      elseBlock->loc = s->loc;
      elseBlock->endLoc = endLoc;
      elseBlock->stmts.push_back(std::move(s));
    }
  }
  leave(n);
  return s;
}

std::vector<ast::ExprPtr>
ASTBuilder::exprs(const std::vector<BPParser::ExprContext *> &v, size_t from) {
  std::vector<ast::ExprPtr> out;
  for (size_t i = from; i < v.size(); ++i)
    out.push_back(expr(v[i]));
  return out;
}

/// Walks down the left spine of left-recursive alternatives, builds the
/// innermost operand, then wraps it outwards: no recursion per chain link.
ast::ExprPtr ASTBuilder::expr(BPParser::ExprContext *ctx) {
  if (!ctx)
    return nullptr;
  std::vector<BPParser::ExprContext *> spine;
  BPParser::ExprContext *cur = ctx;
  for (;;) {
    BPParser::ExprContext *next = nullptr;
    if (auto *c = dynamic_cast<BPParser::BinaryExprContext *>(cur))
      next = c->expr().empty() ? nullptr : c->expr(0);
    else if (auto *c = dynamic_cast<BPParser::CallExprContext *>(cur))
      next = c->expr().empty() ? nullptr : c->expr(0);
    else if (auto *c = dynamic_cast<BPParser::IndexExprContext *>(cur))
      next = c->expr();
    else
      break;
    spine.push_back(cur);
    if (!next)
      return nullptr;
    cur = next;
  }
  unsigned n = unsigned(spine.size()) + 1;
  if (!enter(n, start(ctx), "expression too long")) {
    leave(n);
    return nullptr;
  }
  ast::ExprPtr e = prefix(cur);
  for (size_t i = spine.size(); i-- > 0;)
    e = postfix(spine[i], std::move(e));
  leave(n);
  return e;
}

ast::ExprPtr ASTBuilder::prefix(BPParser::ExprContext *ctx) {
  if (auto *c = dynamic_cast<BPParser::UnaryExprContext *>(ctx)) {
    ast::UnaryOp op = ast::UnaryOp::Neg;
    if (c->op && c->op->getType() == BPLexer::PLUS)
      op = ast::UnaryOp::Plus;
    else if (c->op && c->op->getType() == BPLexer::NOT)
      op = ast::UnaryOp::Not;
    return std::make_unique<ast::UnaryExpr>(start(ctx), op, expr(c->expr()));
  }
  if (auto *c = dynamic_cast<BPParser::PrimaryExprContext *>(ctx))
    return primary(c->primary());
  return nullptr;
}

ast::BinaryOp binaryOp(size_t tokenType) {
  switch (tokenType) {
  case BPLexer::PLUS:
    return ast::BinaryOp::Add;
  case BPLexer::MINUS:
    return ast::BinaryOp::Sub;
  case BPLexer::STAR:
    return ast::BinaryOp::Mul;
  case BPLexer::SLASH:
    return ast::BinaryOp::Div;
  case BPLexer::PERCENT:
    return ast::BinaryOp::Mod;
  case BPLexer::AT:
    return ast::BinaryOp::MatMul;
  case BPLexer::CARET:
    return ast::BinaryOp::Pow;
  case BPLexer::EQ:
    return ast::BinaryOp::Eq;
  case BPLexer::NE:
    return ast::BinaryOp::Ne;
  case BPLexer::LT:
    return ast::BinaryOp::Lt;
  case BPLexer::LE:
    return ast::BinaryOp::Le;
  case BPLexer::GT:
    return ast::BinaryOp::Gt;
  case BPLexer::GE:
    return ast::BinaryOp::Ge;
  case BPLexer::AND:
    return ast::BinaryOp::And;
  default:
    return ast::BinaryOp::Or;
  }
}

/// One link of a left spine, applied to the already built `base`.
ast::ExprPtr ASTBuilder::postfix(BPParser::ExprContext *ctx,
                                 ast::ExprPtr base) {
  Loc loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::BinaryExprContext *>(ctx)) {
    auto operands = c->expr();
    ast::ExprPtr rhs = operands.size() > 1 ? expr(operands[1]) : nullptr;
    auto e = std::make_unique<ast::BinaryExpr>(
        loc, binaryOp(c->op ? c->op->getType() : 0), std::move(base),
        std::move(rhs));
    e->opLoc = locOf(c->op);
    return e;
  }
  if (auto *c = dynamic_cast<BPParser::CallExprContext *>(ctx)) {
    auto e = std::make_unique<ast::CallExpr>(loc, std::move(base));
    e->args = exprs(c->expr(), 1);
    return e;
  }
  auto *c = static_cast<BPParser::IndexExprContext *>(ctx);
  auto e = std::make_unique<ast::IndexExpr>(loc, std::move(base));
  for (auto *a : c->indexArg()) {
    ast::IndexArg arg;
    arg.loc = start(a);
    arg.isSlice = a->colon != nullptr;
    if (arg.isSlice) {
      arg.lo = expr(a->lo);
      arg.hi = expr(a->hi);
    } else {
      arg.index = expr(a->lo);
    }
    e->indices.push_back(std::move(arg));
  }
  return e;
}

ast::ExprPtr ASTBuilder::primary(BPParser::PrimaryContext *ctx) {
  if (!ctx)
    return nullptr;
  Loc loc = start(ctx);
  if (auto *c = dynamic_cast<BPParser::IntLitContext *>(ctx))
    return number(c->getStart(), true);
  if (auto *c = dynamic_cast<BPParser::FloatLitContext *>(ctx))
    return number(c->getStart(), false);
  if (auto *c = dynamic_cast<BPParser::StringLitContext *>(ctx))
    return std::make_unique<ast::StringExpr>(
        loc, unescape(tokenText(src, c->getStart())));
  if (dynamic_cast<BPParser::BoolLitContext *>(ctx))
    return std::make_unique<ast::BoolExpr>(
        loc, ctx->getStart()->getType() == BPLexer::TRUE);
  if (dynamic_cast<BPParser::NameRefContext *>(ctx))
    return std::make_unique<ast::NameExpr>(loc,
                                           tokenText(src, ctx->getStart()));
  if (auto *c = dynamic_cast<BPParser::ParenExprContext *>(ctx)) {
    auto es = c->expr();
    if (es.size() == 1 && !c->trailing)
      return expr(es[0]);
    if (es.size() == 1) {
      diags.error(loc, "a tuple needs at least two elements");
      return nullptr;
    }
    auto e = std::make_unique<ast::TupleExpr>(loc);
    e->elems = exprs(es);
    return e;
  }
  if (auto *c = dynamic_cast<BPParser::TensorLitContext *>(ctx)) {
    auto e = std::make_unique<ast::TensorLitExpr>(loc);
    e->elems = exprs(c->expr());
    return e;
  }
  if (auto *c = dynamic_cast<BPParser::IfExprContext *>(ctx))
    return ifExpr(c);
  return nullptr;
}

/// `if c0 { e0 } else if c1 { e1 } else { e2 }` as nested IfExprs.
ast::ExprPtr ASTBuilder::ifExpr(BPParser::IfExprContext *ctx) {
  struct Branch {
    Token *ifTok;
    BPParser::ExprContext *cond, *value;
  };
  auto first = ctx->expr();
  if (first.size() != 2)
    return nullptr;
  std::vector<Branch> branches{{ctx->getStart(), first[0], first[1]}};
  BPParser::ExprContext *last = nullptr; // the final `else { e }`
  for (auto *e : ctx->elseExprClause()) {
    auto es = e->expr();
    if (last) {
      diags.error(start(e), "'else' after the final 'else' branch");
      return nullptr;
    }
    if (e->IF() && es.size() == 2)
      branches.push_back({e->IF()->getSymbol(), es[0], es[1]});
    else if (es.size() == 1)
      last = es[0];
  }
  if (!last) {
    diags.error(locOf(branches.back().ifTok),
                "if-expression requires an 'else' branch");
    return nullptr;
  }
  unsigned n = unsigned(branches.size());
  if (!enter(n, start(ctx), "too many 'else if' branches")) {
    leave(n);
    return nullptr;
  }
  ast::ExprPtr e = expr(last);
  for (size_t i = n; i-- > 0;) {
    auto ie = std::make_unique<ast::IfExpr>(locOf(branches[i].ifTok));
    ie->cond = expr(branches[i].cond);
    ie->thenExpr = expr(branches[i].value);
    ie->elseExpr = std::move(e);
    e = std::move(ie);
  }
  leave(n);
  return e;
}

ast::ExprPtr ASTBuilder::number(Token *tok, bool isInt) {
  auto e = std::make_unique<ast::NumberExpr>(locOf(tok));
  e->isInt = isInt;
  e->text = tokenText(src, tok);
  // Range errors were reported by the token filter.
  if (isInt)
    std::from_chars(e->text.data(), e->text.data() + e->text.size(),
                    e->intValue);
  else
    e->floatValue = std::strtod(e->text.c_str(), nullptr);
  return e;
}

std::string ASTBuilder::unescape(const std::string &quoted) {
  std::string out;
  size_t end = quoted.size();
  if (end >= 2 && quoted.back() == '"')
    --end;
  for (size_t i = 1; i < end; ++i) {
    char c = quoted[i];
    if (c == '\\' && i + 1 < end) {
      char n = quoted[++i];
      c = n == 'n' ? '\n' : n == 't' ? '\t' : n;
    }
    out += c;
  }
  return out;
}

std::unique_ptr<ast::Module> parseImpl(const SourceFile &file,
                                       DiagEngine &diags) {
  const std::string &src = file.text;
  if (src.size() > maxSourceBytes) {
    diags.error({1, 1}, "source file too large (more than " +
                            std::to_string(maxSourceBytes >> 20) + " MiB)");
    return nullptr;
  }
  ByteStream input(src);
  BPLexer lexer(&input);
  SyntaxErrorListener listener(src, diags);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&listener);

  std::vector<std::unique_ptr<Token>> tokens;
  TokenFilter filter(src, diags);
  if (!filter.run(lexer, tokens))
    return nullptr;

  antlr4::ListTokenSource source(std::move(tokens));
  antlr4::CommonTokenStream stream(&source);
  BPParser parser(&stream);
  parser.removeErrorListeners();
  auto *sim = parser.getInterpreter<antlr4::atn::ParserATNSimulator>();

  // Stage 1: SLL, stop at the first error. Valid programs nearly always
  // parse here, and fast.
  BPParser::ProgramContext *tree = nullptr;
  parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
  sim->setPredictionMode(antlr4::atn::PredictionMode::SLL);
  try {
    tree = parser.program();
  } catch (antlr4::ParseCancellationException &) {
    // Stage 2: full LL with error recovery, reporting every error.
    parser.reset();
    parser.addErrorListener(&listener);
    parser.setErrorHandler(std::make_shared<antlr4::DefaultErrorStrategy>());
    sim->setPredictionMode(antlr4::atn::PredictionMode::LL);
    tree = parser.program();
  }
  if (listener.count != 0)
    return nullptr;
  return ASTBuilder(src, diags).build(tree);
}

} // namespace

std::unique_ptr<ast::Module> parseModule(const SourceFile &file,
                                         DiagEngine &diags) {
  try {
    return parseImpl(file, diags);
  } catch (const std::exception &e) {
    diags.error({1, 1}, std::string("internal error in the parser: ") +
                            e.what());
  } catch (...) {
    diags.error({1, 1}, "internal error in the parser");
  }
  return nullptr;
}

} // namespace bp
