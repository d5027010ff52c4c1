/* Calls the model built from main.bp's import chain through its C header:
   the imported functions (act, hidden) are exported with the importer's. */
#include "model.h"
#include <stdio.h>

int main(void) {
  double x[2] = {1.0, -2.0}, z[3] = {0.0, 1.0, -1.0}, h[3], a[3];
  model_hidden(x, h);
  model_act(z, a);
  printf("%.17g %.17g %.17g\n", model_predict(x), h[0], a[1]);
  return 0;
}
