// ops/device.h — where the ops run: the CPU (the default), or a device backend such as CUDA (ops/cuda/).
//
// The seam. gemma4/*.h calls ops::MatMul, ops::RMSNorm, … on plain pointers and never knows where they run.
// Each of those wrappers (ops/ops.h) first offers the call to the active device's table below; an entry that
// is null, or that returns false ("not mine": a K-quant, a host-only pointer), leaves the call to the CPU
// kernel, which then runs on the very same pointers. Like the numerics mode (ops/numerics.h) the device is
// process-wide and chosen once, before a model and its Session are made (the tools' --device flag; library
// users call ops::SetDevice with e.g. ops::cuda::Device()).
//
// Memory. Everything a Session owns — the activations (ForwardState), the KV cache, the logits — is an
// ops::Buffer, whose allocator asks the device active when the buffer was made. The CUDA backend gives
// managed memory (cudaMallocManaged): its pages live in GPU memory while only kernels touch them, so the
// residual stream, the K/V and the scratch never cross the bus between ops, and the few host loops that
// remain in the blocks (listed in ops/cuda/README.md) still read and write the same pointers correctly,
// at the price of a page migration. Only what a user looks at (logits, capture points) comes back.
// Weights are read in place from the mapped checkpoint on the CPU; a device copies each weight matrix into
// its own memory the first time a kernel reads it and keeps it there (weights are immutable once loaded).
//
// Contract of a device entry (same as the CPU kernel): when it returns true, the result is complete and
// visible to the host, so the caller may read it or hand it to a CPU op next.
// Plain C++: included by ops/ops.h and by the CUDA library's .cu files (no Highway here).
#ifndef GEMMA4_OPS_DEVICE_H_
#define GEMMA4_OPS_DEVICE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/attention_scalar.h"  // KVBlock
#include "ops/dtype.h"

namespace gemma4::ops {

// A device backend: a name, its memory, and one entry per op (signatures as in ops/ops.h). Null entry or
// false return: the CPU kernel runs instead.
struct DeviceOps {
  const char* name = "cpu";
  void* (*alloc)(size_t bytes) = nullptr;  // memory the device and the host can both address
  void (*free)(void* p) = nullptr;
  bool (*matmul)(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out) = nullptr;
  bool (*to_f32)(const void* src, DType t, size_t n, float scale, float* dst) = nullptr;
  bool (*rms_norm)(const float* x, size_t rows, size_t n, const float* weight, float eps, float* y) = nullptr;
  bool (*gelu_tanh_mul)(float* x, const float* y, size_t n) = nullptr;
  bool (*softcap)(float* x, size_t n, float cap) = nullptr;
  bool (*softmax)(float* x, size_t n) = nullptr;
  bool (*add_scaled)(float* x, const float* y, float s, size_t n) = nullptr;
  bool (*scale)(float* x, size_t n, float s) = nullptr;
  bool (*copy)(float* dst, const float* src, size_t n) = nullptr;
  bool (*argmax)(const float* x, size_t n, size_t* index) = nullptr;
  bool (*rope)(float* x, size_t T, size_t num_heads, size_t head_dim, const float* cos, const float* sin,
               size_t rotary_pairs) = nullptr;
  bool (*attention)(const float* q, size_t T, size_t num_heads, size_t head_dim, size_t q_pos0,
                    const KVBlock* blocks, size_t num_blocks, size_t num_kv_heads, size_t window, float scale,
                    float* out) = nullptr;
  // Host bytes [p, p + n) are going away (a checkpoint is unmapped): drop any device copy of them.
  void (*forget)(const void* p, size_t n) = nullptr;
};

inline std::atomic<const DeviceOps*>& DeviceSetting() {
  static std::atomic<const DeviceOps*> device{nullptr};
  return device;
}
// The active device backend; nullptr: the CPU.
inline const DeviceOps* ActiveDevice() { return DeviceSetting().load(std::memory_order_relaxed); }
// The last device ever chosen: it may still hold copies of weights after a switch back to the CPU.
inline std::atomic<const DeviceOps*>& LastDeviceSetting() {
  static std::atomic<const DeviceOps*> device{nullptr};
  return device;
}
// Chooses the device for what is made from now on (nullptr: the CPU). Buffers already made keep theirs.
inline void SetDevice(const DeviceOps* device) {
  if (device) LastDeviceSetting().store(device, std::memory_order_relaxed);
  DeviceSetting().store(device, std::memory_order_relaxed);
}
// Called by whoever frees host memory that weights were read from (gemma4/io/mapped_file.h), so that a
// later mapping at the same address is never mistaken for the weights a device copied.
inline void ForgetDeviceCopies(const void* p, size_t n) {
  const DeviceOps* d = LastDeviceSetting().load(std::memory_order_relaxed);
  if (d && d->forget) d->forget(p, n);
}
inline const char* DeviceName() { return ActiveDevice() ? ActiveDevice()->name : "cpu"; }

// Offers an op to the active device: true when it ran there, false when the CPU kernel must run.
template <class Fn, class... Args>
inline bool OnDevice(Fn DeviceOps::*entry, Args... args) {
  const DeviceOps* d = ActiveDevice();
  return d && d->*entry && (d->*entry)(args...);
}

// The allocator of every buffer a Session owns: from the device active when the buffer is made (and freed
// by that same device), plain heap memory on the CPU.
template <class T>
struct DeviceAllocator {
  using value_type = T;
  const DeviceOps* device = ActiveDevice();

  DeviceAllocator() = default;
  template <class U>
  DeviceAllocator(const DeviceAllocator<U>& other) : device(other.device) {}

  T* allocate(size_t n) {
    if (n > size_t(-1) / sizeof(T)) throw std::bad_alloc();
    void* p = device && device->alloc ? device->alloc(n * sizeof(T)) : std::malloc(n * sizeof(T));
    if (!p && n) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) {
    if (device && device->free) device->free(p);
    else std::free(p);
  }
  template <class U>
  bool operator==(const DeviceAllocator<U>& o) const { return device == o.device; }
  template <class U>
  bool operator!=(const DeviceAllocator<U>& o) const { return device != o.device; }
};

// An array that lives where the ops run (see above). Same interface as std::vector.
template <class T>
using Buffer = std::vector<T, DeviceAllocator<T>>;

}  // namespace gemma4::ops

#endif  // GEMMA4_OPS_DEVICE_H_
