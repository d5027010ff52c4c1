/* test/AOT/train-step-blas.test: wide_train_step on the 8 rows of
 * wide.csv (argv[1]), 3 times; prints each loss. */
#include "wide.h"
#include <stdio.h>

int main(int argc, char **argv) {
  double rows[8 * 17];
  FILE *f = fopen(argv[1], "r");
  for (int i = 0; i < 8 * 17; ++i)
    if (!f || fscanf(f, "%lf%*[,\n]", &rows[i]) != 1)
      return 1;
  fclose(f);
  for (int k = 0; k < 3; ++k)
    printf("loss %.17g\n", wide_train_step(rows, 8));
  return 0;
}
