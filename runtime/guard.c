/*===- guard.c - returning from a runtime error to the caller -------------===*
 *
 * BP's only setjmp/longjmp pair, in C so that no C++ frame of this file is
 * skipped. Between bp_guarded_call and bp_guard_escape the stack holds
 * only generated code (no destructors: its heap memory, arenas and tapes,
 * is reclaimed by the runtime before the jump) and the runtime's error
 * path, which by its invariant (runtime.cpp, stopAfterError) has destroyed
 * every C++ object before it calls bp_guard_escape.
 *
 *===----------------------------------------------------------------------===*/
#include "guard.h"

#include "bp_runtime.h"

#include <setjmp.h>
#include <stddef.h>

/* The innermost bp_guarded_call of this thread. */
static _Thread_local jmp_buf *active = NULL;

int bp_guarded_call(void (*fn)(const double *, double *), const double *in,
                    double *out) {
  jmp_buf here;
  /* Not modified after setjmp, so still valid after the longjmp. */
  jmp_buf *outer = active;
  active = &here;
  if (setjmp(here)) {
    active = outer;
    return 1;
  }
  fn(in, out);
  active = outer;
  return 0;
}

void bp_guard_escape(void) {
  if (active)
    longjmp(*active, 1);
}
