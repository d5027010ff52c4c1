//===- ReplTerminal.cpp - `bpc repl`'s input loop ------------------------===//
//
// Reads inputs for a ReplSession: through libedit on a terminal (editing
// keys, history in ~/.bp_history or $BP_HISTORY, tab completion), plain
// lines from a pipe. An input is complete when ReplSession::needsMore says
// so (brackets closed, no trailing operator).
//
// Ctrl-C on a terminal (docs/REPL.md): the SIGINT handler only sets the
// runtime's bp_interrupt_requested and writes a byte to a pipe. At the
// prompt, libedit reads keys through interruptibleGetc, which waits on the
// terminal and that pipe at once (whichever thread the kernel delivered
// the signal to), so Ctrl-C ends the line being typed and the loop drops
// it. While an input runs, its loops see the flag and stop with the
// runtime error `interrupted`, which returns to the prompt like any
// runtime error; the session keeps its definitions.
//
//===----------------------------------------------------------------------===//
#include "driver/Repl.h"

#include "jit/JIT.h"

#include "bp_runtime.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <editline/readline.h>
#include <fcntl.h>
#include <iostream>
#include <poll.h>
#include <unistd.h>

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

int interruptPipe[2] = {-1, -1};
bool promptInterrupted = false;

void onInterrupt(int) {
  int saved = errno;
  bp_interrupt_requested = 1;
  char byte = 0;
  [[maybe_unused]] ssize_t n = write(interruptPipe[1], &byte, 1);
  errno = saved;
}

/// Empties the pipe and clears the flag: a Ctrl-C already acted on (or
/// pressed while nothing could act on it) does not carry over.
void clearInterrupt() {
  char bytes[64];
  while (read(interruptPipe[0], bytes, sizeof bytes) > 0) {
  }
  bp_interrupt_requested = 0;
}

/// libedit's key reader: the next byte of the terminal, EOF at its end, or
/// a newline that ends the line when Ctrl-C comes first.
int interruptibleGetc(FILE *in) {
  int fd = fileno(in);
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {interruptPipe[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return EOF;
    }
    if (fds[1].revents & POLLIN) {
      clearInterrupt();
      promptInterrupted = true;
      return '\n';
    }
    unsigned char c;
    ssize_t n = read(fd, &c, 1);
    if (n == 1)
      return c;
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    return EOF;
  }
}

/// Ctrl-C handling for a terminal session; false (Ctrl-C keeps its default
/// action) when the pipe or handler cannot be set up.
bool catchInterrupts() {
  if (pipe2(interruptPipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return false;
  struct sigaction sa = {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGINT, &sa, nullptr) != 0)
    return false;
  rl_catch_signals = 0; // libedit would reset SIGINT and re-raise it
  rl_getc_function = interruptibleGetc;
  return true;
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
  bool interrupts = o.lineEditing && catchInterrupts();
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
    if (interrupts)
      clearInterrupt();
    bool got = readLine(buffer.empty() ? "bp> " : "...> ", line);
    if (interrupts && promptInterrupted) {
      // Ctrl-C at the prompt: the line (and an unfinished input) is dropped.
      promptInterrupted = false;
      buffer.clear();
      continue;
    }
    if (!got) {
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
