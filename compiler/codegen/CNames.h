//===- CNames.h - identifiers the C header must not use ---------*- C++ -*-===//
//
// The rules of docs/ABI.md ("Names"): which names `bpc build` cannot put in
// the C header as they are, and what the header calls them instead.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bp::codegen {

/// A keyword of C99..C23 or C++20 (alternative tokens such as `and`
/// included), or a macro or typedef of a common C library header, or a
/// macro GNU modes predefine (`linux`): CNames.cpp lists them.
bool isCWord(std::string_view name);
/// Those words, sorted.
std::span<const std::string_view> cWords();

/// Reserved to the implementation in C or C++: `_` followed by a capital
/// or `_`, or containing `__`.
bool isReservedIdentifier(std::string_view name);

/// Why `prefix` cannot begin the symbols of a build, or "" when it can: a
/// letter, then letters, digits and single `_`s, not ending in `_`, and not
/// `bp`/`bp_...` (the runtime's) in any case.
std::string prefixProblem(std::string_view prefix);

/// The header's names for one prototype's parameters, in order. A
/// reserved name drops its leading, trailing and doubled `_`s and gets a
/// trailing `_` (`__x` -> `x_`, `_Bool` -> `Bool_`); a C word or a name in
/// `macros` (the header's own) gets a trailing `_` (`long` -> `long_`);
/// when the new name is taken, a number follows (`long_2`, `long_3`, ...).
/// Other names are kept.
std::vector<std::string> headerParamNames(const std::vector<std::string> &names,
                                          const std::set<std::string> &macros);

} // namespace bp::codegen
