/* Calls blasmodel_prod with A = ones, B[k, j] = j; prints C[0, 0], C[0, 1],
 * C[63, 9] and sum(C). */
#include "blasmodel.h"

#include <stdio.h>

int main(void) {
  static double a[64 * 64], b[64 * 10], c[64 * 10];
  for (int i = 0; i < 64 * 64; ++i)
    a[i] = 1.0;
  for (int k = 0; k < 64; ++k)
    for (int j = 0; j < 10; ++j)
      b[k * 10 + j] = (double)j;
  blasmodel_prod(a, b, c);
  double s = 0;
  for (int i = 0; i < 64 * 10; ++i)
    s += c[i];
  printf("%g %g %g %g\n", c[0], c[1], c[63 * 10 + 9], s);
  return 0;
}
