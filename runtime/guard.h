/*===- guard.h - the runtime's side of bp_guarded_call ---------------------===*
 *
 * Private to the runtime (runtime.cpp calls it; generated code never does).
 *
 *===----------------------------------------------------------------------===*/
#ifndef BP_GUARD_H
#define BP_GUARD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Returns when no bp_guarded_call is active on this thread; otherwise
 * longjmps to the innermost one, which returns 1. The caller's frames up
 * to that bp_guarded_call must hold no object with a non-trivial
 * destructor (bp_runtime.h, "Runtime errors"). */
void bp_guard_escape(void);

#ifdef __cplusplus
}
#endif
#endif
