/* Calls the AOT-built tensor model like Inputs/tensors.bp's main. */
#include "tensors.h"
#include <stdio.h>
static void show(const double *v, int n) {
  for (int i = 0; i < n; ++i)
    printf("%.17g ", v[i]);
}
int main(void) {
  double x[2] = {0.5, -1.0}, y[3] = {1.0, 0.0, -1.0};
  double h[TENSORS_layer_out0_SIZE], gW[TENSORS_dloss_grad_W_SIZE],
      gc[TENSORS_dloss_grad_c_SIZE], gx[TENSORS_dloss_grad_x_SIZE];
  tensors_layer(x, h);
  show(h, 3);
  printf("%.17g\n", tensors_loss(x, y));
  tensors_dloss(x, y, gW, gc, gx);
  show(gW, 6);
  show(gc, 3);
  show(gx, 2);
  printf("\n");
  return 0;
}
