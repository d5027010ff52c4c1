#include "fails.h"
#include <stdio.h>
int main(void) {
  printf("%g\n", fails_check(-1.0));
  return 0;
}
