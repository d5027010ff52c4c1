/* examples/c/main.c: BP models used from plain C, without a JIT.
 * Build and run (from the repository root, after tools/setup.sh):
 *     bash examples/c/build.sh
 * Shows: the seed neuron's loss and gradient (the same numbers as
 * `bpc run examples/neuron.bp`), and the digits MLP classifying a test image
 * with params trained by `bpc train examples/digits.bp --save ...`. */
#include "digits.h"
#include "neuron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  double gw, gb;
  neuron_dneuron(0.5, 0.1, 1.5, 1.0, &gw, &gb);
  printf("neuron: loss %.17g, dL/dw %.17g, dL/db %.17g\n",
         neuron_neuron(0.5, 0.1, 1.5, 1.0), gw, gb);

  if (argc < 3)
    return 0;
  char err[512];
  if (digits_load_params(argv[1], err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  /* Classify the rows of a digits CSV (64 pixels, then 10 one-hot). */
  FILE *f = fopen(argv[2], "r");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  char line[4096];
  int right = 0, total = 0;
  fgets(line, sizeof line, f); /* header */
  while (fgets(line, sizeof line, f)) {
    double row[74];
    char *p = line;
    for (int i = 0; i < 74; ++i) {
      row[i] = strtod(p, &p);
      if (*p == ',')
        ++p;
    }
    right += digits_accuracy(row, row + 64) > 0.5;
    ++total;
  }
  fclose(f);
  printf("digits: %d of %d test images right (%.1f%%)\n", right, total,
         100.0 * right / total);
  return 0;
}
