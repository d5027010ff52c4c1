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
//   4. build the AST from the parse tree (ASTBuilder.cpp), only when the
//      parse had no syntax error.
//
//===----------------------------------------------------------------------===//
#include "parse/Parser.h"
#include "parse/ASTBuilder.h"

#include "BPLexer.h"

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
using namespace parse_detail;

/// The character at byte `i`: a whole UTF-8 sequence when it is one, else
/// the byte as `\xNN`.
std::string describeChar(const std::string &src, size_t i) {
  unsigned char c = src[i];
  size_t len = c < 0x80         ? 1
               : (c >> 5) == 6  ? 2
               : (c >> 4) == 14 ? 3
               : (c >> 3) == 30 ? 4
                                : 0;
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
  case BPLexer::ADJOINT:
  case BPLexer::TANGENT:
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

/// Applies the newline rules (see grammar/BP.g4), tells statement `if`s from
/// if-expressions, and checks nesting and single tokens. The
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
  static size_t openerOf(size_t closer) {
    return closer == BPLexer::RPAREN   ? BPLexer::LPAREN
           : closer == BPLexer::RBRACK ? BPLexer::LBRACK
                                       : BPLexer::LBRACE;
  }
  void popFrame() {
    depth -= 1 + frames.back().arith + frames.back().logic;
    frames.pop_back();
  }
  void unwindTo(size_t closer);
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
  // Ends the last statement or item before `at` ('}' of a block, end of
  // file) with a NEWLINE that has `at`'s position and no text.
  auto endStatement = [&](const Token &at) {
    if (out.empty())
      return;
    size_t last = out.back()->getType();
    if (last == BPLexer::NEWLINE || last == BPLexer::SEMI ||
        last == BPLexer::LBRACE)
      return;
    // The token source matters: ANTLR's error recovery builds its
    // "missing" tokens from the current token's source.
    auto nl = std::make_unique<antlr4::CommonToken>(
        std::make_pair(at.getTokenSource(), at.getInputStream()),
        BPLexer::NEWLINE, Token::DEFAULT_CHANNEL, at.getStartIndex(),
        at.getStopIndex());
    nl->setLine(at.getLine());
    nl->setCharPositionInLine(at.getCharPositionInLine());
    out.push_back(std::move(nl));
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
      endStatement(*tok);
      out.push_back(std::move(tok));
      return true;
    }
    if (type == BPLexer::ERROR_CHAR) {
      // One message per run of bad characters (binary input, a UTF-8
      // sequence outside a string).
      size_t start = tok->getStartIndex();
      if (lastBadStop == INVALID_INDEX || start != lastBadStop + 1)
        diags.error(locOf(tok.get()),
                    "unexpected character " + quote(describeChar(src, start)));
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
    if (type == BPLexer::RPAREN || type == BPLexer::RBRACK ||
        type == BPLexer::RBRACE)
      unwindTo(type);
    if (type == BPLexer::RBRACE && frames.back().open == BPLexer::LBRACE &&
        frames.back().isBlock)
      endStatement(*tok);
    else if (type == BPLexer::RBRACE || type == BPLexer::ELSE)
      dropNewline();
    size_t prevType = out.empty() ? 0 : out.back()->getType();
    if (!account(*tok, prevType))
      return false;
    out.push_back(std::move(tok));
  }
}

/// Error recovery for unbalanced input: a closing bracket also closes the
/// brackets left open inside its match (`f(a[1)`, `{ g(x }`), so that the
/// frames stay in step with the parser's view of blocks. `)` and `]` never
/// reach past a '{'.
void TokenFilter::unwindTo(size_t closer) {
  size_t opener = openerOf(closer);
  for (size_t i = frames.size(); i-- > 1;) {
    if (frames[i].open == opener) {
      while (frames.size() > i + 1)
        popFrame();
      return;
    }
    if (frames[i].open == BPLexer::LBRACE)
      return;
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
  case BPLexer::ADJOINT:
  case BPLexer::TANGENT:
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
    if (frames.back().open == openerOf(type))
      popFrame();
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
                                 std::to_string(maxNestingDepth) + " levels)");
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

std::string describeTokenType(const antlr4::dfa::Vocabulary &vocab, size_t t) {
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
             BPLexer::ADJOINT, BPLexer::TANGENT, BPLexer::IMPORT, Token::EOF,
             BPLexer::NEWLINE, BPLexer::SEMI})
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
    return t != BPLexer::RPAREN && t != BPLexer::RBRACK && t != BPLexer::RBRACE;
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
    if (t->getType() == BPLexer::NEWLINE && t->getStartIndex() >= src.size())
      return "end of file";
    std::string text = tokenText(src, t);
    if (t->getType() == BPLexer::NEWLINE) {
      // The filter's NEWLINEs have the text of the token they precede.
      if (text != "\n" && text != "\r\n")
        return quote(snippet(text));
      return "newline";
    }
    return quote(snippet(text));
  }

  const std::string &src;
  DiagEngine &diags;
};

void SyntaxErrorListener::syntaxError(antlr4::Recognizer *recognizer,
                                      Token *offending, size_t line, size_t col,
                                      const std::string &msg,
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
      atStart
          ? describeExpected(parser->getVocabulary(), expected, rule,
                             offending && offending->getType() == Token::EOF)
          : std::string();
  if (want.empty())
    diags.error(loc, "unexpected " + describeFound(offending));
  else
    diags.error(loc,
                "expected " + want + " but found " + describeFound(offending));
}

std::unique_ptr<ast::Module> parseImpl(const SourceFile &file,
                                       DiagEngine &diags, uint32_t firstLine) {
  // A UTF-8 byte order mark at the start (editors on Windows write one) is
  // not part of the program: lexed without it, line 1's columns count from
  // the first character after it, as an editor shows them.
  std::string withoutBom;
  bool bom = file.text.compare(0, 3, "\xEF\xBB\xBF") == 0;
  if (bom)
    withoutBom = file.text.substr(3);
  const std::string &src = bom ? withoutBom : file.text;
  if (src.size() > maxSourceBytes) {
    diags.error({firstLine, 1}, "source file too large (more than " +
                                    std::to_string(maxSourceBytes >> 20) +
                                    " MiB)");
    return nullptr;
  }
  ByteStream input(src);
  BPLexer lexer(&input);
  lexer.setLine(firstLine); // every token, so every Loc, counts from here
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
  return buildAST(tree, src, diags);
}

} // namespace

std::unique_ptr<ast::Module>
parseModule(const SourceFile &file, DiagEngine &diags, uint32_t firstLine) {
  try {
    return parseImpl(file, diags, firstLine);
  } catch (const std::exception &e) {
    diags.error({firstLine, 1},
                std::string("internal error in the parser: ") + e.what());
  } catch (...) {
    diags.error({firstLine, 1}, "internal error in the parser");
  }
  return nullptr;
}

} // namespace bp
