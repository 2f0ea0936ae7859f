// gemma4/io/mapped_file.h — a read-only memory map of a whole file (POSIX mmap), and ReadTextFile for small ones.
//
// Checkpoints are mapped, never read whole: the OS pages in only the bytes a forward pass touches
// (for E2B's 4.7 GB per-layer-embedding table, only the rows of the tokens seen).
#ifndef GEMMA4_MAPPED_FILE_H_
#define GEMMA4_MAPPED_FILE_H_

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "gemma4/error.h"

namespace gemma4 {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw Error(Str(path, ": cannot open (", std::strerror(errno), ")"));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(Str(path, ": not a regular file"));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        throw Error(Str(path, ": cannot map (", std::strerror(errno), ")"));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A whole (small) file read into memory: prompts, id lists, tokenizer and template files. Large tensors
// are mapped instead (MappedFile).
inline std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Str(path, ": cannot open"));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw Error(Str(path, ": read error"));
  return bytes.str();
}

}  // namespace gemma4

#endif  // GEMMA4_MAPPED_FILE_H_
