/* bench/alloc_per_step.sh: an LD_PRELOAD shim that counts calls of
 * malloc, calloc, realloc, aligned_alloc, posix_memalign and memalign (and
 * so operator new) and writes the total to the file $BP_ALLOC_COUNT_FILE
 * at exit. glibc's __libc_* entry points do the allocating. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long calls;

void *malloc(size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
void *calloc(size_t k, size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_calloc(k, n);
}
void *realloc(void *p, size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}
void *memalign(size_t a, size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_memalign(a, n);
}
void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
  void *p = memalign(a, n);
  if (!p)
    return 12; /* ENOMEM */
  *out = p;
  return 0;
}

__attribute__((destructor)) static void report(void) {
  const char *path = getenv("BP_ALLOC_COUNT_FILE");
  if (!path)
    return;
  FILE *f = fopen(path, "w");
  if (f) {
    fprintf(f, "%ld\n", atomic_load(&calls));
    fclose(f);
  }
}
