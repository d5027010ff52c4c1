/* test/AOT/two-models.test: two models with the same fn and param names,
 * and one model at two sizes, in one program. Each returns its own
 * numbers; the error hooks are each library's own. */
#include "m_a.h"
#include "m_b.h"
#include "small.h"
#include "big.h"
#include <stdio.h>

int main(void) {
  double x[3] = {1, 1, 1};
  printf("a: %g %g\n", m_a_f(2.0), m_a_total(x));
  printf("b: %g %g\n", m_b_f(2.0), m_b_total(x));
  printf("small: %g big: %g\n", small_f(1.0), big_f(1.0));
  m_a_param_W1()[0] = 3;
  printf("a: %g b: %g\n", m_a_f(2.0), m_b_f(2.0));
  return 0;
}
