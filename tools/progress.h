// tools/progress.h — one progress bar for every tool (loading, quantizing, perplexity): a single line on
// stderr, redrawn at most ten times a second, and only when stderr is a terminal (logs stay clean).
#ifndef GEMMA4_TOOLS_PROGRESS_H_
#define GEMMA4_TOOLS_PROGRESS_H_

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace gemma4::tools {

class ProgressBar {
 public:
  ProgressBar(std::string label, size_t total, bool enabled = isatty(STDERR_FILENO) != 0)
      : label_(std::move(label)), total_(total ? total : 1), enabled_(enabled),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressBar() { finish(); }

  // done of total; `note` is shown after the bar (e.g. "ppl 12.3").
  void update(size_t done, const std::string& note = "") {
    if (!enabled_ || finished_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const int width = 30, filled = int(double(width) * double(done) / double(total_));
    const double seconds = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s [%s%s] %3d%% %.1fs %s\033[K", label_.c_str(), std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(width - filled), '.').c_str(), int(100.0 * double(done) / double(total_)), seconds,
                 note.c_str());
    std::fflush(stderr);
  }
  // Clears the line (the tool prints its own summary).
  void finish() {
    if (!enabled_ || finished_) return;
    finished_ = true;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  std::string label_;
  size_t total_;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace gemma4::tools

#endif  // GEMMA4_TOOLS_PROGRESS_H_
