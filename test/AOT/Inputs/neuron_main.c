/* Calls the AOT-built seed neuron: forward and gradient. */
#include "neuron.h"
#include <stdio.h>
int main(void) {
  double gw, gb;
  neuron_dneuron(0.5, 0.1, 1.5, 1.0, &gw, &gb);
  printf("%.17g %.17g %.17g\n", neuron_neuron(0.5, 0.1, 1.5, 1.0), gw, gb);
  return 0;
}
