/*===- bp_runtime.h - the C ABI of BP's runtime library -------------------===*
 *
 * Generated code (JIT or AOT) calls only these functions. Everything is
 * plain C so an AOT-built model links with any C or C++ program.
 *
 *===----------------------------------------------------------------------===*/
#ifndef BP_RUNTIME_H
#define BP_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Printing (section 9): f64 in the shortest form that round-trips. */
void bp_print_str(const char *s, int64_t len);
void bp_print_f64(double v);
void bp_print_i64(int64_t v);
void bp_print_bool(int32_t v);
/* A row-major tensor: `[1, 2.5]`, `[[1, 2], [3, 4]]`. */
void bp_print_tensor(const double *data, int64_t rank, const int64_t *shape);
/* An int tensor (section 13): `[1, -2]`. */
void bp_print_tensor_i64(const int64_t *data, int64_t rank,
                         const int64_t *shape);

/* Derivatives of lgamma: the digamma and trigamma functions. */
/* Elementwise ops that codegen lowers to runtime calls (runtime/ops.cpp
 * expands them from compiler/ir/Ops.def, Lowering column `Runtime`). */
double bp_digamma(double x);
double bp_trigamma(double x);
double bp_gelu(double x);

/* Runtime errors: `FILE:LINE:COL: runtime error: MESSAGE` on stderr after
 * flushing stdout; then the runtime forgets the calls the error abandons
 * (recursion depth, arenas; the buffers of their tapes are kept for reuse)
 * and, inside bp_guarded_call, returns there; otherwise the error hook
 * runs (it may longjmp out), then exit status 3.
 *
 * Invariant of the error path (runtime.cpp): from generated code to the
 * longjmp, no runtime frame holds an object with a non-trivial destructor,
 * so a longjmp over them is defined (C++ [csetjmp.syn]) and leaks
 * nothing. */
#ifndef BP_ERROR_HOOK_DEFINED /* also in the headers of `bpc build` */
#define BP_ERROR_HOOK_DEFINED
typedef void (*bp_error_hook)(const char *message);
#endif
void bp_set_error_hook(bp_error_hook hook);
void bp_runtime_error(const char *file, int32_t line, int32_t col,
                      const char *message);
/* Calls fn(in, out): 0 when it returned, 1 when a runtime error stopped it
 * (already reported). The error returns by longjmp from the runtime's
 * error path (guard.c) over the frames between: fn must be generated code
 * (a `bp.dyn` wrapper) or C code that holds nothing to clean up across
 * its calls into BP code. Guards nest; each thread has its own. `bpc repl`
 * runs every input through it. */
int bp_guarded_call(void (*fn)(const double *, double *), const double *in,
                    double *out);
/* --check-numerics: operation `op` at FILE:LINE:COL turned the `n` finite
 * operands a0.. into `result` (NaN or an infinity). Exits like
 * bp_runtime_error. */
void bp_numerics_error(const char *file, int32_t line, int32_t col,
                       const char *op, double result, int64_t n, double a0,
                       double a1, double a2);
/* `index I is out of range for axis A of size N` at FILE:LINE:COL. */
void bp_index_error(const char *file, int32_t line, int32_t col, int64_t index,
                    int64_t axis, int64_t size);
/* `slice S:S+LEN is out of range for axis A of size N` at FILE:LINE:COL: a
 * window x[i:i + K] (LANGUAGE.md section 14). */
void bp_window_error(const char *file, int32_t line, int32_t col, int64_t start,
                     int64_t len, int64_t axis, int64_t size);

/* `let X: f64[R, C...] = read_csv(path)`: fills `dst` (rows x cols values,
 * row-major) from a CSV of numbers with an optional header line (LF, CRLF
 * or CR line ends; a UTF-8 byte order mark is skipped). A missing file, one
 * that is not a regular file or is larger than BP_DATA_LIMIT_MB (default
 * 1024 MB), a read error, a wrong shape or a bad field is a runtime error
 * (at the data's line:col, or at the read_csv call for a file that cannot
 * be read / too few rows). A value too small for a double reads as the
 * nearest denormal or 0. A rank-1 tensor may be one column or one row. */
void bp_read_csv(const char *path, double *dst, int64_t rows, int64_t cols,
                 const char *file, int32_t line, int32_t col);

/* Params files (`bpc train --save`, docs/TRAINING.md): one entry per param
 * of a program. Versions 1 and 2 load alike: lines that start with `#` (the
 * header, version 2's `#@` training state) are skipped, and a shape line
 * with anything after its dims is an error at its line and column
 * (`PATH:LINE:COL: message`). bp_load_params_flags sets every param of `table`
 * from the file, or none: on error (the file is not a regular file or is larger
 * than BP_DATA_LIMIT_MB, a line is malformed, a param of the table is missing
 * from the file, a value is nan or inf without BP_LOAD_ALLOW_NONFINITE) it
 * returns -1, changes no param, and writes `PATH:LINE: message` (or `PATH:
 * message`, or a message naming PATH) into `error` (size `error_size`).
 * bp_load_params is bp_load_params_flags with flags 0. */
typedef struct bp_param_entry {
  const char *name;
  double *data;
  int64_t rank;
  int64_t dims[4];
} bp_param_entry;
#define BP_LOAD_ALLOW_NONFINITE 1
int bp_load_params_flags(const bp_param_entry *table, int64_t count,
                         const char *path, int flags, char *error,
                         int64_t error_size);
int bp_load_params(const bp_param_entry *table, int64_t count, const char *path,
                   char *error, int64_t error_size);

/* The per-call buffer of a function's tensor temporaries, when too large
 * for the stack. One allocation per call, never per element or op. */
void *bp_arena_alloc(int64_t bytes);
void bp_arena_free(void *arena);
/* How many times arenas needed memory from the system (benchmarks check
 * that this stays constant in steady state). */
int64_t bp_arena_system_allocations(void);

/* Recursion guard. Generated code calls bp_recursion_enter before every
 * call that can recurse (caller and callee on one cycle of the call graph)
 * and bp_recursion_leave after it. Past the limit, or when the calling
 * thread's stack is nearly used up, the call at FILE:LINE:COL is a runtime
 * error naming `fn`. The depth is per thread; a runtime error resets it. */
void bp_recursion_enter(const char *file, int32_t line, int32_t col,
                        const char *fn);
void bp_recursion_leave(void);
/* Nested recursive calls allowed (default 1000000, or the environment
 * variable BP_RECURSION_LIMIT read at the first recursive call). */
void bp_set_recursion_limit(int64_t calls);
/* Backstop for stack overflows the guard does not see: installs, for the
 * calling thread, a SIGSEGV handler on an alternate signal stack that
 * reports a fault in the stack's guard area as `runtime error: stack
 * overflow` (then the error hook, then exit status 3); other faults keep
 * the default action. `file` is the program named in the message. bpc
 * installs it on the thread that runs JIT code; AOT users may. */
void bp_catch_stack_overflow(const char *file);

/* The reverse-mode tape: a LIFO of 8-byte slots. Generated code pushes and
 * pops inline and calls bp_tape_grow only when `size == cap`. A tape larger
 * than the limit (bp_set_tape_limit) is a runtime error at FILE:LINE:COL,
 * the operation whose value was being recorded. */
typedef struct bp_tape {
  uint64_t *data;
  int64_t size;
  int64_t cap;
} bp_tape;
void bp_tape_grow(bp_tape *t, const char *file, int32_t line, int32_t col);
/* Makes room for `n` more slots (one allocation before a loop whose trip
 * count is known, instead of growing inside it). */
void bp_tape_reserve(bp_tape *t, int64_t n, const char *file, int32_t line,
                     int32_t col);
void bp_tape_free(bp_tape *t);
/* Tensors on the tape: n slots copied in / out. */
void bp_tape_push_block(bp_tape *t, const double *data, int64_t n,
                        const char *file, int32_t line, int32_t col);
/* Largest tape allowed, in bytes (default 4096 MB, or the environment
 * variable BP_TAPE_LIMIT_MB read at the first tape growth). */
void bp_set_tape_limit(int64_t bytes);
void bp_tape_pop_block(bp_tape *t, double *dst, int64_t n);
/* Bytes the largest tape held so far (for benchmarks and tests). */
int64_t bp_tape_peak_bytes(void);

/* Forgets the recursion depth, arenas and tapes of this thread's BP calls.
 * A runtime error does this itself before it returns to bp_guarded_call
 * or runs the hook; this is for a program that abandoned BP calls some
 * other way. No BP function may be running on this thread. */
void bp_runtime_unwound(void);

/* Set (to nonzero) by `bpc repl`'s SIGINT handler; code compiled for an
 * interactive REPL reads it at every loop back edge and stops with the
 * runtime error `interrupted` (codegen::emitLLVM's `interruptible`). The
 * REPL clears it before each input. */
extern volatile int32_t bp_interrupt_requested;

#ifdef __cplusplus
}
#endif
#endif
