//===- ReplTerminal.cpp - `bpc repl`'s input loop ------------------------===//
//
// Reads inputs for a ReplSession: through libedit on a terminal (editing
// keys, history in ~/.bp_history or $BP_HISTORY, tab completion), plain
// lines from a pipe. An input is complete when ReplSession::needsMore says
// so (brackets closed, no trailing operator).
//
//===----------------------------------------------------------------------===//
#include "driver/Repl.h"

#include "jit/JIT.h"

#include <cstdlib>
#include <cstring>
#include <editline/readline.h>
#include <iostream>

namespace bp {

namespace {

ReplSession *completing = nullptr;

/// The input without leading and trailing blank lines (for the history).
std::string historyEntry(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

char *completionGenerator(const char *text, int state) {
  static std::vector<std::string> matches;
  static size_t next;
  if (state == 0) {
    matches =
        completing ? completing->completions(text) : std::vector<std::string>{};
    next = 0;
  }
  if (next >= matches.size())
    return nullptr;
  return strdup(matches[next++].c_str());
}

char **complete(const char *text, int, int) {
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, completionGenerator);
}

std::string historyPath() {
  if (const char *p = getenv("BP_HISTORY"))
    return p;
  if (const char *home = getenv("HOME"))
    return std::string(home) + "/.bp_history";
  return {};
}

} // namespace

ExitCode runRepl(const ReplOptions &o) {
  auto jitOr = JIT::create();
  if (!jitOr) {
    std::cerr << "bpc: error: cannot start the JIT: "
              << llvm::toString(jitOr.takeError()) << '\n';
    return ExitCode::Usage;
  }
  ReplSession session(o, **jitOr);
  std::string history = historyPath();
  if (o.lineEditing) {
    completing = &session;
    rl_attempted_completion_function = complete;
    static char breaks[] = " \t\n\"()[]{},;+-*/%@^=<>!";
    rl_completer_word_break_characters = breaks;
    stifle_history(1000);
    if (!history.empty())
      read_history(history.c_str());
    std::cout << "BP "
              << "repl: :help for commands, :quit or Ctrl-D to end\n";
  }
  auto readLine = [&](const char *prompt, std::string &out) {
    if (o.lineEditing) {
      char *l = readline(prompt);
      if (!l)
        return false;
      out = l;
      free(l);
      return true;
    }
    if (o.prompt) {
      std::cout << prompt;
      std::cout.flush();
    }
    if (!std::getline(std::cin, out))
      return false;
    if (!out.empty() && out.back() == '\r')
      out.pop_back();
    return true;
  };
  std::string buffer;
  uint32_t lineNo = 0, start = 0;
  while (!session.quitRequested()) {
    std::string line;
    if (!readLine(buffer.empty() ? "bp> " : "...> ", line)) {
      if (!buffer.empty())
        session.input(buffer, start);
      if (o.lineEditing || o.prompt)
        std::cout << '\n';
      break;
    }
    ++lineNo;
    if (buffer.empty())
      start = lineNo;
    buffer += line + "\n";
    if (ReplSession::needsMore(buffer))
      continue;
    if (o.lineEditing && !historyEntry(buffer).empty()) {
      add_history(historyEntry(buffer).c_str());
      if (!history.empty())
        write_history(history.c_str());
    }
    session.input(buffer, start);
    buffer.clear();
  }
  completing = nullptr;
  // A script (`bpc repl < file`) tells whether every input went through.
  return o.lineEditing ? ExitCode::Success : session.status();
}

} // namespace bp
