/* Prints the gradient of the long straight-line function at 0.5. */
#include "long.h"
#include <stdio.h>

int main(void) {
  printf("%.17g\n", long_dg(0.5));
  return 0;
}
