//===- Options.cpp - llvm::cl parsing in bpc's words ----------------------===//
#include "driver/Options.h"

#include "support/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

using namespace llvm;
using llvm::cl::Option;

namespace bp {
namespace {

/// The first problem a parser reported during CommandLine::parse.
std::string firstBadValue;

bool isHelp(StringRef arg) {
  return arg == "help" || arg == "-h" || arg == "--help" || arg == "-help";
}

/// A number that strtod reads completely.
bool readDouble(StringRef arg, double &value) {
  std::string s = arg.str();
  char *end = nullptr;
  value = std::strtod(s.c_str(), &end);
  return !s.empty() && !*end;
}

/// Decimal digits that getAsInteger refuses as T: they do not fit in T.
template <class T> bool overflows(StringRef arg) {
  T value;
  return !arg.empty() && llvm::all_of(arg, [](char c) { return isDigit(c); }) &&
         arg.getAsInteger(10, value);
}

/// A number strtod reads completely that is not finite (inf, nan, 1e999).
bool isNonFinite(StringRef arg) {
  double x;
  return readDouble(arg, x) && !std::isfinite(x);
}

/// A number strtod reads as 0 from a text that is not zero (1e-400).
bool underflows(StringRef arg) {
  double x;
  return readDouble(arg, x) && x == 0 &&
         arg.find_first_of("123456789") < arg.find_first_of("eEpP");
}

/// "a, b or c" (or "a, b and c").
std::string alternatives(ArrayRef<std::string> names,
                         const char *last = " or ") {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? last : ", ") + names[i];
  return s;
}

/// The option that `arg` (`--name`, `-name`, `--name=value`) names in `sub`.
Option *lookup(cl::SubCommand &sub, StringRef arg, StringRef &name) {
  name = arg.ltrim('-').split('=').first;
  return sub.OptionsMap.lookup(name);
}

bool visible(const Option *o) {
  return o->getOptionHiddenFlag() == cl::NotHidden && !o->isPositional();
}

/// The KINDs of `bpc emit`, in the order a usage error lists them.
struct EmitKind {
  const char *name;
  Action action;
};
constexpr EmitKind emitKinds[] = {
    {"ast", Action::Ast},   {"ir", Action::Ir},   {"adjoint", Action::Adjoint},
    {"llvm", Action::Llvm}, {"asm", Action::Asm}, {"dot", Action::Dot},
    {"tape", Action::Tape}};

} // namespace

Action emitAction(StringRef kind) {
  for (const EmitKind &k : emitKinds)
    if (kind == k.name)
      return k.action;
  llvm_unreachable("EmitKindParser accepts only the kinds of emitKinds");
}

void reportBadValue(std::string problem) {
  if (firstBadValue.empty())
    firstBadValue = std::move(problem);
}

std::string optionSpelling(StringRef name) {
  return (name.size() == 1 ? "-" : "--") + name.str();
}

bool DefineRule::read(StringRef arg, std::string &value) {
  value = arg.str();
  size_t eq = arg.find('=');
  return eq != StringRef::npos && eq != 0;
}

bool OptLevelRule::read(StringRef arg, unsigned &value) {
  if (arg.size() != 1 || arg[0] < '0' || arg[0] > '3')
    return false;
  value = arg[0] - '0';
  return true;
}

bool SeedRule::read(StringRef arg, unsigned long long &value) {
  return !arg.getAsInteger(10, value);
}

std::string SeedRule::outOfRange(StringRef arg) {
  return overflows<unsigned long long>(arg)
             ? "at most " + std::to_string(UINT64_MAX)
             : "";
}

bool PositiveIntRule::read(StringRef arg, long long &value) {
  return !arg.getAsInteger(10, value) && value >= 1;
}

std::string PositiveIntRule::outOfRange(StringRef arg) {
  return overflows<long long>(arg) ? "at most " + std::to_string(INT64_MAX)
                                   : "";
}

bool PositiveRealRule::read(StringRef arg, double &value) {
  return readDouble(arg, value) && std::isfinite(value) && value > 0;
}

std::string PositiveRealRule::outOfRange(StringRef arg) {
  return isNonFinite(arg) || underflows(arg) ? "a finite positive number" : "";
}

bool NonNegativeRealRule::read(StringRef arg, double &value) {
  return readDouble(arg, value) && value >= 0;
}

bool OptimizerRule::read(StringRef arg, std::string &value) {
  value = arg.str();
  return arg == "sgd" || arg == "momentum" || arg == "adam" || arg == "adamw";
}

bool ExplainModeRule::read(StringRef arg, std::string &value) {
  value = arg.str();
  return arg == "reverse" || arg == "forward" || arg == "both";
}

/// `name(a,b)` -> name and the arguments; false unless it has that form.
static bool splitCall(StringRef arg, StringRef &name,
                      SmallVectorImpl<StringRef> &args) {
  auto [n, rest] = arg.split('(');
  if (n.size() == arg.size() || !rest.consume_back(")"))
    return false;
  name = n.trim();
  rest.split(args, ',');
  for (StringRef &a : args)
    a = a.trim();
  return true;
}

bool ScheduleRule::read(StringRef arg, std::string &value) {
  value = arg.str();
  if (arg == "constant")
    return true;
  StringRef name;
  SmallVector<StringRef> args;
  long long n = 0;
  double gamma = 0;
  if (!splitCall(arg, name, args))
    return false;
  if (name == "step")
    return args.size() == 2 && !args[0].getAsInteger(10, n) && n >= 1 &&
           readDouble(args[1], gamma) && gamma > 0;
  return name == "cosine" && args.size() == 1 && !args[0].getAsInteger(10, n) &&
         n >= 0;
}

sema::TrainSpec::Schedule ScheduleRule::parse(StringRef arg) {
  sema::TrainSpec::Schedule s;
  StringRef name;
  SmallVector<StringRef> args;
  if (!splitCall(arg, name, args))
    return s; // constant
  long long n = 0;
  args[0].getAsInteger(10, n);
  if (name == "step") {
    s.kind = sema::TrainSpec::Schedule::Kind::Step;
    s.every = n;
    readDouble(args[1], s.gamma);
  } else {
    s.kind = sema::TrainSpec::Schedule::Kind::Cosine;
    s.warmup = n;
  }
  return s;
}

bool PrecisionRule::read(StringRef arg, unsigned &value) {
  if (arg == "full") {
    value = 0;
    return true;
  }
  return !arg.getAsInteger(10, value) && value >= 1 && value <= 17;
}

namespace {

/// `a=1,W=[[1, 2], [3, 4]]` split at the commas outside brackets (those
/// inside belong to a tensor literal).
SmallVector<StringRef> atItems(StringRef arg) {
  SmallVector<StringRef> items;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= arg.size(); ++i) {
    char c = i < arg.size() ? arg[i] : ',';
    if (c == '[')
      ++depth;
    else if (c == ']')
      --depth;
    else if (c == ',' && (depth <= 0 || i == arg.size())) {
      StringRef item = arg.slice(start, i).trim();
      if (!item.empty())
        items.push_back(item);
      start = i + 1;
    }
  }
  return items;
}

/// A BP tensor literal, `[[1, 2], [3, 4]]`: nested lists of finite
/// numbers, every list at one depth as long as the others.
class TensorLiteral {
public:
  explicit TensorLiteral(StringRef text) : s(text) {}

  /// The value, or an empty optional with `problem` set.
  std::optional<ir::TensorValue> parse() {
    ir::TensorValue v;
    if (!element(v.shape, v.data))
      return std::nullopt;
    space();
    if (pos < s.size()) {
      fail("unexpected '" + s.substr(pos).str() +
           "' after the literal's closing ']'");
      return std::nullopt;
    }
    return v;
  }

  std::string problem;

private:
  StringRef s;
  size_t pos = 0;

  void space() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t'))
      ++pos;
  }
  bool fail(std::string why) {
    if (problem.empty())
      problem = std::move(why);
    return false;
  }

  /// A number or a list; its shape into `shape`, its numbers appended.
  bool element(std::vector<int64_t> &shape, std::vector<double> &data) {
    space();
    if (pos >= s.size())
      return fail("the literal ends early (a '[' is not closed)");
    if (s[pos] != '[') {
      size_t end = s.find_first_of(",] \t[", pos);
      StringRef tok = s.slice(pos, end);
      double x;
      if (tok.empty() && s[pos] == ']')
        return fail("an empty list '[]' has no shape");
      if (tok.empty())
        return fail("a number is missing at '" + s.substr(pos).str() + "'");
      if (tok.contains('='))
        return fail("a '[' is not closed before '" + tok.str() + "'");
      if (!readDouble(tok, x) || !std::isfinite(x))
        return fail("'" + tok.str() + "' is not a finite number");
      pos = end == StringRef::npos ? s.size() : end;
      shape.clear();
      data.push_back(x);
      return true;
    }
    ++pos;
    std::vector<int64_t> first;
    int64_t n = 0;
    for (;; ++n) {
      std::vector<int64_t> sub;
      if (!element(sub, data))
        return false;
      if (n > 0 && sub != first)
        return fail("element " + std::to_string(n + 1) +
                    " of a list has another shape than the first "
                    "(every row needs the same length)");
      first = sub;
      space();
      if (pos < s.size() && s[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < s.size() && s[pos] == ']') {
        ++pos;
        break;
      }
      return fail(pos < s.size()
                      ? "expected ',' or ']' at '" + s.substr(pos).str() + "'"
                      : "the literal ends early (a '[' is not closed)");
    }
    shape = {n + 1};
    shape.insert(shape.end(), first.begin(), first.end());
    return true;
  }
};

/// What is wrong with the value of one `name=value` item, or "".
std::string atValueProblem(StringRef number) {
  double x;
  if (number.starts_with("[")) {
    TensorLiteral lit(number);
    return lit.parse() ? "" : lit.problem;
  }
  if (number.contains(']'))
    return "'" + number.str() + "' has a ']' without its '['";
  if (!readDouble(number, x))
    return "'" + number.str() + "' is not a number";
  return "";
}

} // namespace

bool AtRule::read(StringRef arg, std::string &value) {
  value = arg.str();
  for (StringRef item : atItems(arg)) {
    auto [name, number] = item.split('=');
    if (name.empty() || name.size() == item.size() || number.empty() ||
        !atValueProblem(number.trim()).empty() || isNonFinite(number))
      return false;
  }
  return true;
}

std::string AtRule::outOfRange(StringRef arg) {
  for (StringRef item : atItems(arg))
    if (isNonFinite(item.split('=').second))
      return "each value a finite number";
  return "";
}

std::string AtRule::problem(StringRef arg) {
  for (StringRef item : atItems(arg)) {
    auto [name, number] = item.split('=');
    if (name.size() == item.size())
      return "'" + item.str() + "' needs '=' and a value";
    if (name.empty())
      return "'" + item.str() + "' needs a name before '='";
    if (number.empty())
      return "'" + item.str() + "' needs a value after '='";
    std::string why = atValueProblem(number.trim());
    if (why.empty())
      continue;
    if (number.trim().starts_with("["))
      return "the value of '" + name.trim().str() +
             "' is not a tensor "
             "literal: " +
             why;
    return "'" + item.str() + "': " + why;
  }
  return "";
}

void AtRule::parse(StringRef arg, std::map<std::string, double> &out,
                   std::map<std::string, ir::TensorValue> &tensors) {
  for (StringRef item : atItems(arg)) {
    auto [name, number] = item.split('=');
    number = number.trim();
    if (number.starts_with("[")) {
      auto v = TensorLiteral(number).parse();
      assert(v && "AtRule::read accepted the literal");
      tensors[name.trim().str()] = *v;
      continue;
    }
    double x = 0;
    bool ok = readDouble(number, x);
    assert(ok && "AtRule::read accepted the value");
    (void)ok;
    out[name.trim().str()] = x;
  }
}

bool FlagRule::read(StringRef arg, bool &value) {
  value = true;
  return arg.empty();
}

bool PathRule::read(StringRef arg, std::string &value) {
  value = arg.str();
  return !arg.empty();
}

bool EmitKindParser::parse(Option &, StringRef, StringRef arg,
                           std::string &value) {
  value = arg.str();
  std::vector<std::string> kinds;
  for (const EmitKind &k : emitKinds) {
    if (arg == k.name)
      return false;
    kinds.push_back(k.name);
  }
  reportBadValue("unknown emit kind '" + arg.str() + "'" +
                 didYouMean(arg.str(), kinds) + " (expected " +
                 alternatives(kinds) + ")");
  return true;
}

//===----------------------------------------------------------------------===//

CommandLine::CommandLine(ArrayRef<cl::SubCommand *> commands,
                         ArrayRef<const cl::OptionCategory *> categories)
    : commands(commands), categories(categories) {
  // LLVM's own options (from the libraries bpc links) are top-level ones.
  cl::HideUnrelatedOptions(categories);
}

int CommandLine::usageError(const Twine &problem) const {
  errs() << "bpc: error: " << problem << "\nsee 'bpc "
         << (cmd ? cmd->getName() + " " : "") << "--help'\n";
  return (int)ExitCode::Usage;
}

std::string CommandLine::commandUsage(const cl::SubCommand &c) const {
  std::string s = c.getName().str();
  for (const Option *p : c.PositionalOpts)
    if (p->getOptionHiddenFlag() == cl::NotHidden)
      s += " " + p->HelpStr.str();
  return s;
}

/// An option the command does not have: unknown, or another command's.
std::string CommandLine::unknownOption(StringRef arg) const {
  StringRef name;
  std::vector<std::string> users;
  for (cl::SubCommand *c : commands)
    if (Option *o = lookup(*c, arg, name); o && visible(o))
      users.push_back(c->getName().str());
  std::string what = arg.split('=').first.str();
  if (!users.empty() && !cmd)
    return "option '" + what + "' before the command: options follow it " +
           "(bpc COMMAND [options] FILE)";
  if (!users.empty())
    return "option '" + what + "' is not used by 'bpc " + cmd->getName().str() +
           "' (only by " + alternatives(users, " and ") + ")";
  std::vector<std::string> spellings;
  if (cmd)
    for (const auto &entry : cmd->OptionsMap)
      if (visible(entry.second))
        spellings.push_back(optionSpelling(entry.first()));
  std::sort(spellings.begin(), spellings.end());
  return "unknown option '" + what + "'" + didYouMean(what, spellings);
}

std::optional<int> CommandLine::parse(int argc, char **argv) {
  if (argc < 2)
    return usageError("no command given");
  StringRef first = argv[1];
  if (isHelp(first)) {
    printHelp();
    return 0;
  }
  if (!first.starts_with("-")) {
    auto it = llvm::find_if(commands, [&](const cl::SubCommand *c) {
      return c->getName() == first;
    });
    if (it == commands.end()) {
      std::vector<std::string> names;
      for (const cl::SubCommand *c : commands)
        names.push_back(c->getName().str());
      return usageError("unknown command '" + first + "'" +
                        didYouMean(first.str(), names) + " (expected " +
                        alternatives(names) + ")");
    }
    cmd = *it;
  } else if (llvm::any_of(ArrayRef(argv + 1, argc - 1), isHelp)) {
    printHelp();
    return 0;
  }

  // Before llvm::cl sees them: an option without its value, which llvm::cl
  // reports to errs() in its own format, and LLVM's own (top-level) options,
  // which llvm::cl accepts after any command.
  cl::SubCommand &sub = cmd ? *cmd : cl::SubCommand::getTopLevel();
  for (int i = cmd ? 2 : 1; i < argc && StringRef(argv[i]) != "--"; ++i) {
    StringRef arg = argv[i], name;
    if (!arg.starts_with("-") || arg == "-")
      continue;
    if (Option *o = lookup(sub, arg, name)) {
      bool takesNext =
          o->getValueExpectedFlag() == cl::ValueRequired && !arg.contains('=');
      if (takesNext && i + 1 == argc)
        return usageError(optionSpelling(name) + " needs " + o->ValueStr);
      if (takesNext)
        ++i; // its value, whatever it looks like
    } else if (cmd && cl::getRegisteredOptions().count(name)) {
      return usageError(unknownOption(arg));
    }
  }

  std::string llvmErrors;
  raw_string_ostream errs(llvmErrors);
  firstBadValue.clear();
  bool ok = cl::ParseCommandLineOptions(argc, argv, "", &errs);
  if (!firstBadValue.empty())
    return usageError(firstBadValue);
  if (!ok) {
    // The first problem, e.g. "bpc: Unknown command line argument '--sed'.
    // Try: 'bpc run --help'" (with llvm::cl's did-you-mean on a second line,
    // whose nearest option may be far off: ours has a limit).
    StringRef line = StringRef(llvmErrors).split('\n').first;
    line.consume_front((sys::path::filename(argv[0]) + ": ").str());
    if (line.consume_front("Unknown command line argument '"))
      return usageError(unknownOption(line.split('\'').first));
    line = line.split("  Try:").first.rtrim(".!");
    if (line.empty())
      return usageError("cannot parse the command line");
    return usageError(line.substr(0, 1).lower() + line.substr(1));
  }
  if (!cmd)
    return usageError("no command given");
  return std::nullopt;
}

void CommandLine::printHelp() const {
  raw_ostream &os = outs();
  os << "OVERVIEW: bpc, the BP compiler (LANGUAGE.md section 9)\n\n"
        "USAGE: bpc COMMAND [options] FILE\n\nCOMMANDS:\n\n";
  size_t width = 0;
  for (const cl::SubCommand *c : commands)
    width = std::max(width, commandUsage(*c).size());
  for (const cl::SubCommand *c : commands) {
    std::string usage = commandUsage(*c);
    os << "  " << usage << std::string(width - usage.size(), ' ') << " - "
       << c->getDescription() << "\n";
  }
  os << "\n  'bpc COMMAND --help' lists the options that COMMAND takes.\n"
        "\nOPTIONS:\n";

  SetVector<Option *> options;
  for (cl::SubCommand *c : commands)
    for (const auto &entry : c->OptionsMap)
      if (visible(entry.second))
        options.insert(entry.second);
  std::vector<Option *> sorted(options.begin(), options.end());
  std::sort(sorted.begin(), sorted.end(), [](Option *a, Option *b) {
    return a->ArgStr.compare_insensitive(b->ArgStr) < 0;
  });
  StringMap<Option *> &top = cl::getRegisteredOptions();
  Option *generic[] = {top.lookup("help"), top.lookup("version")};
  width = 0;
  for (Option *o : sorted)
    width = std::max(width, o->getOptionWidth());
  for (Option *o : generic)
    if (o)
      width = std::max(width, o->getOptionWidth());
  for (const cl::OptionCategory *cat : categories) {
    os << "\n" << cat->getName() << ":\n\n";
    for (Option *o : sorted)
      if (llvm::is_contained(o->Categories, cat))
        o->printOptionInfo(width);
  }
  os << "\nGeneric Options:\n\n";
  for (Option *o : generic)
    if (o)
      o->printOptionInfo(width);
}

} // namespace bp
