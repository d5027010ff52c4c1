//===- runtime.cpp - BP's runtime library ---------------------------------===//
//
// Runtime errors end in stopAfterError, which may longjmp (guard.c) over
// every frame between it and the bp_guarded_call that runs the generated
// code. Invariant: no function on the way from generated code to
// stopAfterError holds an automatic object with a non-trivial destructor
// (std::string, std::vector) when it calls on: messages built from
// strings live in the thread's `errorText`, and parsers that need
// containers (bp_read_csv) return their error to a caller without any.
//
//===----------------------------------------------------------------------===//
#include "bp_csv.h"
#include "bp_runtime.h"
#include "guard.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace csv = bp::csv;

namespace {
bp_error_hook errorHook = nullptr;
int64_t tapePeak = 0;
/// Nested recursive calls of this thread (bp_recursion_enter).
thread_local int64_t recursionDepth = 0;
/// Bytes of this thread's arenas (tensor temporaries) in use.
thread_local int64_t arenaInUse = 0;
/// Recursion whose arenas hold more than this is stopped (bytes; -1: not
/// read from the environment yet).
int64_t arenaLimit = -1;
/// Before a runtime error leaves every BP frame of this thread (by the
/// guard's longjmp, the hook's, or exit): no recursion, no arena in use,
/// the buffers of the tapes not yet freed kept for reuse.
void abandonFrames();
/// The message of the runtime error being reported, when it had to be
/// built from strings: static storage, so no longjmp skips its destructor.
thread_local std::string errorText;

/// The end of every runtime error, after its message is printed: inside
/// bp_guarded_call, back there (1); otherwise the error hook, then exit
/// status 3. By the invariant above, no caller holds a C++ object that a
/// longjmp from here would fail to destroy.
[[noreturn]] void stopAfterError(const char *message) {
  abandonFrames();
  bp_guard_escape();
  if (errorHook)
    errorHook(message);
  // Threads (bpc train's) may fail at once: one of them exits, the others
  // wait for it (two concurrent exit() calls are undefined behaviour).
  static std::atomic<bool> exiting{false};
  if (exiting.exchange(true))
    for (;;)
      pause();
  exit(3);
}
} // namespace

namespace {

/// One row-major tensor as nested lists, each element by `print`
/// (bp_print_f64 or bp_print_i64).
template <class T, void (*print)(T)>
void printBlock(const T *&data, int64_t rank, const int64_t *shape) {
  fputc('[', stdout);
  for (int64_t i = 0; i < shape[0]; ++i) {
    if (i)
      fputs(", ", stdout);
    if (rank == 1)
      print(*data++);
    else
      printBlock<T, print>(data, rank - 1, shape + 1);
  }
  fputc(']', stdout);
}

} // namespace

extern "C" {

void bp_print_str(const char *s, int64_t len) {
  fwrite(s, 1, (size_t)len, stdout);
}

void bp_print_f64(double v) {
  if (std::isnan(v)) {
    fputs("nan", stdout);
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  fwrite(buf, 1, (size_t)(r.ptr - buf), stdout);
}

void bp_print_i64(int64_t v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  fwrite(buf, 1, (size_t)(r.ptr - buf), stdout);
}

void bp_print_bool(int32_t v) { fputs(v ? "true" : "false", stdout); }

void bp_print_tensor(const double *data, int64_t rank, const int64_t *shape) {
  printBlock<double, bp_print_f64>(data, rank, shape);
}

void bp_print_tensor_i64(const int64_t *data, int64_t rank,
                         const int64_t *shape) {
  printBlock<int64_t, bp_print_i64>(data, rank, shape);
}

void bp_set_error_hook(bp_error_hook hook) { errorHook = hook; }

volatile int32_t bp_interrupt_requested = 0;

void bp_runtime_error(const char *file, int32_t line, int32_t col,
                      const char *message) {
  fflush(stdout);
  fprintf(stderr, "%s:%d:%d: runtime error: %s\n", file, line, col, message);
  fflush(stderr);
  stopAfterError(message);
}

/// A runtime error without a source location (a bad environment variable,
/// a fault caught by the signal handler).
[[noreturn]] static void unlocatedError(const char *where,
                                        const char *message) {
  fflush(stdout);
  fprintf(stderr, "%s%sruntime error: %s\n", where, *where ? ": " : "",
          message);
  fflush(stderr);
  stopAfterError(message);
}

/// A positive integer from the environment variable `name` (times
/// `scale`), or `fallback` when it is not set.
static int64_t envLimit(const char *name, int64_t fallback, int64_t scale) {
  const char *v = getenv(name);
  if (!v)
    return fallback;
  char *end = nullptr;
  long long n = strtoll(v, &end, 10);
  if (!*v || *end || n <= 0 || n > INT64_MAX / scale) {
    errorText =
        std::string(name) + " must be a positive integer, found '" + v + "'";
    unlocatedError("", errorText.c_str());
  }
  return (int64_t)n * scale;
}

namespace {
int64_t recursionLimit = -1; // -1: not read from the environment yet
/// The lowest usable address of this thread's stack and how close to it a
/// recursive call may go (0: unknown, no check).
thread_local uintptr_t stackLow = 0, stackHigh = 0, stackMargin = 0;
thread_local bool stackKnown = false;

void findStack() {
  stackKnown = true;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return;
  void *addr = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr && size) {
    stackLow = (uintptr_t)addr;
    stackHigh = stackLow + size;
    // Room for the frames between two guarded calls (tensor temporaries up
    // to 128 KB each live on the stack).
    stackMargin = std::min<uintptr_t>(size / 8, (uintptr_t)2 << 20);
  }
  pthread_attr_destroy(&attr);
}
} // namespace

void bp_set_recursion_limit(int64_t calls) { recursionLimit = calls; }

void bp_recursion_enter(const char *file, int32_t line, int32_t col,
                        const char *fn) {
  if (recursionLimit < 0)
    recursionLimit = envLimit("BP_RECURSION_LIMIT", 1000000, 1);
  int64_t depth = ++recursionDepth;
  char msg[256];
  if (depth > recursionLimit) {
    snprintf(msg, sizeof msg,
             "recursion deeper than %lld calls in '%s' (set "
             "BP_RECURSION_LIMIT to allow more)",
             (long long)recursionLimit, fn);
    bp_runtime_error(file, line, col, msg);
  }
  if (arenaLimit < 0)
    arenaLimit = envLimit("BP_TEMPS_LIMIT_MB", (int64_t)4096 << 20, 1 << 20);
  if (arenaInUse > arenaLimit) {
    snprintf(msg, sizeof msg,
             "out of memory: recursion in '%s' is %lld calls deep and its "
             "tensor temporaries use more than %lld MB (set "
             "BP_TEMPS_LIMIT_MB to allow more)",
             fn, (long long)depth, (long long)(arenaLimit >> 20));
    bp_runtime_error(file, line, col, msg);
  }
  if (!stackKnown)
    findStack();
  // (Only on the thread's own stack: code running on another stack, a
  // coroutine's say, is not checked.)
  // The frame's address, not a local's: under AddressSanitizer's
  // detection of stack use after return, locals live on a heap-allocated
  // fake stack, outside [stackLow, stackHigh), and the check never ran
  // (the fuzzer's run target overflowed the stack instead; docs/FUZZING.md).
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  if (sp >= stackLow && sp < stackHigh && sp < stackLow + stackMargin) {
    snprintf(msg, sizeof msg,
             "stack overflow: recursion in '%s' is %lld calls deep and has "
             "used up the thread's stack",
             fn, (long long)depth);
    bp_runtime_error(file, line, col, msg);
  }
}

void bp_recursion_leave(void) { --recursionDepth; }

namespace {
const char *overflowFile = "";
thread_local char *altStack = nullptr;

void onSegv(int sig, siginfo_t *info, void *) {
  uintptr_t a = (uintptr_t)info->si_addr;
  // A fault just below the stack (its guard pages) or in its last margin.
  if (stackLow && a < stackLow + stackMargin &&
      a + ((uintptr_t)16 << 20) >= stackLow) {
    // The error may longjmp out of this handler (to bp_guarded_call, or
    // by the hook): unblock SIGSEGV first, or the next overflow on this
    // thread would kill the process instead of reaching the handler.
    sigset_t segv;
    sigemptyset(&segv);
    sigaddset(&segv, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &segv, nullptr);
    unlocatedError(overflowFile, "stack overflow (calls nested too deeply "
                                 "for the thread's stack)");
  }
  // Anything else is not ours: the default action, when the faulting
  // instruction runs again.
  signal(sig, SIG_DFL);
}
} // namespace

void bp_catch_stack_overflow(const char *file) {
  overflowFile = file ? file : "";
  if (!stackKnown)
    findStack();
  // An alternate stack already installed (by the host program, or by a
  // sanitizer runtime, which also frees it at thread exit) is kept.
  stack_t old{};
  bool haveOne = sigaltstack(nullptr, &old) == 0 &&
                 !(old.ss_flags & SS_DISABLE) && old.ss_size >= 16 * 1024;
  if (!altStack && !haveOne) {
    size_t size = std::max<size_t>(SIGSTKSZ, 64 * 1024);
    altStack = (char *)malloc(size);
    stack_t ss{};
    ss.ss_sp = altStack;
    ss.ss_size = size;
    if (!altStack || sigaltstack(&ss, nullptr) != 0)
      return;
  }
  struct sigaction sa {};
  sa.sa_sigaction = onSegv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
}

namespace {
/// Why readFile failed (compiler/support/FileIO.h reads the same way).
enum class ReadFailure { None, Open, NotRegular, TooLarge, Read };

/// Reads the regular file `path` into `out`, at most `limit` bytes: its
/// size is checked before reading and every read against the limit, and
/// opening never blocks (a FIFO is refused). `err` is errno for Open and
/// Read; after a Read failure, `out` holds the bytes before it.
ReadFailure readFile(const char *path, int64_t limit, std::string &out,
                     int &err) {
  out.clear();
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    err = errno;
    if (fd >= 0)
      close(fd);
    return ReadFailure::Open;
  }
  ReadFailure result = ReadFailure::None;
  if (!S_ISREG(st.st_mode))
    result = ReadFailure::NotRegular;
  else if (st.st_size > limit)
    result = ReadFailure::TooLarge;
  char buf[1 << 16];
  while (result == ReadFailure::None) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      err = errno;
      result = ReadFailure::Read;
    } else if (got == 0) {
      break;
    } else if ((int64_t)out.size() + got > limit) {
      result = ReadFailure::TooLarge;
    } else {
      out.append(buf, (size_t)got);
    }
  }
  close(fd);
  return result;
}

/// The size limit of data and params files: BP_DATA_LIMIT_MB megabytes,
/// else 1024 MB; -1 (after setting errorText) when it is not a positive
/// integer.
int64_t dataLimit() {
  const char *v = getenv("BP_DATA_LIMIT_MB");
  if (!v)
    return (int64_t)1024 << 20;
  char *end = nullptr;
  long long n = strtoll(v, &end, 10);
  if (!*v || *end || n <= 0 || n > INT64_MAX / (1 << 20)) {
    errorText = std::string("BP_DATA_LIMIT_MB must be a positive integer, "
                            "found '") +
                v + "'";
    return -1;
  }
  return (int64_t)n << 20;
}

/// readFile of a `what` ("data file", "params file") with the data limit;
/// false with the message in errorText. `line` is set to the line a read
/// error stopped at (0 when the file could not be opened or is refused).
bool readDataFile(const char *path, const char *what, std::string &text,
                  int64_t &line) {
  line = 0;
  int64_t limit = dataLimit();
  if (limit < 0)
    return false;
  int err = 0;
  char msg[1024];
  switch (readFile(path, limit, text, err)) {
  case ReadFailure::None:
    return true;
  case ReadFailure::Open:
    snprintf(msg, sizeof msg, "cannot open %s '%s'", what, path);
    break;
  case ReadFailure::NotRegular:
    snprintf(msg, sizeof msg, "'%s' is not a regular file", path);
    break;
  case ReadFailure::TooLarge:
    snprintf(msg, sizeof msg,
             "%s '%s' is larger than the limit of %lld MB (set "
             "BP_DATA_LIMIT_MB to allow more)",
             what, path, (long long)(limit >> 20));
    break;
  case ReadFailure::Read:
    line = std::count(text.begin(), text.end(), '\n') + 1;
    snprintf(msg, sizeof msg, "cannot read %s '%s': %s", what, path,
             strerror(err));
    break;
  }
  errorText = msg;
  return false;
}

/// The line and column (from 1, as csv::splitLines numbers the lines) of byte
/// `pos` of `text`.
void textPosition(const std::string &text, size_t pos, int64_t &line,
                  int64_t &col) {
  size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  line = 1;
  for (size_t i = start; i < pos; ++i) {
    if (text[i] != '\n' && text[i] != '\r')
      continue;
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
      ++i;
    ++line;
    start = i + 1;
  }
  col = (int64_t)(pos - start) + 1;
}

/// Where a read_csv error is reported (its message is in errorText).
struct CsvError {
  const char *file;
  int32_t line, col;
};

/// Reads the CSV file at `path` into dst; false on an error, described by
/// `err` (left at the read_csv call when the file cannot be read) and
/// errorText. Every container of the parse lives in here, so bp_read_csv
/// reports the error with none alive. The grammar is bp_csv.h's, the one
/// `bpc train` reads data files by.
bool readCsv(const char *path, double *dst, int64_t rows, int64_t cols,
             CsvError &err) {
  std::string contents;
  int64_t readLine;
  if (!readDataFile(path, "data file", contents, readLine)) {
    if (readLine)
      err = {path, (int32_t)readLine, 1};
    return false;
  }
  std::vector<std::vector<double>> data;
  int64_t lineNo = 0;
  auto fail = [&](int64_t l, int64_t c, const std::string &m) {
    errorText = m;
    err = {path, (int32_t)l, (int32_t)c};
    return false;
  };
  // A data file is text: a NUL byte is an error wherever it is, a header
  // line's included (a header is otherwise never read).
  if (size_t nul = contents.find('\0'); nul != std::string::npos) {
    int64_t l, c;
    textPosition(contents, nul, l, c);
    return fail(l, c, "unexpected NUL byte (a data file is text)");
  }
  std::vector<csv::Field> fields;
  std::string problem;
  bool first = true;
  for (std::string_view text : csv::splitLines(contents)) {
    ++lineNo;
    if (csv::isBlank(text))
      continue;
    csv::splitFields(text, fields);
    bool header = csv::isHeader(fields, first);
    first = false;
    if (header)
      continue;
    std::vector<double> row;
    for (const csv::Field &f : fields) {
      double v;
      if (!csv::fieldValue(f, v, problem))
        return fail(lineNo, f.col, problem);
      row.push_back(v);
    }
    data.push_back(row);
  }
  // A rank-1 tensor may be written as one row.
  if (cols == 1 && data.size() == 1 && (int64_t)data[0].size() == rows) {
    for (int64_t i = 0; i < rows; ++i)
      dst[i] = data[0][i];
    return true;
  }
  char msg[512];
  if ((int64_t)data.size() != rows) {
    snprintf(msg, sizeof msg,
             "'%s' has %lld data rows, the declared type needs %lld", path,
             (long long)data.size(), (long long)rows);
    errorText = msg;
    return false; // err: the caller's location, already set
  }
  int64_t k = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if ((int64_t)data[r].size() != cols) {
      snprintf(msg, sizeof msg,
               "data row %lld of '%s' has %lld columns, the declared type "
               "needs %lld",
               (long long)r + 1, path, (long long)data[r].size(),
               (long long)cols);
      errorText = msg;
      return false;
    }
    for (double v : data[r])
      dst[k++] = v;
  }
  return true;
}
} // namespace

void bp_read_csv(const char *path, double *dst, int64_t rows, int64_t cols,
                 const char *file, int32_t line, int32_t col) {
  CsvError err{file, line, col};
  // No C++ object is alive here (the invariant at the top of this file).
  if (!readCsv(path, dst, rows, cols, err))
    bp_runtime_error(err.file, err.line, err.col, errorText.c_str());
}

namespace {
/// bp_load_params_flags' parse: every value into `staged` (one vector per
/// table entry), then the check that each entry was set. An
/// error message into `msg`, prefixed `PATH:LINE: ` where it has a line.
bool parseParams(const bp_param_entry *table, int64_t count, const char *path,
                 int flags, std::vector<std::vector<double>> &staged,
                 std::string &msg) {
  auto fail = [&](int64_t line, const std::string &m, int64_t col = 0) {
    msg = std::string(path) + ":" + std::to_string(line) + ": " + m;
    if (col)
      msg = std::string(path) + ":" + std::to_string(line) + ":" +
            std::to_string(col) + ": " + m;
    return false;
  };
  std::string text;
  int64_t readLine;
  if (!readDataFile(path, "params file", text, readLine)) {
    msg = readLine ? std::string(path) + ":" + std::to_string(readLine) + ": " +
                         errorText
                   : errorText;
    return false;
  }
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    lines.push_back(
        text.substr(start, nl == std::string::npos ? nl : nl - start));
    if (nl == std::string::npos)
      break;
    start = nl + 1;
  }
  // A params file is text: sscanf and strtod would stop at a NUL byte and
  // the rest of its line would be dropped.
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find('\0') != std::string::npos)
      return fail((int64_t)i + 1,
                  "unexpected NUL byte (a params file is text)");
  staged.assign((size_t)count, {});
  std::vector<bool> isSet((size_t)count, false);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string &line = lines[i];
    if (line.empty() || line[0] == '#')
      continue;
    char name[256];
    int consumed = 0;
    if (sscanf(line.c_str(), "%255s%n", name, &consumed) != 1)
      continue;
    std::vector<int64_t> dims;
    const char *p = line.c_str() + consumed;
    char *end;
    for (long long d; (d = strtoll(p, &end, 10)), end != p; p = end)
      dims.push_back(d);
    while (*p == ' ' || *p == '\t' || *p == '\r')
      ++p;
    if (*p) // `W1 2 8 xyz`: a shape line is the name and its dims only
      return fail((int64_t)i + 1,
                  std::string("unexpected '") + p + "' after the shape of '" +
                      name + "' (a shape line is the name and its dims)",
                  p - line.c_str() + 1);
    int64_t k = 0;
    while (k < count && strcmp(table[k].name, name) != 0)
      ++k;
    if (k == count)
      return fail((int64_t)i + 1,
                  std::string("no param named '") + name + "' in this program");
    const bp_param_entry *e = &table[k];
    bool same = (int64_t)dims.size() == e->rank;
    for (int64_t r = 0; same && r < e->rank; ++r)
      same = dims[r] == e->dims[r];
    if (!same)
      return fail((int64_t)i + 1, std::string("param '") + name +
                                      "' has another shape in the program");
    if (i + 1 >= lines.size())
      return fail((int64_t)i + 1,
                  std::string("missing values of '") + name + "'");
    int64_t n = 1;
    for (int64_t r = 0; r < e->rank; ++r)
      n *= e->dims[r];
    std::vector<double> &values = staged[(size_t)k];
    values.clear();
    const char *v = lines[++i].c_str();
    while (true) {
      double x = strtod(v, &end);
      if (end == v)
        break;
      if ((int64_t)values.size() >= n)
        return fail((int64_t)i + 1,
                    std::string("too many values for '") + name + "'");
      if (!std::isfinite(x) && !(flags & BP_LOAD_ALLOW_NONFINITE)) {
        while (*v == ' ' || *v == '\t')
          ++v;
        return fail((int64_t)i + 1, "non-finite value '" +
                                        std::string(v, (const char *)end) +
                                        "' for '" + name + "'");
      }
      values.push_back(x);
      v = end;
    }
    while (*v == ' ' || *v == '\t' || *v == '\r')
      ++v;
    if (*v)
      return fail((int64_t)i + 1,
                  std::string("bad value '") + v + "' for '" + name + "'");
    if ((int64_t)values.size() != n)
      return fail((int64_t)i + 1, "'" + std::string(name) + "' needs " +
                                      std::to_string(n) + " values, found " +
                                      std::to_string(values.size()));
    isSet[(size_t)k] = true;
  }
  std::string missing;
  int64_t nMissing = 0;
  for (int64_t k = 0; k < count; ++k)
    if (!isSet[(size_t)k]) {
      missing += std::string(nMissing ? ", '" : "'") + table[k].name + "'";
      ++nMissing;
    }
  if (nMissing) {
    msg = std::string(path) + ": missing " +
          (nMissing == 1 ? "param " : "params ") + missing +
          " (the file sets no value for " + (nMissing == 1 ? "it" : "them") +
          ")";
    return false;
  }
  return true;
}
} // namespace

int bp_load_params_flags(const bp_param_entry *table, int64_t count,
                         const char *path, int flags, char *error,
                         int64_t error_size) {
  std::vector<std::vector<double>> staged;
  std::string msg;
  if (!parseParams(table, count, path, flags, staged, msg)) {
    if (error && error_size > 0)
      snprintf(error, (size_t)error_size, "%s", msg.c_str());
    return -1;
  }
  for (int64_t k = 0; k < count; ++k) // all or nothing: only now
    std::copy(staged[(size_t)k].begin(), staged[(size_t)k].end(),
              table[k].data);
  return 0;
}

int bp_load_params(const bp_param_entry *table, int64_t count, const char *path,
                   char *error, int64_t error_size) {
  return bp_load_params_flags(table, count, path, 0, error, error_size);
}

void bp_numerics_error(const char *file, int32_t line, int32_t col,
                       const char *op, double result, int64_t n, double a0,
                       double a1, double a2) {
  auto show = [](double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  };
  errorText = std::string("first non-finite value: '") + op + "' gave " +
              (std::isnan(result) ? "nan" : show(result)) + " from ";
  double a[3] = {a0, a1, a2};
  for (int64_t i = 0; i < n && i < 3; ++i)
    errorText += (i ? ", " : "") + show(a[i]);
  errorText += " (--check-numerics)";
  // Every temporary string is gone: only errorText, of static storage.
  bp_runtime_error(file, line, col, errorText.c_str());
}

void bp_index_error(const char *file, int32_t line, int32_t col, int64_t index,
                    int64_t axis, int64_t size) {
  char msg[160];
  snprintf(msg, sizeof msg,
           "index %lld is out of range for axis %lld of size %lld",
           (long long)index, (long long)axis, (long long)size);
  bp_runtime_error(file, line, col, msg);
}

void bp_window_error(const char *file, int32_t line, int32_t col, int64_t start,
                     int64_t len, int64_t axis, int64_t size) {
  char msg[200];
  snprintf(msg, sizeof msg,
           "slice %lld:%lld is out of range for axis %lld of size %lld",
           (long long)start, (long long)start + (long long)len, (long long)axis,
           (long long)size);
  bp_runtime_error(file, line, col, msg);
}

// Arenas are strictly nested (one per active call), so they come from a
// per-thread stack of reusable chunks: after the first call of a given
// depth, no call allocates from the system again.
namespace {
struct Chunk {
  char *base;
  size_t size, used;
};
/// Frees what the per-thread pools hold when the thread (or program) ends.
extern "C++" {
template <class T, class Free> struct Pool : std::vector<T> {
  ~Pool() {
    for (auto &x : *this)
      Free()(x);
  }
};
}
struct FreeChunk {
  void operator()(const Chunk &c) { free(c.base); }
};
thread_local Pool<Chunk, FreeChunk> chunks;
struct Live {
  size_t chunk, oldUsed, bytes;
};
thread_local std::vector<Live> live;
thread_local size_t current = 0;
int64_t systemAllocations = 0;
} // namespace

void *bp_arena_alloc(int64_t bytes) {
  size_t n = ((size_t)bytes + 63) / 64 * 64;
  for (; current < chunks.size(); ++current) {
    Chunk &c = chunks[current];
    if (c.size - c.used >= n) {
      live.push_back({current, c.used, n});
      arenaInUse += (int64_t)n;
      void *p = c.base + c.used;
      c.used += n;
      return p;
    }
  }
  size_t size = std::max(n, (size_t)4 << 20);
  void *base = aligned_alloc(64, size);
  if (!base) {
    char msg[128];
    snprintf(msg, sizeof msg,
             "out of memory (%lld bytes of tensor temporaries)",
             (long long)bytes);
    unlocatedError("", msg);
  }
  ++systemAllocations;
  chunks.push_back({(char *)base, size, n});
  current = chunks.size() - 1;
  live.push_back({current, 0, n});
  arenaInUse += (int64_t)n;
  return base;
}

void bp_arena_free(void *) {
  auto [chunk, used, bytes] = live.back();
  live.pop_back();
  arenaInUse -= (int64_t)bytes;
  chunks[chunk].used = used;
  current = chunk;
}

int64_t bp_arena_system_allocations(void) { return systemAllocations; }

void bp_tape_push_block(bp_tape *t, const double *data, int64_t n,
                        const char *file, int32_t line, int32_t col) {
  if (t->size + n > t->cap)
    bp_tape_reserve(t, n, file, line, col);
  memcpy(t->data + t->size, data, (size_t)n * 8);
  t->size += n;
}

void bp_tape_pop_block(bp_tape *t, double *dst, int64_t n) {
  t->size -= n;
  memcpy(dst, t->data + t->size, (size_t)n * 8);
}

// Freed tape buffers are kept per thread and handed to the next tape, so a
// derived function called in a loop allocates its tape once, not per call.
namespace {
struct FreeTape {
  void operator()(const std::pair<uint64_t *, int64_t> &t) { free(t.first); }
};
thread_local Pool<std::pair<uint64_t *, int64_t>, FreeTape> spareTapes;
/// The buffers (and capacities) of this thread's tapes that generated code
/// has not freed yet, innermost call last: when a runtime error abandons
/// their frames, they go to spareTapes instead of leaking.
thread_local std::vector<std::pair<uint64_t *, int64_t>> liveTapes;

/// The entry of liveTapes for `data` (searched from the innermost call).
std::pair<uint64_t *, int64_t> *liveTape(uint64_t *data) {
  for (size_t i = liveTapes.size(); i-- > 0;)
    if (liveTapes[i].first == data)
      return &liveTapes[i];
  return nullptr;
}

/// Keeps (up to 16) or frees a tape buffer no call uses any more.
void retireTape(uint64_t *data, int64_t cap) {
  if (spareTapes.size() < 16)
    spareTapes.push_back({data, cap});
  else
    free(data);
}
} // namespace

namespace {
int64_t tapeLimit = -1; // bytes; -1: not read from the environment yet

[[noreturn]] void tapeTooLarge(int64_t slots, const char *file, int32_t line,
                               int32_t col) {
  char msg[256];
  snprintf(msg, sizeof msg,
           "the gradient tape would need more than %lld MB (%lld values); "
           "set BP_TAPE_LIMIT_MB to allow more",
           (long long)(tapeLimit >> 20), (long long)slots);
  bp_runtime_error(file, line, col, msg);
  abort(); // not reached
}

/// Grows t to hold at least `need` slots: doubling, capped at the limit.
void growTo(bp_tape *t, int64_t need, const char *file, int32_t line,
            int32_t col) {
  if (tapeLimit < 0)
    tapeLimit = envLimit("BP_TAPE_LIMIT_MB", (int64_t)4096 << 20, 1 << 20);
  int64_t maxSlots = tapeLimit / 8;
  if (need > maxSlots || need < 0)
    tapeTooLarge(need < 0 ? INT64_MAX : need, file, line, col);
  int64_t cap = t->cap ? t->cap : 1024;
  while (cap < need)
    cap = cap > maxSlots / 2 ? maxSlots : cap * 2;
  void *p = realloc(t->data, (size_t)cap * sizeof(uint64_t));
  if (!p) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "out of memory growing the gradient tape to %lld bytes",
             (long long)cap * 8);
    bp_runtime_error(file, line, col, msg);
  }
  ++systemAllocations;
  if (auto *e = t->data ? liveTape(t->data) : nullptr)
    *e = {(uint64_t *)p, cap};
  else
    liveTapes.push_back({(uint64_t *)p, cap});
  t->data = (uint64_t *)p;
  t->cap = cap;
  if (cap * 8 > tapePeak)
    tapePeak = cap * 8;
}
} // namespace

void bp_set_tape_limit(int64_t bytes) { tapeLimit = bytes; }

void bp_tape_grow(bp_tape *t, const char *file, int32_t line, int32_t col) {
  if (!t->data && !spareTapes.empty()) {
    auto [data, cap] = spareTapes.back();
    spareTapes.pop_back();
    liveTapes.push_back({data, cap});
    t->data = data;
    t->cap = cap;
    return;
  }
  growTo(t, t->size + 1, file, line, col);
}

void bp_tape_reserve(bp_tape *t, int64_t n, const char *file, int32_t line,
                     int32_t col) {
  if (!t->data && !spareTapes.empty())
    bp_tape_grow(t, file, line, col);
  if (n > INT64_MAX - t->size)
    tapeTooLarge(INT64_MAX, file, line, col);
  if (t->size + n > t->cap)
    growTo(t, t->size + n, file, line, col);
}

void bp_tape_free(bp_tape *t) {
  if (t->data) {
    if (auto *e = liveTape(t->data))
      liveTapes.erase(liveTapes.begin() + (e - liveTapes.data()));
    retireTape(t->data, t->cap);
  }
  t->data = nullptr;
  t->size = t->cap = 0;
}

int64_t bp_tape_peak_bytes(void) { return tapePeak; }

void bp_runtime_unwound(void) { abandonFrames(); }
}

extern "C++" {
namespace {
void abandonFrames() {
  recursionDepth = 0;
  for (Chunk &c : chunks)
    c.used = 0;
  live.clear();
  current = 0;
  arenaInUse = 0;
  for (auto [data, cap] : liveTapes)
    retireTape(data, cap);
  liveTapes.clear();
}
} // namespace
}
