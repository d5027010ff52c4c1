/* test/AOT/int-train-step.test: tokens_train_step (int[2] token ids and an
 * int label per row, test/Train/Inputs/tokens.bp) on its 16 rows, 40 full
 * batches; prints the first and last returned loss. */
#include "tokens.h"
#include <stdio.h>

int main(void) {
  double rows[16 * 3];
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      double *r = rows + 3 * (4 * a + b);
      r[0] = a;
      r[1] = b;
      r[2] = a == 3 || b == 3;
    }
  double first = tokens_train_step(rows, 16), last = first;
  for (int k = 1; k < 40; ++k)
    last = tokens_train_step(rows, 16);
  printf("first %.6f\nlast %.6f\n%s\n", first, last,
         last < first / 10 ? "decreased tenfold" : "did not decrease");
  return 0;
}
