//===- InputFile.h - a fuzz input as a file the runtime can open ---------===//
//
// The runtime's parsers (bp_read_csv, bp_load_params) read files by path.
// InputFile holds one memfd for the whole process (a regular file in
// memory: the runtime opens it again through /proc/self/fd/N and fstat sees
// S_ISREG); set() replaces its contents with each input, so no input
// touches the disk and nothing is left behind.
//
//===----------------------------------------------------------------------===//
#ifndef BP_FUZZ_INPUTFILE_H
#define BP_FUZZ_INPUTFILE_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>

namespace bp::fuzz {

class InputFile {
public:
  InputFile() {
    fd = memfd_create("bp-fuzz-input", MFD_CLOEXEC);
    if (fd < 0) {
      perror("memfd_create");
      abort();
    }
    snprintf(pathBuf, sizeof pathBuf, "/proc/self/fd/%d", fd);
  }
  /// The file's contents are now data[0, size).
  void set(const uint8_t *data, size_t size) {
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
      perror("InputFile::set");
      abort();
    }
  }
  const char *path() const { return pathBuf; }

private:
  int fd;
  char pathBuf[64];
};

/// Runs `body` with the C stream `stderr` pointed at /dev/null (the
/// runtime's error messages), unless BP_FUZZ_OUTPUT is set. Sanitizer and
/// libFuzzer reports do not go through this stream (they write to file
/// descriptor 2, or to their own copy of it), so they still appear.
template <typename Body> void quietly(Body body) {
  static FILE *devnull =
      getenv("BP_FUZZ_OUTPUT") ? nullptr : fopen("/dev/null", "w");
  FILE *saved = stderr;
  if (devnull)
    stderr = devnull;
  body();
  stderr = saved;
}

} // namespace bp::fuzz

#endif
