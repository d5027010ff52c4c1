//===- BlasSelection.cpp - matmuls computed by cblas_dgemm ----------------===//
#include "transforms/BlasSelection.h"
#include "transforms/Uses.h"

namespace bp::transforms {

/// Measured by bench/matmul.cpp (numbers in docs/TENSORS.md): from 8^3
/// multiply-adds up dgemm is as fast as the generated loops or faster, on
/// both hosts measured (on the Intel Xeon the loops took 2.4x dgemm's time
/// at 32^3-64^3; on the AMD EPYC they were 10-15% faster there but 1.2-2.3x
/// slower above and at narrow N); below 8^3 the call costs more than the
/// loops.
bool preferBlas(int64_t M, int64_t K, int64_t N) {
  return M * K * N >= 8 * 8 * 8;
}

void selectBlas(ir::Module &m, bool useBlas) {
  for (auto &f : m.functions)
    forEachOp(*f->body, [&](ir::Op &op) {
      op.decided.blas = false;
      if (op.kind != ir::OpKind::MatMul || !useBlas)
        return;
      const Type *at = op.operands[0]->type, *bt = op.operands[1]->type;
      op.decided.blas = at->rank() == 2 && bt->rank() == 2 &&
                        preferBlas(at->shape[0], at->shape[1], bt->shape[1]);
    });
}

} // namespace bp::transforms
