/* Recursion limits in AOT code: a runtime error reaches the hook, which
 * longjmps out; the depth is reset, so later calls work. */
#include "recursion.h"
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf env;
static void hook(const char *message) {
  printf("hook: %s\n", message);
  longjmp(env, 1);
}

static int depth(int64_t n) {
  if (setjmp(env)) {
    printf("recovered\n");
    return -1;
  }
  printf("down(%lld) = %lld\n", (long long)n, (long long)recursion_down(n));
  return 0;
}

static void *forever(void *arg) {
  (void)arg;
  if (setjmp(env)) {
    printf("recovered\n");
    return NULL;
  }
  printf("%g\n", recursion_forever(1.0));
  return NULL;
}

static void *dforever(void *arg) {
  (void)arg;
  if (setjmp(env)) {
    printf("recovered\n");
    return NULL;
  }
  printf("%g\n", recursion_dforever(1.0));
  return NULL;
}

static void onThread(void *(*body)(void *), size_t stack) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack);
  pthread_t t;
  pthread_create(&t, &attr, body, NULL);
  pthread_join(t, NULL);
}

int main(void) {
  bp_set_error_hook(hook);
  depth(100);
  onThread(forever, (size_t)256 << 20); /* the default limit */
  depth(100);
  bp_set_recursion_limit(50);
  depth(100);
  depth(40);
  dforever(NULL);
  /* A 256 KB thread stack runs out long before 1000000 calls. */
  bp_set_recursion_limit(1000000);
  onThread(forever, (size_t)256 << 10);
  return 0;
}
