#include "fa.h"
#include <stdio.h>

int main(void) {
  double x0[2] = {1.0, 2.0}, g[2];
  printf("%.17g\n", fa_solve(x0));
  fa_dsolve(x0, g);
  printf("%.17g %.17g\n", g[0], g[1]);
  return 0;
}
