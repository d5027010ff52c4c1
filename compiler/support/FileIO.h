//===- FileIO.h - bounded reads and checked, atomic writes ------*- C++ -*-===//
//
// Every file bpc reads (sources, training data, params files) is read
// through readRegularFile: a regular file, its size checked before reading
// and the read capped, so /dev/zero or a FIFO never grows memory or blocks.
// Every file bpc writes whole (params files) goes through writeFileAtomically:
// a temporary file next to it, each write checked, fsync, then rename, so a
// failed write leaves the old file (or none), never a partial one.
//
//===----------------------------------------------------------------------===//
#ifndef BP_SUPPORT_FILEIO_H
#define BP_SUPPORT_FILEIO_H

#include <cstdint>
#include <string>

namespace bp {

/// Why readRegularFile failed.
enum class ReadFailure {
  None,
  Open,       // the file cannot be opened (it does not exist, ...)
  NotRegular, // a directory, a device, a FIFO or a socket
  TooLarge,   // more than the limit, by its size or by what a read gave
  Read,       // a read failed part way: `out` holds the bytes before it
};

/// What readRegularFile found: the failure, and for Open and Read the
/// system's reason (strerror).
struct ReadResult {
  ReadFailure failure = ReadFailure::None;
  std::string reason;
  explicit operator bool() const { return failure == ReadFailure::None; }
};

/// Reads the regular file `path` into `out`, at most `limit` bytes: a
/// larger file is refused before anything is read (by its size), or as
/// soon as a read passes the limit (files whose size says nothing, as in
/// /proc). Opening never blocks (O_NONBLOCK: a FIFO is refused, not waited
/// on).
ReadResult readRegularFile(const std::string &path, uint64_t limit,
                           std::string &out);

/// The message of a failed read of `path`, a `what` ("source file",
/// "data file") whose limit is `limit` bytes; `hint` follows a TooLarge
/// message (how to allow more). An Open failure reads `cannot read 'PATH'`.
std::string describeReadFailure(const ReadResult &r, const std::string &path,
                                const std::string &what, uint64_t limit,
                                const std::string &hint = "");

/// The size limit of data and params files into `bytes`: BP_DATA_LIMIT_MB
/// megabytes when set, else 1024 MB (docs/TRAINING.md). False, with `err`
/// set, when BP_DATA_LIMIT_MB is not a positive integer.
bool dataLimitBytes(uint64_t &bytes, std::string &err);

/// `N MB`: a limit in bytes as the messages show it.
std::string showLimit(uint64_t bytes);

/// Whether `path` can be replaced by writeFileAtomically, checked without
/// touching it: an existing `path` is a regular file, and its directory
/// exists and takes a new file (one is created and removed). False with
/// `err` set (naming the file) otherwise.
bool checkWritable(const std::string &path, std::string &err);

/// Replaces `path` with `contents`: written to a temporary file in the same
/// directory, every write checked, fsync'd, closed, then renamed over
/// `path`. On failure `err` names the file and the reason, the temporary
/// file is removed, and `path` is as it was.
bool writeFileAtomically(const std::string &path, const std::string &contents,
                         std::string &err);

/// Whether `a` and `b` name the same existing file (hard links and
/// different spellings included).
bool sameFile(const std::string &a, const std::string &b);

} // namespace bp

#endif // BP_SUPPORT_FILEIO_H
