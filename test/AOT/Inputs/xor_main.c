/* test/AOT/build-load.test: examples/xor.bp built with --load (trained
 * params baked in): main's output, then the four predictions. */
#include "xor.h"
#include <stdio.h>

int main(void) {
  xor_main();
  double cases[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  for (int i = 0; i < 4; ++i)
    printf("%s%.17g", i ? " " : "", xor_predict(cases[i]));
  printf("\n");
  return 0;
}
