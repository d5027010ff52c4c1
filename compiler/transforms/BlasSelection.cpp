//===- BlasSelection.cpp - matmuls computed by cblas_dgemm ----------------===//
#include "transforms/BlasSelection.h"
#include "transforms/Uses.h"

namespace bp::transforms {

/// Measured by bench/matmul.cpp (numbers in docs/TENSORS.md): the loops'
/// unit-stride inner loop runs over N, so a narrow N (< 32) favours dgemm,
/// and above 64^3 multiply-adds dgemm's cache blocking wins (1.2x at 96^3,
/// 2.3x at 512^3); below 8^3 the call costs more than the loops.
bool preferBlas(int64_t M, int64_t K, int64_t N) {
  int64_t macs = M * K * N;
  return macs >= 8 * 8 * 8 && (N < 32 || macs > 64 * 64 * 64);
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
