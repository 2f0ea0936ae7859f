// gemma4/io/mapped_file.h — a read-only memory map of a whole file (POSIX mmap), and ReadTextFile for small ones.
//
// Checkpoints are mapped, never read whole: the OS pages in only the bytes a forward pass touches
// (for E2B's 4.7 GB per-layer-embedding table, only the rows of the tokens seen).
//
// Trap: a file truncated (or replaced in place) while mapped makes every read of a page past its new end
// raise SIGBUS, which kills the process (exit 135) wherever the read happens — deep inside a kernel. A
// size check before each read cannot close the window, and reading with pread instead of mapping would
// give up lazy paging. So: the first MappedFile installs a SIGBUS handler that, for an address inside a
// live mapping (a lock-free table of them), maps a page of zeros over the faulting page and counts the
// fault; the read then completes, with zeros. Nothing jumps out of a signal handler, so no C++ frame is
// skipped. The results computed from those zeros are never shown: CheckMappedFiles() — called where a
// result leaves the library (after loading weights, after every Session step, after quantizing) — throws
// an Error naming the file. A SIGBUS at any other address goes to the previous handler (or kills, as before).
#ifndef GEMMA4_MAPPED_FILE_H_
#define GEMMA4_MAPPED_FILE_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include "gemma4/error.h"
#include "ops/device.h"

namespace gemma4 {

namespace mapped_detail {

// The live mappings, read by the SIGBUS handler (atomics only: it may run at any moment in any thread).
struct Region {
  std::atomic<uintptr_t> begin{0}, end{0};  // [begin, end); 0, 0: a free slot
  std::atomic<long> faults{0};               // pages replaced by zeros since the file was mapped
};
constexpr size_t kMaxRegions = 1024;
inline Region g_regions[kMaxRegions];
inline std::string g_paths[kMaxRegions];     // names for CheckMappedFiles (under g_mutex, never read by the handler)
inline std::mutex g_mutex;
inline struct sigaction g_previous;
inline uintptr_t g_page_size = 4096;

inline void OnSigbus(int sig, siginfo_t* info, void* context) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Region& r : g_regions) {
    const uintptr_t b = r.begin.load(std::memory_order_acquire), e = r.end.load(std::memory_order_acquire);
    if (b <= a && a < e) {
      void* page = reinterpret_cast<void*>(a & ~(g_page_size - 1));
      if (::mmap(page, g_page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
        r.faults.fetch_add(1, std::memory_order_relaxed);
        return;  // the read is retried and now sees zeros
      }
    }
  }
  if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction) {
    g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && g_previous.sa_handler) {
    g_previous.sa_handler(sig);
  } else {
    ::signal(SIGBUS, SIG_DFL);  // not ours: returning re-raises it, and the default action ends the process
  }
}

inline void InstallSigbusHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_page_size = uintptr_t(::sysconf(_SC_PAGESIZE));
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_sigaction = OnSigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &g_previous);
  });
}

// Registers [data, data + size) as `path`; returns its slot, or -1 when the table is full (that mapping
// then keeps the old behaviour: a SIGBUS on it ends the process).
inline int Register(const uint8_t* data, size_t size, const std::string& path) {
  InstallSigbusHandler();
  std::lock_guard<std::mutex> lock(g_mutex);
  for (size_t i = 0; i < kMaxRegions; ++i) {
    Region& r = g_regions[i];
    if (r.end.load(std::memory_order_relaxed) != 0) continue;
    g_paths[i] = path;
    r.faults.store(0, std::memory_order_relaxed);
    r.begin.store(reinterpret_cast<uintptr_t>(data), std::memory_order_release);
    r.end.store(reinterpret_cast<uintptr_t>(data) + size, std::memory_order_release);
    return int(i);
  }
  return -1;
}

inline void Unregister(int slot) {
  if (slot < 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_regions[slot].end.store(0, std::memory_order_release);
  g_regions[slot].begin.store(0, std::memory_order_release);
}

}  // namespace mapped_detail

// Throws an Error naming the first mapped file that was truncated (or shrunk) while in use: the bytes
// read from it since were zeros, so whatever was computed from them must not be used.
inline void CheckMappedFiles() {
  using namespace mapped_detail;
  std::lock_guard<std::mutex> lock(g_mutex);
  for (size_t i = 0; i < kMaxRegions; ++i)
    if (g_regions[i].end.load(std::memory_order_acquire) != 0 && g_regions[i].faults.load(std::memory_order_relaxed) > 0)
      throw Error(Str(g_paths[i], ": the file was truncated while in use (", g_regions[i].faults.load(),
                      " pages could not be read); nothing computed from it since is valid"));
}

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
      slot_ = mapped_detail::Register(data_, size_, path_);
    }
    ::close(fd);
  }
  ~MappedFile() {
    mapped_detail::Unregister(slot_);
    ops::ForgetDeviceCopies(data_, size_);  // a device (ops/device.h) may hold copies of these weights
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
  int slot_ = -1;  // in mapped_detail::g_regions
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
