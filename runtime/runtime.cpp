//===- runtime.cpp - BP's runtime library ---------------------------------===//
#include "bp_runtime.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {
bp_error_hook errorHook = nullptr;
int64_t tapePeak = 0;
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

static void printBlock(const double *&data, int64_t rank,
                       const int64_t *shape) {
  fputc('[', stdout);
  for (int64_t i = 0; i < shape[0]; ++i) {
    if (i)
      fputs(", ", stdout);
    if (rank == 1)
      bp_print_f64(*data++);
    else
      printBlock(data, rank - 1, shape + 1);
  }
  fputc(']', stdout);
}

void bp_print_tensor(const double *data, int64_t rank, const int64_t *shape) {
  printBlock(data, rank, shape);
}

// Reflection for x < 0.5 (digamma(1-x) - pi*cot(pi*x)), recurrence up to
// x >= 16, then the asymptotic series (Abramowitz & Stegun 6.3.18, 6.4.12):
// accurate to about 5e-15.
double bp_digamma(double x) {
  if (std::isnan(x))
    return x;
  if (x <= 0 && x == std::floor(x))
    return NAN; // poles
  if (x < 0.5)
    return bp_digamma(1 - x) - M_PI / std::tan(M_PI * x);
  double r = 0;
  while (x < 16) {
    r -= 1 / x;
    x += 1;
  }
  double f = 1 / (x * x);
  return r + std::log(x) - 0.5 / x -
         f * (1.0 / 12 -
              f * (1.0 / 120 -
                   f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
}

double bp_trigamma(double x) {
  if (std::isnan(x))
    return x;
  if (x <= 0 && x == std::floor(x))
    return INFINITY;
  if (x < 0.5) {
    double s = std::sin(M_PI * x);
    return -bp_trigamma(1 - x) + M_PI * M_PI / (s * s);
  }
  double r = 0;
  while (x < 16) {
    r += 1 / (x * x);
    x += 1;
  }
  double f = 1 / (x * x);
  return r + 1 / x + f / 2 +
         f / x *
             (1.0 / 6 -
              f * (1.0 / 30 - f * (1.0 / 42 - f * (1.0 / 30 - f * 5.0 / 66))));
}

void bp_set_error_hook(bp_error_hook hook) { errorHook = hook; }

void bp_runtime_error(const char *file, int32_t line, int32_t col,
                      const char *message) {
  fflush(stdout);
  fprintf(stderr, "%s:%d:%d: runtime error: %s\n", file, line, col, message);
  fflush(stderr);
  if (errorHook)
    errorHook(message);
  exit(3);
}

void bp_read_csv(const char *path, double *dst, int64_t rows, int64_t cols,
                 const char *file, int32_t line, int32_t col) {
  char msg[512];
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(msg, sizeof msg, "cannot open data file '%s'", path);
    bp_runtime_error(file, line, col, msg);
  }
  std::vector<std::vector<double>> data;
  char buf[1 << 16];
  int64_t lineNo = 0;
  std::string text;
  auto fail = [&](int64_t l, int64_t c, const std::string &m) {
    fclose(f);
    bp_runtime_error(path, (int32_t)l, (int32_t)c, m.c_str());
  };
  while (fgets(buf, sizeof buf, f)) {
    text = buf;
    while (!text.empty() && text.back() != '\n' && fgets(buf, sizeof buf, f))
      text += buf;
    ++lineNo;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos)
      continue;
    std::vector<double> row;
    size_t start = 0;
    bool header = false;
    while (true) {
      size_t comma = text.find(',', start);
      std::string field =
          text.substr(start, comma == std::string::npos ? std::string::npos
                                                        : comma - start);
      const char *b = field.c_str();
      while (*b == ' ' || *b == '\t')
        ++b;
      char *end = nullptr;
      double v = strtod(b, &end);
      while (end && (*end == ' ' || *end == '\t'))
        ++end;
      if (end == b || *end) {
        if (data.empty() && row.empty()) { // a header line
          header = true;
          break;
        }
        fail(lineNo, (int64_t)start + 1, "'" + field + "' is not a number");
      }
      if (!std::isfinite(v))
        fail(lineNo, (int64_t)start + 1,
             "'" + field + "' is not a finite number");
      row.push_back(v);
      if (comma == std::string::npos)
        break;
      start = comma + 1;
    }
    if (header)
      continue;
    data.push_back(row);
  }
  fclose(f);
  // A rank-1 tensor may be written as one row.
  if (cols == 1 && data.size() == 1 && (int64_t)data[0].size() == rows) {
    for (int64_t i = 0; i < rows; ++i)
      dst[i] = data[0][i];
    return;
  }
  if ((int64_t)data.size() != rows) {
    snprintf(msg, sizeof msg,
             "'%s' has %lld data rows, the declared type needs %lld", path,
             (long long)data.size(), (long long)rows);
    bp_runtime_error(file, line, col, msg);
  }
  int64_t k = 0;
  lineNo = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if ((int64_t)data[r].size() != cols) {
      snprintf(msg, sizeof msg,
               "data row %lld of '%s' has %lld columns, the declared type "
               "needs %lld",
               (long long)r + 1, path, (long long)data[r].size(),
               (long long)cols);
      bp_runtime_error(file, line, col, msg);
    }
    for (double v : data[r])
      dst[k++] = v;
  }
}

int bp_load_params(const bp_param_entry *table, int64_t count, const char *path,
                   char *error, int64_t error_size) {
  auto fail = [&](int64_t line, const std::string &msg) {
    if (error && error_size > 0)
      snprintf(error, (size_t)error_size, "%s:%lld: %s", path, (long long)line,
               msg.c_str());
    return -1;
  };
  FILE *f = fopen(path, "r");
  if (!f) {
    if (error && error_size > 0)
      snprintf(error, (size_t)error_size, "cannot read params file '%s'", path);
    return -1;
  }
  std::string text;
  char buf[1 << 16];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, got);
  fclose(f);
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
    const bp_param_entry *e = nullptr;
    for (int64_t k = 0; k < count; ++k)
      if (strcmp(table[k].name, name) == 0)
        e = &table[k];
    if (!e)
      return fail((int64_t)i + 1,
                  std::string("no param named '") + name + "' in this program");
    bool same = (int64_t)dims.size() == e->rank;
    for (int64_t k = 0; same && k < e->rank; ++k)
      same = dims[k] == e->dims[k];
    if (!same)
      return fail((int64_t)i + 1, std::string("param '") + name +
                                      "' has another shape in the program");
    if (i + 1 >= lines.size())
      return fail((int64_t)i + 1,
                  std::string("missing values of '") + name + "'");
    int64_t n = 1;
    for (int64_t k = 0; k < e->rank; ++k)
      n *= e->dims[k];
    const char *v = lines[++i].c_str();
    int64_t got2 = 0;
    for (;; ++got2) {
      double x = strtod(v, &end);
      if (end == v)
        break;
      if (got2 >= n)
        return fail((int64_t)i + 1,
                    std::string("too many values for '") + name + "'");
      e->data[got2] = x;
      v = end;
    }
    while (*v == ' ' || *v == '\t' || *v == '\r')
      ++v;
    if (*v)
      return fail((int64_t)i + 1,
                  std::string("bad value '") + v + "' for '" + name + "'");
    if (got2 != n)
      return fail((int64_t)i + 1, "'" + std::string(name) + "' needs " +
                                      std::to_string(n) + " values, found " +
                                      std::to_string(got2));
  }
  return 0;
}

void bp_numerics_error(const char *file, int32_t line, int32_t col,
                       const char *op, double result, int64_t n, double a0,
                       double a1, double a2) {
  auto show = [](double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  };
  std::string msg = std::string("first non-finite value: '") + op + "' gave " +
                    (std::isnan(result) ? "nan" : show(result)) + " from ";
  double a[3] = {a0, a1, a2};
  for (int64_t i = 0; i < n && i < 3; ++i)
    msg += (i ? ", " : "") + show(a[i]);
  msg += " (--check-numerics)";
  bp_runtime_error(file, line, col, msg.c_str());
}

void bp_index_error(const char *file, int32_t line, int32_t col, int64_t index,
                    int64_t axis, int64_t size) {
  char msg[160];
  snprintf(msg, sizeof msg,
           "index %lld is out of range for axis %lld of size %lld",
           (long long)index, (long long)axis, (long long)size);
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
thread_local std::vector<std::pair<size_t, size_t>> live; // chunk, old used
thread_local size_t current = 0;
int64_t systemAllocations = 0;
} // namespace

void *bp_arena_alloc(int64_t bytes) {
  size_t n = ((size_t)bytes + 63) / 64 * 64;
  for (; current < chunks.size(); ++current) {
    Chunk &c = chunks[current];
    if (c.size - c.used >= n) {
      live.push_back({current, c.used});
      void *p = c.base + c.used;
      c.used += n;
      return p;
    }
  }
  size_t size = std::max(n, (size_t)4 << 20);
  void *base = aligned_alloc(64, size);
  if (!base) {
    fflush(stdout);
    fprintf(stderr,
            "runtime error: out of memory (%lld bytes of tensor "
            "temporaries)\n",
            (long long)bytes);
    exit(3);
  }
  ++systemAllocations;
  chunks.push_back({(char *)base, size, n});
  current = chunks.size() - 1;
  live.push_back({current, 0});
  return base;
}

void bp_arena_free(void *) {
  auto [chunk, used] = live.back();
  live.pop_back();
  chunks[chunk].used = used;
  current = chunk;
}

int64_t bp_arena_system_allocations(void) { return systemAllocations; }

void bp_tape_push_block(bp_tape *t, const double *data, int64_t n) {
  while (t->size + n > t->cap)
    bp_tape_grow(t);
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
} // namespace

void bp_tape_grow(bp_tape *t) {
  if (!t->data && !spareTapes.empty()) {
    auto [data, cap] = spareTapes.back();
    spareTapes.pop_back();
    t->data = data;
    t->cap = cap;
    return;
  }
  int64_t cap = t->cap ? t->cap * 2 : 1024;
  void *p = realloc(t->data, (size_t)cap * sizeof(uint64_t));
  if (!p) {
    fflush(stdout);
    fprintf(stderr,
            "runtime error: out of memory growing the gradient tape "
            "to %lld bytes\n",
            (long long)cap * 8);
    exit(3);
  }
  ++systemAllocations;
  t->data = (uint64_t *)p;
  t->cap = cap;
  if (cap * 8 > tapePeak)
    tapePeak = cap * 8;
}

void bp_tape_reserve(bp_tape *t, int64_t n) {
  while (t->size + n > t->cap)
    bp_tape_grow(t);
}

void bp_tape_free(bp_tape *t) {
  if (t->data && spareTapes.size() < 16)
    spareTapes.push_back({t->data, t->cap});
  else
    free(t->data);
  t->data = nullptr;
  t->size = t->cap = 0;
}

int64_t bp_tape_peak_bytes(void) { return tapePeak; }

void bp_runtime_unwound(void) {
  live.clear();
  for (Chunk &c : chunks)
    c.used = 0;
  current = 0;
}
}
