// gemma4/io/temp_file.h — writing a file atomically: the bytes go to PATH.tmp, which is renamed over PATH only
// once complete, and removed on any failure (a write error such as a full disk, an exception) — and, in a
// program that calls RemoveTempFileOnSignal(), also when SIGINT, SIGTERM or SIGHUP ends the process. So a
// destination is always either its old content or absent, never half-written, and no PATH.tmp is left.
// The one place that does this for every writer (GGUF, safetensors).
#ifndef GEMMA4_TEMP_FILE_H_
#define GEMMA4_TEMP_FILE_H_

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "gemma4/error.h"

namespace gemma4 {

namespace temp_file_detail {
// The temporary file being written (one at a time per process), for the signal handler: a fixed buffer,
// read in the handler with async-signal-safe calls only.
inline char g_path[4096];
inline volatile std::sig_atomic_t g_active = 0;

inline void OnTerminate(int sig) {
  if (g_active) ::unlink(g_path);
  ::signal(sig, SIG_DFL);  // then die of the same signal, as without the handler
  ::raise(sig);
}
}  // namespace temp_file_detail

// Makes SIGINT, SIGTERM and SIGHUP remove the temporary file being written before the process ends.
// A signal the process was started with ignored (nohup, a background job's SIGINT) stays ignored.
// Signals a program handles itself (gemma4-run's Ctrl-C) should be installed after this.
inline void RemoveTempFileOnSignal() {
  struct sigaction sa, old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = temp_file_detail::OnTerminate;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_IGN) ::sigaction(sig, &sa, nullptr);
}

class TempFile {
 public:
  // Creates PATH.tmp; `path` itself is untouched until commit().
  explicit TempFile(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    if (tmp_.size() >= sizeof temp_file_detail::g_path) throw Error(Str(path, ": path too long"));
    std::memcpy(temp_file_detail::g_path, tmp_.c_str(), tmp_.size() + 1);
    temp_file_detail::g_active = 1;
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (!file_) {
      const int error = errno;
      temp_file_detail::g_active = 0;
      throw Error(Str(path, ": cannot create (", std::strerror(error), ")"));  // the user's path, not PATH.tmp
    }
  }
  ~TempFile() { discard(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  FILE* file() const { return file_; }
  // Writes n bytes; false on a short write (disk full, file size limit): then error() says why.
  bool write(const void* data, size_t n) {
    if (n == 0 || std::fwrite(data, 1, n, file_) == n) return true;
    errno_ = errno;
    return false;
  }
  // "write failed (No space left on device)", for the message of a failed write().
  std::string error() const { return Str("write failed (", errno_ ? std::strerror(errno_) : "short write", ")"); }

  // Closes PATH.tmp and renames it over PATH; an Error (PATH.tmp removed) if either fails.
  void commit() {
    FILE* f = file_;
    file_ = nullptr;
    const bool ok = std::fclose(f) == 0 && std::rename(tmp_.c_str(), path_.c_str()) == 0;
    const int error = errno;
    if (!ok) std::remove(tmp_.c_str());
    temp_file_detail::g_active = 0;
    if (!ok) throw Error(Str(path_, ": write failed (", std::strerror(error), ")"));
  }

  // Closes and removes PATH.tmp (nothing after commit()).
  void discard() {
    if (!file_) return;
    std::fclose(file_);
    file_ = nullptr;
    std::remove(tmp_.c_str());
    temp_file_detail::g_active = 0;
  }

 private:
  std::string path_, tmp_;
  FILE* file_ = nullptr;
  int errno_ = 0;
};

}  // namespace gemma4

#endif  // GEMMA4_TEMP_FILE_H_
