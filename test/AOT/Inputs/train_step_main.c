/* test/AOT/train-step.test: PREFIX_train_step on the five rows of
 * test/Train/Inputs/linear.csv, argv[1] times; prints each returned loss,
 * then the params. */
#include MODEL_HEADER
#include <stdio.h>
#include <stdlib.h>

#define CAT(a, b) a##b
#define NAME(p, x) CAT(p, x)

int main(int argc, char **argv) {
  double rows[] = {1, 2, 3, -1, 0.5, 1, 0.3, -2, -1, 2, 1, 4, 0, 0, 0.5};
  int steps = argc > 1 ? atoi(argv[1]) : 1;
  for (int k = 0; k < steps; ++k)
    printf("loss %.17g\n", NAME(PREFIX, _train_step)(rows, 5));
  double *w = NAME(PREFIX, _param_w)(), *c = NAME(PREFIX, _param_c)();
  printf("w %.17g %.17g\nc %.17g\n", w[0], w[1], c[0]);
  printf("no rows: %g\n", NAME(PREFIX, _train_step)(rows, 0));
  return 0;
}
