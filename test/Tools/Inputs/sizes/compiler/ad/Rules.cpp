#include "ir/IR.h"
namespace bp::ad {
bool partials(int op) {
  switch (op) {
  case 0: return true;
  case 1: return true;
  case 2: return true;
  case 3: return true;
  case 4: return true;
  case 5: return true;
  case 6: return true;
  case 7: return true;
  case 8: return true;
  case 9: return true;
  case 10: return true;
  case 11: return true;
  case 12: return true;
  case 13: return true;
  case 14: return true;
  case 15: return true;
  case 16: return true;
  case 17: return true;
  case 18: return true;
  case 19: return true;
  case 20: return true;
  case 21: return true;
  case 22: return true;
  case 23: return true;
  case 24: return true;
  case 25: return true;
  case 26: return true;
  case 27: return true;
  case 28: return true;
  case 29: return true;
  }
  return false;
}
} // namespace bp::ad
