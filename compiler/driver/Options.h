//===- Options.h - llvm::cl parsing in bpc's words --------------*- C++ -*-===//
//
// What driver/main.cpp needs around its cl::SubCommand and cl::opt
// definitions (which stay there, the only statics of llvm::cl in bpc):
// value parsers that say what they expected, and CommandLine, which parses
// argv with llvm::cl, prints `bpc --help` from the registered commands and
// options, and turns every usage error into
//   bpc: error: PROBLEM
//   see 'bpc [COMMAND] --help'
// with exit status 2 (ExitCode::Usage).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "driver/Pipeline.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/CommandLine.h"

#include <map>
#include <optional>
#include <string>

namespace bp {

/// Records a bad option value found by a parser below. llvm::cl's parsers
/// can only report to errs(), in llvm::cl's format; ours record the
/// problem here, and CommandLine::parse reports the first one.
void reportBadValue(std::string problem);

/// `-D` for one-letter names, `--` for the others (as llvm::cl spells them).
std::string optionSpelling(llvm::StringRef name);

/// The parser of a cl::opt whose values Rule reads:
///   static bool read(llvm::StringRef arg, T &value);  // false: not valid
///   static constexpr const char *expected;            // what is valid
/// and, where the problem is not "needs EXPECTED", `verb` ("takes"); a rule
/// of numbers also has
///   static std::string outOfRange(llvm::StringRef arg);
/// which, for a number that read() refused because it does not fit (an
/// overflow, inf, nan), says what the range is: "--epochs 1e99 is out of
/// range (at most 9223372036854775807)". A rule of lists may have
///   static std::string problem(llvm::StringRef arg);
/// which says which part of a refused value is wrong: "--at x=1,y: 'y'
/// needs '=' and a value".
template <class Rule>
class Checked : public llvm::cl::parser<typename Rule::type> {
public:
  using llvm::cl::parser<typename Rule::type>::parser;
  bool parse(llvm::cl::Option &, llvm::StringRef name, llvm::StringRef arg,
             typename Rule::type &value) {
    if (Rule::read(arg, value))
      return false;
    if constexpr (requires { Rule::outOfRange(arg); }) {
      if (std::string range = Rule::outOfRange(arg); !range.empty()) {
        reportBadValue(optionSpelling(name) + " " + arg.str() +
                       " is out of range (" + range + ")");
        return true;
      }
    }
    if constexpr (requires { Rule::problem(arg); }) {
      if (std::string problem = Rule::problem(arg); !problem.empty()) {
        reportBadValue(optionSpelling(name) + " " + arg.str() + ": " + problem);
        return true;
      }
    }
    std::string verb = "needs";
    if constexpr (requires { Rule::verb; })
      verb = Rule::verb;
    reportBadValue(optionSpelling(name) + " " + verb + " " + Rule::expected +
                   ", found '" + arg.str() + "'");
    return true;
  }
};

struct DefineRule { // -D NAME=VALUE
  using type = std::string;
  static constexpr const char *expected = "NAME=VALUE";
  static bool read(llvm::StringRef arg, std::string &value);
};
struct OptLevelRule { // -O0 .. -O3
  using type = unsigned;
  static constexpr const char *expected = "0, 1, 2 or 3 (-O0 .. -O3)";
  static bool read(llvm::StringRef arg, unsigned &value);
};
// (parser<uint64_t> and parser<int64_t> are final: the long long ones.)
struct SeedRule {
  using type = unsigned long long;
  static constexpr const char *expected = "a non-negative integer";
  static bool read(llvm::StringRef arg, unsigned long long &value);
  static std::string outOfRange(llvm::StringRef arg);
};
struct PositiveIntRule {
  using type = long long;
  static constexpr const char *expected = "a positive integer";
  static bool read(llvm::StringRef arg, long long &value);
  static std::string outOfRange(llvm::StringRef arg);
};
/// Finite and positive: inf, nan, 1e999 (overflow) and 1e-400 (underflow to
/// 0) are out of range.
struct PositiveRealRule {
  using type = double;
  static constexpr const char *expected = "a positive number";
  static bool read(llvm::StringRef arg, double &value);
  static std::string outOfRange(llvm::StringRef arg);
};
struct NonNegativeRealRule {
  using type = double;
  static constexpr const char *expected = "a number >= 0";
  static bool read(llvm::StringRef arg, double &value);
};
struct OptimizerRule {
  using type = std::string;
  static constexpr const char *expected = "sgd, momentum, adam or adamw";
  static bool read(llvm::StringRef arg, std::string &value);
};
struct ExplainModeRule { // explain --mode reverse | forward | both
  using type = std::string;
  static constexpr const char *expected = "reverse, forward or both";
  static bool read(llvm::StringRef arg, std::string &value);
};
struct ScheduleRule { // --schedule step(10,0.5) | cosine(5) | constant
  using type = std::string;
  static constexpr const char *expected =
      "step(EVERY,GAMMA) with an int EVERY >= 1 and GAMMA > 0, cosine(WARMUP) "
      "with an int WARMUP >= 0, or constant";
  static bool read(llvm::StringRef arg, std::string &value);
  /// The schedule of a value that read() accepted.
  static sema::TrainSpec::Schedule parse(llvm::StringRef arg);
};
struct AtRule { // --at a=1,b=2,W=[[1, 2], [3, 4]], each value finite
  using type = std::string;
  static constexpr const char *expected = "name=value,...";
  static bool read(llvm::StringRef arg, std::string &value);
  static std::string outOfRange(llvm::StringRef arg);
  static std::string problem(llvm::StringRef arg);
  /// The points of a value that read() accepted: numbers to `out`,
  /// tensor literals (`W=[[1, 2], [3, 4]]`) to `tensors`.
  static void parse(llvm::StringRef arg, std::map<std::string, double> &out,
                    std::map<std::string, ir::TensorValue> &tensors);
};
struct PrecisionRule { // --precision full | 1..17 (significant digits)
  using type = unsigned;
  static constexpr const char *expected =
      "full or a number of significant digits from 1 to 17";
  static bool read(llvm::StringRef arg, unsigned &value); // full: 0
};
/// A flag (`--svg`) takes no value: `--svg=1` is a usage error.
struct FlagRule {
  using type = bool;
  static constexpr const char *verb = "takes";
  static constexpr const char *expected = "no value";
  static bool read(llvm::StringRef arg, bool &value);
};

/// A path (`--save`, `--data`, `-o`, ...): an empty one is a usage error, not
/// "no file" (which would silently skip the save) or a crash.
struct PathRule {
  using type = std::string;
  static constexpr const char *expected = "a path";
  static bool read(llvm::StringRef arg, std::string &value);
};
/// A name (`--fn`, `--loss`, `--target`, `--prefix`, ...): never empty.
struct NameRule : PathRule {
  static constexpr const char *expected = "a name";
};

/// `bpc emit KIND`: an unknown KIND gets a did-you-mean over the kinds.
class EmitKindParser : public llvm::cl::parser<std::string> {
public:
  using llvm::cl::parser<std::string>::parser;
  bool parse(llvm::cl::Option &o, llvm::StringRef name, llvm::StringRef arg,
             std::string &value);
};
/// Where `bpc emit KIND` stops, for a KIND that EmitKindParser accepted.
Action emitAction(llvm::StringRef kind);

class CommandLine {
public:
  /// `commands` in the order the help lists them; `categories` those of
  /// bpc's options (LLVM's own options are hidden).
  CommandLine(llvm::ArrayRef<llvm::cl::SubCommand *> commands,
              llvm::ArrayRef<const llvm::cl::OptionCategory *> categories);

  /// Parses argv into the cl::opts. Returns the exit status when bpc is
  /// done already (help printed, usage error reported), else nullopt and
  /// command() is the command given.
  std::optional<int> parse(int argc, char **argv);

  llvm::cl::SubCommand *command() const { return cmd; }

  /// Prints PROBLEM and where to look; returns ExitCode::Usage.
  int usageError(const llvm::Twine &problem) const;

  /// `bpc --help`: every command and every option, by category.
  void printHelp() const;

private:
  std::string unknownOption(llvm::StringRef arg) const;
  std::string commandUsage(const llvm::cl::SubCommand &c) const;

  llvm::ArrayRef<llvm::cl::SubCommand *> commands;
  llvm::ArrayRef<const llvm::cl::OptionCategory *> categories;
  llvm::cl::SubCommand *cmd = nullptr;
};

} // namespace bp
