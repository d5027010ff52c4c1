//===- EditDistanceTest.cpp - support/Diagnostics.h's banded distance -----===//
//
// editDistance(a, b, limit) computes only the band |i - j| <= limit of the
// Levenshtein table. It must equal the full table's distance whenever that
// is at most limit, and be limit + 1 otherwise: checked against a plain
// O(|a| |b|) reference on random short strings over a small alphabet (so
// that near misses are common).
//
//===----------------------------------------------------------------------===//
#include "support/Diagnostics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace {

unsigned reference(const std::string &a, const std::string &b) {
  std::vector<std::vector<unsigned>> d(a.size() + 1,
                                       std::vector<unsigned>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = (unsigned)i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = (unsigned)j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
  return d[a.size()][b.size()];
}

TEST(EditDistance, BandedEqualsFullTableUpToTheLimit) {
  std::mt19937 rng(7);
  auto word = [&] {
    std::string s(rng() % 9, 'a');
    for (char &c : s)
      c = (char)('a' + rng() % 3);
    return s;
  };
  for (int k = 0; k < 20000; ++k) {
    std::string a = word(), b = word();
    unsigned limit = rng() % 4, full = reference(a, b);
    EXPECT_EQ(bp::editDistance(a, b, limit), std::min(full, limit + 1))
        << "'" << a << "' '" << b << "' limit " << limit;
  }
}

TEST(EditDistance, SuggestsOnlyCloseNames) {
  EXPECT_EQ(bp::didYouMean("lenght", {"length", "width"}),
            "; did you mean 'length'?");
  EXPECT_EQ(bp::didYouMean("abc", {"xyz"}), "");
  // Two long names that differ by one edit, and a long one that does not
  // come close: linear time in their length.
  std::string longName(200000, 'a');
  EXPECT_EQ(bp::didYouMean(longName, {longName + "b"}),
            "; did you mean '" + longName + "b'?");
  EXPECT_EQ(bp::didYouMean(longName, {std::string(200000, 'b')}), "");
}

} // namespace
