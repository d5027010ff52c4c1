//===- Distributed.cpp - the ranks of an `mpirun` job ---------------------===//
//
// The one file that sees MPI (Open MPI from Debian's libopenmpi-dev, found by
// CMake's FindMPI; BP_HAVE_MPI). Without it, `join` only checks that no
// mpirun with several ranks started this process.
//
//===----------------------------------------------------------------------===//
#include "driver/Distributed.h"

#include <algorithm>
#include <cstdlib>

#ifdef BP_HAVE_MPI
// MPI's C API only: Open MPI's (deprecated) C++ bindings need RTTI and
// their own library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace bp {
namespace {

/// The job size the launcher announces: Open MPI's mpirun sets
/// OMPI_COMM_WORLD_SIZE, MPICH's Hydra and Slurm's PMI set PMI_SIZE. 0: no
/// launcher started this process.
int launcherSize() {
  for (const char *var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char *v = std::getenv(var))
      return std::max(1, std::atoi(v));
  return 0;
}

} // namespace

uint64_t fingerprint(const void *bytes, size_t n, uint64_t h) {
  const unsigned char *p = static_cast<const unsigned char *>(bytes);
  for (size_t i = 0; i < n; ++i)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

#ifdef BP_HAVE_MPI

bool Ranks::join(std::string &err) {
  if (launcherSize() == 0)
    return true;
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  joined_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_,
                      MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &localSize_);
  MPI_Comm_free(&local);
  return true;
}

Ranks::~Ranks() {
  if (joined_ && agreedEnd_)
    MPI_Finalize();
}

void Ranks::sum(double *buf, int64_t n) const {
  if (size_ > 1)
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
}

void Ranks::max(int64_t *buf, int64_t n) const {
  if (size_ > 1)
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_INT64_T, MPI_MAX,
                  MPI_COMM_WORLD);
}

#else

bool Ranks::join(std::string &err) {
  int k = launcherSize();
  if (k <= 1)
    return true;
  err = "started by mpirun as one of " + std::to_string(k) +
        " ranks, but this bpc was built without MPI (it would train " +
        std::to_string(k) +
        " independent copies); install libopenmpi-dev and rebuild "
        "(docs/DISTRIBUTED.md)";
  return false;
}

Ranks::~Ranks() {}

void Ranks::sum(double *, int64_t) const {}

void Ranks::max(int64_t *, int64_t) const {}

#endif

Ranks::Agreement Ranks::agree(bool failed, uint64_t fp) const {
  // The maximum of (size - rank) over the failed ranks names the lowest;
  // a fingerprint is the same everywhere when its maximum and minimum
  // (the maximum of its negation) agree, in 32-bit halves.
  int64_t hi = (int64_t)(fp >> 32), lo = (int64_t)(fp & 0xffffffffu);
  int64_t v[5] = {failed ? size_ - rank_ : 0, hi, -hi, lo, -lo};
  max(v, 5);
  Agreement a;
  a.firstFailed = v[0] ? size_ - (int)v[0] : -1;
  a.same = v[1] == -v[2] && v[3] == -v[4];
  return a;
}

} // namespace bp
