/* bp_catch_stack_overflow: a stack overflow outside BP code (here: C
 * recursion) is reported as a runtime error with exit status 3. */
#include "recursion.h"
#include <stdio.h>

static int deeper(volatile char *prev) {
  volatile char frame[4096];
  frame[0] = prev ? prev[0] + 1 : 0;
  return deeper(frame) + frame[100];
}

int main(void) {
  printf("before\n");
  bp_catch_stack_overflow("segv_main.c");
  return deeper(NULL);
}
