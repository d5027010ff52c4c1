//===- CNames.cpp - identifiers the C header must not use -----------------===//
//
// The generated header (codegen/CInterface.cpp) is read by C99 to C23 and
// C++17/20 compilers, after or before any C library header the caller
// includes. A BP name that one of them spells differently (a keyword, a
// macro, a typedef of <stdint.h>) breaks it or, worse, changes its meaning:
// `double long` is one `long double` parameter. docs/ABI.md ("Names")
// gives the rules; this file holds the word list they refer to.
//
//===----------------------------------------------------------------------===//
#include "codegen/CNames.h"

#include <algorithm>
#include <iterator>

namespace bp::codegen {

namespace {

// Sorted (std::binary_search); test/AOT/c-names.test builds
// a header with each one that BP accepts as a name.
constexpr std::string_view words[] = {
    // clang-format off
    // Keywords of C99, C11, C23 and C++20 (the alternative tokens of
    // <iso646.h> / C++ included; those beginning with `_` + capital are
    // reserved identifiers anyway).
    // Macros and typedefs of the C library headers a caller is likely to
    // include: <assert.h> <complex.h> <errno.h> (C and POSIX codes)
    // <float.h> <limits.h> <locale.h> <math.h> <setjmp.h> <signal.h>
    // <stdalign.h> <stdarg.h> <stdbool.h> <stddef.h> <stdint.h> <stdio.h>
    // <stdlib.h> <stdnoreturn.h> <threads.h> <time.h> <wchar.h>; and the
    // macros GCC and Clang predefine in GNU modes (`linux`, `unix`, `i386`).
    "BUFSIZ", "CHAR_BIT", "CHAR_MAX", "CHAR_MIN", "CLOCKS_PER_SEC",
    "DBL_DIG", "DBL_EPSILON", "DBL_MANT_DIG", "DBL_MAX", "DBL_MAX_10_EXP",
    "DBL_MAX_EXP", "DBL_MIN", "DBL_MIN_10_EXP", "DBL_MIN_EXP",
    "DBL_TRUE_MIN", "DECIMAL_DIG",
    "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT",
    "EAGAIN", "EALREADY", "EBADF", "EBADMSG", "EBUSY", "ECANCELED",
    "ECHILD", "ECONNABORTED", "ECONNREFUSED", "ECONNRESET", "EDEADLK",
    "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST", "EFAULT", "EFBIG",
    "EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL",
    "EIO", "EISCONN", "EISDIR", "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE",
    "EMULTIHOP", "ENAMETOOLONG", "ENETDOWN", "ENETRESET", "ENETUNREACH",
    "ENFILE", "ENOBUFS", "ENODATA", "ENODEV", "ENOENT", "ENOEXEC",
    "ENOLCK", "ENOLINK", "ENOMEM", "ENOMSG", "ENOPROTOOPT", "ENOSPC",
    "ENOSR", "ENOSTR", "ENOSYS", "ENOTCONN", "ENOTDIR", "ENOTEMPTY",
    "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO", "EOF",
    "EOPNOTSUPP", "EOVERFLOW", "EOWNERDEAD", "EPERM", "EPIPE", "EPROTO",
    "EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH",
    "ESTALE", "ETIME", "ETIMEDOUT", "ETXTBSY", "EWOULDBLOCK", "EXDEV",
    "EXIT_FAILURE", "EXIT_SUCCESS",
    "FILE", "FILENAME_MAX", "FLT_DIG", "FLT_EPSILON", "FLT_EVAL_METHOD",
    "FLT_MANT_DIG", "FLT_MAX", "FLT_MAX_10_EXP", "FLT_MAX_EXP", "FLT_MIN",
    "FLT_MIN_10_EXP", "FLT_MIN_EXP", "FLT_RADIX", "FLT_ROUNDS",
    "FLT_TRUE_MIN", "FOPEN_MAX", "FP_FAST_FMA", "FP_ILOGB0", "FP_ILOGBNAN",
    "FP_INFINITE", "FP_NAN", "FP_NORMAL", "FP_SUBNORMAL", "FP_ZERO",
    "HUGE_VAL", "HUGE_VALF", "HUGE_VALL", "I", "INFINITY",
    "INT16_C", "INT16_MAX", "INT16_MIN", "INT32_C", "INT32_MAX",
    "INT32_MIN", "INT64_C", "INT64_MAX", "INT64_MIN", "INT8_C", "INT8_MAX",
    "INT8_MIN", "INTMAX_C", "INTMAX_MAX", "INTMAX_MIN", "INTPTR_MAX",
    "INTPTR_MIN", "INT_FAST16_MAX", "INT_FAST16_MIN", "INT_FAST32_MAX",
    "INT_FAST32_MIN", "INT_FAST64_MAX", "INT_FAST64_MIN", "INT_FAST8_MAX",
    "INT_FAST8_MIN", "INT_LEAST16_MAX", "INT_LEAST16_MIN",
    "INT_LEAST32_MAX", "INT_LEAST32_MIN", "INT_LEAST64_MAX",
    "INT_LEAST64_MIN", "INT_LEAST8_MAX", "INT_LEAST8_MIN", "INT_MAX",
    "INT_MIN", "LC_ALL", "LC_COLLATE", "LC_CTYPE", "LC_MONETARY",
    "LC_NUMERIC", "LC_TIME", "LDBL_DIG", "LDBL_EPSILON", "LDBL_MANT_DIG",
    "LDBL_MAX", "LDBL_MIN", "LDBL_TRUE_MIN", "LLONG_MAX", "LLONG_MIN",
    "LONG_MAX", "LONG_MIN", "L_tmpnam", "MATH_ERREXCEPT", "MATH_ERRNO",
    "MB_CUR_MAX", "MB_LEN_MAX", "M_1_PI", "M_2_PI", "M_2_SQRTPI", "M_E",
    "M_LN10", "M_LN2", "M_LOG10E", "M_LOG2E", "M_PI", "M_PI_2", "M_PI_4",
    "M_SQRT1_2", "M_SQRT2", "NAN", "NULL", "ONCE_FLAG_INIT", "PTRDIFF_MAX",
    "PTRDIFF_MIN", "RAND_MAX", "SCHAR_MAX", "SCHAR_MIN", "SEEK_CUR",
    "SEEK_END", "SEEK_SET", "SHRT_MAX", "SHRT_MIN", "SIGABRT", "SIGFPE",
    "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM", "SIG_ATOMIC_MAX",
    "SIG_ATOMIC_MIN", "SIG_DFL", "SIG_ERR", "SIG_IGN", "SIZE_MAX",
    "TIME_UTC", "TMP_MAX", "TSS_DTOR_ITERATIONS", "UCHAR_MAX", "UINT16_C",
    "UINT16_MAX", "UINT32_C", "UINT32_MAX", "UINT64_C", "UINT64_MAX",
    "UINT8_C", "UINT8_MAX", "UINTMAX_C", "UINTMAX_MAX", "UINTPTR_MAX",
    "UINT_FAST16_MAX", "UINT_FAST32_MAX", "UINT_FAST64_MAX",
    "UINT_FAST8_MAX", "UINT_LEAST16_MAX", "UINT_LEAST32_MAX",
    "UINT_LEAST64_MAX", "UINT_LEAST8_MAX", "UINT_MAX", "ULLONG_MAX",
    "ULONG_MAX", "USHRT_MAX", "WCHAR_MAX", "WCHAR_MIN", "WEOF", "WINT_MAX",
    "WINT_MIN",
    "alignas", "alignof", "and", "and_eq", "asm", "assert", "auto",
    "bitand", "bitor", "bool", "break", "case", "catch", "char", "char16_t",
    "char32_t", "char8_t", "class", "co_await", "co_return", "co_yield",
    "compl", "complex", "concept", "const", "const_cast", "consteval",
    "constexpr", "constinit", "continue", "decltype", "default", "delete",
    "div_t", "do", "double", "dynamic_cast", "else", "enum", "errno",
    "explicit", "export", "extern", "false", "float", "for", "fpos_t",
    "friend", "goto", "i386", "if", "imaginary", "inline", "int",
    "int16_t", "int32_t", "int64_t", "int8_t", "int_fast16_t",
    "int_fast32_t", "int_fast64_t", "int_fast8_t", "int_least16_t",
    "int_least32_t", "int_least64_t", "int_least8_t", "intmax_t",
    "intptr_t", "jmp_buf", "ldiv_t", "linux", "lldiv_t", "long",
    "math_errhandling", "max_align_t", "mutable", "namespace", "new",
    "noexcept", "noreturn", "not", "not_eq", "nullptr", "nullptr_t",
    "offsetof", "operator", "or", "or_eq", "private", "protected", "ptrdiff_t",
    "public", "register", "reinterpret_cast", "requires", "restrict",
    "return", "setjmp", "short", "sig_atomic_t", "signed", "size_t",
    "sizeof", "static", "static_assert", "static_cast", "stderr", "stdin",
    "stdout", "struct", "switch", "template", "this", "thread_local",
    "throw", "time_t", "true", "try", "typedef", "typeid", "typename",
    "typeof", "typeof_unqual", "uint16_t", "uint32_t", "uint64_t",
    "uint8_t", "uint_fast16_t", "uint_fast32_t", "uint_fast64_t",
    "uint_fast8_t", "uint_least16_t", "uint_least32_t", "uint_least64_t",
    "uint_least8_t", "uintmax_t", "uintptr_t", "union", "unix", "unsigned",
    "using", "va_arg", "va_copy", "va_end", "va_list", "va_start",
    "virtual", "void", "volatile", "wchar_t", "while", "wint_t", "xor",
    "xor_eq",
    // clang-format on
};

} // namespace

std::span<const std::string_view> cWords() { return words; }

bool isCWord(std::string_view name) {
  // test/unit/CNamesTest.cpp checks that the list is sorted.
  return std::binary_search(std::begin(words), std::end(words), name);
}

bool isReservedIdentifier(std::string_view name) {
  return (name.size() >= 2 && name[0] == '_' &&
          (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z'))) ||
         name.find("__") != std::string_view::npos;
}

std::string prefixProblem(std::string_view p) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
  };
  if (p.empty())
    return "it is empty";
  for (char c : p)
    if (!alnum(c) && c != '_')
      return std::string("'") + c + "' is not a letter, digit or '_'";
  if (!alnum(p[0]) || (p[0] >= '0' && p[0] <= '9'))
    return "it must start with a letter";
  if (p.find("__") != std::string_view::npos || p.back() == '_')
    return "the symbols '" + std::string(p) +
           "_...' would contain '__', which C and C++ reserve";
  std::string lower;
  for (char c : p)
    lower += (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  if (lower == "bp" || lower.rfind("bp_", 0) == 0)
    return "the runtime's symbols and macros begin with 'bp_' and 'BP_'";
  if (lower == "runtime" || lower == "guard")
    return "its include guard would be the runtime header's";
  return "";
}

std::vector<std::string> headerParamNames(const std::vector<std::string> &names,
                                          const std::set<std::string> &macros) {
  auto unusable = [&](const std::string &n) {
    return isReservedIdentifier(n) || isCWord(n) || macros.count(n);
  };
  std::set<std::string> taken;
  for (const std::string &n : names)
    if (!unusable(n))
      taken.insert(n);
  std::vector<std::string> out;
  for (const std::string &n : names) {
    if (!unusable(n)) {
      out.push_back(n);
      continue;
    }
    std::string base;
    if (isReservedIdentifier(n)) {
      for (char c : n)
        if (c != '_' || (!base.empty() && base.back() != '_'))
          base += c;
      while (!base.empty() && base.back() == '_')
        base.pop_back();
      if (base.empty())
        base = "arg"; // `_`s only
    } else {
      base = n;
    }
    base += '_';
    std::string s = base;
    for (int k = 2; taken.count(s) || unusable(s); ++k)
      s = base + std::to_string(k);
    taken.insert(s);
    out.push_back(s);
  }
  return out;
}

} // namespace bp::codegen
