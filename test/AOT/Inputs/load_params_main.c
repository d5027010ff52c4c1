/* params_load_params on each file named on the command line: its return
 * code and message, then f(1) (the params are unchanged after an error). */
#include "params.h"
#include <stdio.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    char error[512] = "";
    int rc = params_load_params(argv[i], error, sizeof error);
    printf("rc %d f(1) %g %s\n", rc, params_f(1.0), error);
  }
  return 0;
}
