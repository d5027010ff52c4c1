//===- FileIO.cpp - bounded reads and checked, atomic writes -------------===//
#include "support/FileIO.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace bp {
namespace {

ReadResult failed(ReadFailure f, int err = 0) {
  return {f, err ? std::strerror(err) : ""};
}

/// The directory a new file next to `path` goes into.
std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// A fresh temporary file next to `path` (mkstemp), its fd into `fd`.
bool makeTemp(const std::string &path, std::string &tmp, int &fd,
              std::string &err) {
  std::string dir = directoryOf(path);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    err = "cannot write '" + path + "': '" + dir + "' is not a directory";
    return false;
  }
  tmp = path + ".tmpXXXXXX";
  fd = mkstemp(tmp.data());
  if (fd < 0) {
    err = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

} // namespace

ReadResult readRegularFile(const std::string &path, uint64_t limit,
                           std::string &out) {
  out.clear();
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return failed(ReadFailure::Open, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return failed(ReadFailure::Open, e);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return failed(ReadFailure::NotRegular);
  }
  if ((uint64_t)st.st_size > limit) {
    close(fd);
    return failed(ReadFailure::TooLarge);
  }
  out.reserve((size_t)st.st_size);
  char buf[1 << 16];
  while (true) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      int e = errno;
      close(fd);
      return failed(ReadFailure::Read, e);
    }
    if (got == 0)
      break;
    if (out.size() + (uint64_t)got > limit) {
      close(fd);
      return failed(ReadFailure::TooLarge);
    }
    out.append(buf, (size_t)got);
  }
  close(fd);
  return {};
}

std::string describeReadFailure(const ReadResult &r, const std::string &path,
                                const std::string &what, uint64_t limit,
                                const std::string &hint) {
  switch (r.failure) {
  case ReadFailure::None:
    return "";
  case ReadFailure::Open:
    return "cannot read '" + path + "'";
  case ReadFailure::NotRegular:
    return "'" + path + "' is not a regular file";
  case ReadFailure::TooLarge:
    return what + " '" + path + "' is larger than the limit of " +
           showLimit(limit) + hint;
  case ReadFailure::Read:
    return "cannot read " + what + " '" + path + "': " + r.reason;
  }
  return "";
}

bool dataLimitBytes(uint64_t &bytes, std::string &err) {
  bytes = (uint64_t)1024 << 20;
  const char *v = std::getenv("BP_DATA_LIMIT_MB");
  if (!v)
    return true;
  char *end = nullptr;
  errno = 0;
  long long n = std::strtoll(v, &end, 10);
  if (!*v || *end || errno || n <= 0 || (uint64_t)n > (UINT64_MAX >> 20)) {
    err = std::string("BP_DATA_LIMIT_MB must be a positive integer, found '") +
          v + "'";
    return false;
  }
  bytes = (uint64_t)n << 20;
  return true;
}

std::string showLimit(uint64_t bytes) {
  return bytes >= (1 << 20) ? std::to_string(bytes >> 20) + " MB"
                            : std::to_string(bytes) + " bytes";
}

bool checkWritable(const std::string &path, std::string &err) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    err = "cannot write '" + path + "': it is not a regular file";
    return false;
  }
  std::string tmp;
  int fd;
  if (!makeTemp(path, tmp, fd, err))
    return false;
  close(fd);
  unlink(tmp.c_str());
  return true;
}

bool writeFileAtomically(const std::string &path, const std::string &contents,
                         std::string &err) {
  if (!checkWritable(path, err))
    return false;
  std::string tmp;
  int fd;
  if (!makeTemp(path, tmp, fd, err))
    return false;
  auto fail = [&](int e) {
    err = "cannot write '" + path + "': " + std::strerror(e);
    if (fd >= 0)
      close(fd);
    unlink(tmp.c_str());
    return false;
  };
  // mkstemp makes the file 0600; a params file is as readable as any other.
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, 0666 & ~mask) != 0)
    return fail(errno);
  for (size_t done = 0; done < contents.size();) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail(n < 0 ? errno : EIO);
    done += (size_t)n;
  }
  if (fsync(fd) != 0)
    return fail(errno);
  int closed = close(fd);
  fd = -1;
  if (closed != 0)
    return fail(errno);
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return fail(errno);
  return true;
}

bool sameFile(const std::string &a, const std::string &b) {
  std::error_code ec;
  bool same = std::filesystem::equivalent(a, b, ec);
  return !ec && same;
}

} // namespace bp
