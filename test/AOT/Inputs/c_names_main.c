/* Calls the model of c_names.py through its header, included after the C
 * library headers that define the macros it must not collide with (as C99
 * and as C++17: test/AOT/c-names.test). */
#include <assert.h>
#include <errno.h>
#include <float.h>
#include <iso646.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <wchar.h>
#ifndef __cplusplus
#include <complex.h>
#endif

#include "cn.h"

int main(void) {
  /* g(x, long) = x + 10 long: 21, not 1 (`double long` would be one
   * `long double` parameter). */
  printf("g %g\n", cn_g(1.0, 2.0));
  printf("dg %g\n", cn_dg(1.0, 2.0));
  double value = 0, grad = 0;
  cn_vh(2.0, 0.0, &value, &grad);
  printf("vh %g %g\n", value, grad);
  printf("long %g param %g size %d\n", cn_long(4.0), *cn_param_stdout(),
         CN_PARAM_stdout_SIZE);
  return 0;
}
