//===- CNamesTest.cpp - the header's renaming rules (docs/ABI.md "Names") -===//
//
// codegen/CNames.h: which names C cannot take as they are, what the header
// calls them instead, and which prefixes a build refuses.
//
//===----------------------------------------------------------------------===//
#include "codegen/CNames.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace bp::codegen;

namespace {

std::vector<std::string> rename(std::vector<std::string> names,
                                std::set<std::string> macros = {}) {
  return headerParamNames(names, macros);
}

TEST(CNames, WordListIsSortedAndUnique) {
  auto words = cWords();
  EXPECT_TRUE(std::is_sorted(words.begin(), words.end()));
  EXPECT_EQ(std::adjacent_find(words.begin(), words.end()), words.end());
  for (std::string_view w : words)
    EXPECT_TRUE(isCWord(w)) << w;
}

TEST(CNames, Words) {
  for (const char *w : {"long", "and", "not", "xor_eq", "errno", "NULL", "EOF",
                        "stdin", "assert", "bool", "int64_t", "linux", "I",
                        "INT_MAX", "co_await", "typeof_unqual", "ENOSPC"})
    EXPECT_TRUE(isCWord(w)) << w;
  for (const char *w : {"x", "w1", "value", "Long", "grad_x", "tangent"})
    EXPECT_FALSE(isCWord(w)) << w;
}

TEST(CNames, Reserved) {
  EXPECT_TRUE(isReservedIdentifier("_Bool"));
  EXPECT_TRUE(isReservedIdentifier("__x"));
  EXPECT_TRUE(isReservedIdentifier("a__b"));
  EXPECT_FALSE(isReservedIdentifier("_x"));
  EXPECT_FALSE(isReservedIdentifier("_"));
  EXPECT_FALSE(isReservedIdentifier("a_b_"));
}

TEST(CNames, HeaderParamNames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(rename({"x", "long"}), (V{"x", "long_"}));
  EXPECT_EQ(rename({"long", "long_"}), (V{"long_2", "long_"}));
  EXPECT_EQ(rename({"int", "int_", "int_2"}), (V{"int_3", "int_", "int_2"}));
  EXPECT_EQ(rename({"_Bool", "__x", "a__b", "__", "a___"}),
            (V{"Bool_", "x_", "a_b_", "arg_", "a_"}));
  EXPECT_EQ(rename({"M_f_x_SIZE", "y"}, {"M_f_x_SIZE"}),
            (V{"M_f_x_SIZE_", "y"}));
  EXPECT_EQ(rename({"_x", "_"}), (V{"_x", "_"}));
}

TEST(CNames, Prefixes) {
  EXPECT_EQ(prefixProblem("model"), "");
  EXPECT_EQ(prefixProblem("Model_2"), "");
  EXPECT_EQ(prefixProblem("int"), ""); // `int_f` is no keyword
  for (const char *bad : {"", "../x", "/abs", "9lives", "a-b", "_a", "a_",
                          "a__b", "bp", "BP", "bp_x", "Bp_y", "runtime"})
    EXPECT_NE(prefixProblem(bad), "") << bad;
}

} // namespace
