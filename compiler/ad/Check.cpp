#include "ad/Check.h"
namespace bp::ad {
bool checkDerived(const ir::Module &m, const sema::Program &prog, JIT &jit,
                  std::ostream &os) {
  return false;
}
} // namespace bp::ad
