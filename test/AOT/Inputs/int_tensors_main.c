/* Calls Inputs/int_tensors.bp's functions through the C ABI. */
#include "int_tensors.h"
#include <inttypes.h>
#include <stdio.h>
int main(void) {
  const int64_t t[3] = {1, -2, 3};
  int64_t out[INT_TENSORS_shift_out0_SIZE];
  int_tensors_shift(t, 5, out);
  printf("shift %" PRId64 " %" PRId64 " %" PRId64 "\n", out[0], out[1], out[2]);
  const double x[3] = {0.5, 1.0, 2.0};
  printf("score %.17g\n", int_tensors_score(t, x));
  const int64_t m[4] = {1, 2, -3, 9};
  int64_t cols[INT_TENSORS_stats_out0_SIZE], best;
  int_tensors_stats(m, cols, &best);
  printf("stats %" PRId64 " %" PRId64 " %" PRId64 "\n", cols[0], cols[1], best);
  return 0;
}
