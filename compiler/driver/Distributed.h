//===- Distributed.h - the ranks of an `mpirun` job ------------*- C++ -*-===//
//
// Input:  the environment mpirun gives its processes (OMPI_COMM_WORLD_SIZE,
//         PMI_SIZE).
// Output: this process's rank among the K that train together
//         (LANGUAGE.md section 18, docs/DISTRIBUTED.md), and the collectives
//         `bpc train` needs: a sum and a maximum over the ranks.
// Preserves: without mpirun, one rank of one and no MPI call at all. Only
//         Distributed.cpp sees MPI's headers (BP_HAVE_MPI).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>

namespace bp {

/// The processes `bpc train` runs on: this one alone, or the ranks of the
/// `mpirun -np K` job that started it (MPI_COMM_WORLD). Every collective
/// must be called by every rank, in the same order.
class Ranks {
public:
  Ranks() = default; // alone: rank 0 of 1
  Ranks(const Ranks &) = delete;
  Ranks &operator=(const Ranks &) = delete;
  /// MPI_Finalize, when this process joined a job and every rank agreed to
  /// end here (agreedEnd()). Otherwise it leaves without it: the other
  /// ranks may be waiting in a collective, and mpirun ends the job when a
  /// process exits non-zero without MPI_Finalize.
  ~Ranks();

  /// Joins the job when mpirun started this process (MPI_Init_thread,
  /// funneled: only the main thread calls MPI). False with `err` when
  /// started with K > 1 ranks by a bpc built without MPI, which would
  /// otherwise train K independent copies.
  bool join(std::string &err);

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool isRoot() const { return rank_ == 0; }
  /// The ranks of the job on this machine (MPI_COMM_TYPE_SHARED).
  int localSize() const { return localSize_; }
  /// Whether mpirun started this process (and it joined the job).
  bool joined() const { return joined_; }

  /// In place, buf[i] := the sum over the ranks of their buf[i]: one
  /// MPI_Allreduce. Every rank gets the same bits.
  void sum(double *buf, int64_t n) const;
  /// In place, buf[i] := the maximum over the ranks: one MPI_Allreduce.
  void max(int64_t *buf, int64_t n) const;

  /// The lowest rank whose `failed` is true (-1: none), and whether every
  /// rank passed the same `fingerprint`: one MPI_Allreduce.
  struct Agreement {
    int firstFailed = -1;
    bool same = true;
  };
  Agreement agree(bool failed, uint64_t fingerprint) const;

  /// Every rank is at the same point and ends the job from here: the
  /// destructor may call MPI_Finalize.
  void agreedEnd() { agreedEnd_ = true; }

private:
  int rank_ = 0, size_ = 1, localSize_ = 1;
  bool joined_ = false, agreedEnd_ = false;
};

/// FNV-1a over `n` bytes, continuing from `h`: the fingerprints ranks
/// compare.
uint64_t fingerprint(const void *bytes, size_t n,
                     uint64_t h = 0xcbf29ce484222325ull);

} // namespace bp
