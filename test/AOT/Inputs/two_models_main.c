/* test/AOT/two-models.test: two models with the same fn and param names,
 * and one model at two sizes, in one program. Each returns its own
 * numbers. Then each library's error hook: its own runtime's (.so, .a),
 * or the one runtime that .o models share (the hook set last). */
#include "m_a.h"
#include "m_b.h"
#include "small.h"
#include "big.h"
#include <setjmp.h>
#include <stdio.h>

static jmp_buf env;
static void hookA(const char *message) {
  printf("hook a: %s\n", message);
  longjmp(env, 1);
}
static void hookB(const char *message) {
  printf("hook b: %s\n", message);
  longjmp(env, 1);
}

int main(void) {
  double x[3] = {1, 1, 1};
  printf("a: %g %g\n", m_a_f(2.0), m_a_total(x));
  printf("b: %g %g\n", m_b_f(2.0), m_b_total(x));
  printf("small: %g big: %g\n", small_f(1.0), big_f(1.0));
  m_a_param_W1()[0] = 3;
  printf("a: %g b: %g\n", m_a_f(2.0), m_b_f(2.0));
  fflush(stdout);
  m_a_set_error_hook(hookA);
  m_b_set_error_hook(hookB);
  if (!setjmp(env))
    m_a_check(-1.0);
  if (!setjmp(env))
    m_b_check(-1.0);
  return 0;
}
