// ops/cuda/backend.cu — the CUDA device table (ops/device.h's DeviceOps) on device 0: its memory, the
// device copies of the weights, and one entry per op that launches the kernel of ops/cuda/kernels.cu.
//
// What runs where.
//   - Activations, the KV cache and the logits are ops::Buffer arrays made while this device was active:
//     managed memory (cudaMallocManaged), resident in GPU memory while only kernels touch them.
//   - Weight matrices (MatMul's w) are copied to device memory on first use and kept (cudaMalloc), keyed
//     by their host address; a checkpoint's unmapping drops its copies (ops::ForgetDeviceCopies).
//   - Embedding rows (ToF32) are gathered on the GPU when their table is already resident (a tied LM head
//     uploads it); otherwise the CPU gathers the rows into the managed activations, so a table read only
//     row by row (E2B's 4.7 GB PLE table) stays in host memory and only the rows of the tokens seen go up.
//   - Norm weights (small, f32 on the host) are staged to the device on each call: no copy can go stale.
//   - An entry returns false, and the CPU kernel runs on the same pointers, when an argument is plain host
//     memory (not managed, not device), or for what has no kernel here: K-quant weights (Q4_K, Q5_K, Q6_K),
//     `fast` numerics (ops/ops.h never offers those), a failed device allocation.
// Every entry waits for its kernel before returning (cudaDeviceSynchronize), so the host loops the blocks
// keep (ops/cuda/README.md) always see finished results. That costs a few microseconds per op; removing it
// (stream-ordered host work) is the first speed step once this backend has run on a GPU.
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "ops/cuda/cuda.h"
#include "ops/cuda/kernels.h"

namespace gemma4::ops::cuda {
namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

// An op is complete when its entry returns (ops/device.h's contract).
bool Finish(const char* op) {
  Check(cudaGetLastError(), op);
  Check(cudaDeviceSynchronize(), op);
  return true;
}

// Memory a kernel may touch: device or managed. Plain host memory (pageable or pinned) is left to the CPU.
bool OnGpu(const void* p) {
  if (!p) return false;
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error of an unknown pointer
    return false;
  }
  return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

// Device copies of host weights, and the scratch the kernels need. Lives as long as the process.
struct Residency {
  std::mutex mu;
  std::map<uintptr_t, std::pair<uintptr_t, void*>> copies;  // host begin → (host end, device copy)
  size_t bytes = 0;
  float* scratch = nullptr;  // attention scores
  size_t scratch_floats = 0;
  float* staging = nullptr;  // norm weights
  size_t staging_floats = 0;
  size_t* index = nullptr;   // Argmax's answer
};
Residency& State() {
  static Residency r;
  return r;
}

// The device address of host bytes [p, p + n) if a copy holds them (caller holds mu).
const void* FindLocked(Residency& r, const void* p, size_t n) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = r.copies.upper_bound(a);
  if (it == r.copies.begin()) return nullptr;
  --it;
  if (a + n > it->second.first) return nullptr;
  return static_cast<const uint8_t*>(it->second.second) + (a - it->first);
}
const void* Find(const void* p, size_t n) {
  Residency& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  return FindLocked(r, p, n);
}

// Drops the copies that overlap host bytes [a, a + n) (caller holds mu).
void ForgetLocked(Residency& r, uintptr_t a, size_t n) {
  for (auto it = r.copies.begin(); it != r.copies.end();) {
    if (it->first < a + n && it->second.first > a) {  // overlaps [p, p + n)
      cudaFree(it->second.second);
      r.bytes -= it->second.first - it->first;
      it = r.copies.erase(it);
    } else {
      ++it;
    }
  }
}
// The device address of weight bytes [p, p + n): p itself when it is already device-addressable, else a
// copy made now and kept. nullptr when the device has no room (the CPU then computes the op).
const void* Resident(const void* p, size_t n) {
  if (OnGpu(p)) return p;
  Residency& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  if (const void* d = FindLocked(r, p, n)) return d;
  const auto a = reinterpret_cast<uintptr_t>(p);
  ForgetLocked(r, a, n);  // a copy of part of these bytes (or of bytes freed since): replaced by the whole
  void* d = nullptr;
  if (cudaMalloc(&d, n) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  Check(cudaMemcpy(d, p, n, cudaMemcpyHostToDevice), "weight upload");
  r.copies[a] = {a + n, d};
  r.bytes += n;
  return d;
}

void Forget(const void* p, size_t n) {
  Residency& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  ForgetLocked(r, reinterpret_cast<uintptr_t>(p), n);
}

// A device buffer of at least n floats, grown (never shrunk) on demand (caller holds mu).
float* Grow(float** buf, size_t* have, size_t n) {
  if (n > *have) {
    if (*buf) cudaFree(*buf);
    *buf = nullptr;
    *have = 0;
    Check(cudaMalloc(reinterpret_cast<void**>(buf), n * sizeof(float)), "scratch allocation");
    *have = n;
  }
  return *buf;
}

void* Alloc(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  if (cudaMallocManaged(&p, bytes) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;  // ops::DeviceAllocator throws std::bad_alloc
  }
  return p;
}
void Free(void* p) {
  if (p) cudaFree(p);
}

bool MatMul(const float* x, size_t T, size_t K, const void* w, DType wtype, size_t N, float* out) {
  if (!HasKernelFor(wtype) || (IsBlockType(wtype) && K % BlockSize(wtype)) || !OnGpu(x) || !OnGpu(out))
    return false;
  if (T == 0 || N == 0) return true;
  const void* dw = Resident(w, N * RowBytes(wtype, K));
  if (!dw) return false;
  LaunchMatMul(x, T, K, dw, wtype, N, out);
  return Finish("MatMul");
}

bool ToF32(const void* src, DType t, size_t n, float scale, float* dst) {
  if (!HasKernelFor(t) || (IsBlockType(t) && n % BlockSize(t)) || !OnGpu(dst)) return false;
  if (n == 0) return true;
  const void* s = OnGpu(src) ? src : Find(src, RowBytes(t, n));
  if (!s) return false;  // a table that is not resident: the CPU gathers the row
  LaunchToF32(s, t, n, scale, dst);
  return Finish("ToF32");
}

bool RMSNorm(const float* x, size_t rows, size_t n, const float* weight, float eps, float* y) {
  if (!OnGpu(x) || !OnGpu(y)) return false;
  if (rows == 0 || n == 0) return true;
  Residency& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  const float* w = weight;
  if (weight && !OnGpu(weight)) {
    float* staged = Grow(&r.staging, &r.staging_floats, n);
    Check(cudaMemcpy(staged, weight, n * sizeof(float), cudaMemcpyHostToDevice), "RMSNorm weight");
    w = staged;
  }
  LaunchRMSNorm(x, rows, n, w, eps, y);
  return Finish("RMSNorm");
}

bool GeluTanhMul(float* x, const float* y, size_t n) {
  if (!OnGpu(x) || (y && !OnGpu(y))) return false;
  LaunchGeluTanhMul(x, y, n);
  return Finish("GeluTanhMul");
}
bool Softcap(float* x, size_t n, float cap) {
  if (!OnGpu(x)) return false;
  LaunchSoftcap(x, n, cap);
  return Finish("Softcap");
}
bool Softmax(float* x, size_t n) {
  if (!OnGpu(x)) return false;
  LaunchSoftmax(x, n);
  return Finish("Softmax");
}
bool AddScaled(float* x, const float* y, float s, size_t n) {
  if (!OnGpu(x) || !OnGpu(y)) return false;
  LaunchAddScaled(x, y, s, n);
  return Finish("AddScaled");
}
bool Scale(float* x, size_t n, float s) {
  if (!OnGpu(x)) return false;
  LaunchScale(x, n, s);
  return Finish("Scale");
}
bool Copy(float* dst, const float* src, size_t n) {
  if (!OnGpu(dst) || !OnGpu(src)) return false;
  Check(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDefault), "Copy");
  return true;
}
bool Argmax(const float* x, size_t n, size_t* index) {
  if (!OnGpu(x) || n == 0) return false;
  Residency& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.index) Check(cudaMalloc(reinterpret_cast<void**>(&r.index), sizeof(size_t)), "Argmax");
  LaunchArgmax(x, n, r.index);
  Finish("Argmax");
  Check(cudaMemcpy(index, r.index, sizeof(size_t), cudaMemcpyDeviceToHost), "Argmax");
  return true;
}
bool Rope(float* x, size_t T, size_t num_heads, size_t head_dim, const float* cos, const float* sin,
          size_t rotary_pairs) {
  if (!OnGpu(x) || !OnGpu(cos) || !OnGpu(sin)) return false;
  LaunchRope(x, T, num_heads, head_dim, cos, sin, rotary_pairs);
  return Finish("Rope");
}
bool Attention(const float* q, size_t T, size_t num_heads, size_t head_dim, size_t q_pos0, const KVBlock* blocks,
               size_t num_blocks, size_t num_kv_heads, size_t window, float scale, float* out) {
  if (!OnGpu(q) || !OnGpu(out) || num_blocks > 2 || num_kv_heads == 0) return false;
  size_t keys = 0;
  for (size_t b = 0; b < num_blocks; ++b) {
    if (blocks[b].count && (!OnGpu(blocks[b].k) || !OnGpu(blocks[b].v))) return false;
    keys += blocks[b].count;
  }
  Residency& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  float* scores = Grow(&r.scratch, &r.scratch_floats, T * num_heads * (keys ? keys : 1));
  LaunchAttention(q, T, num_heads, head_dim, q_pos0, blocks, num_blocks, num_kv_heads, window, scale, out, scores);
  return Finish("Attention");
}

DeviceOps MakeTable() {
  DeviceOps t;
  t.name = "cuda";
  t.alloc = Alloc;
  t.free = Free;
  t.matmul = MatMul;
  t.to_f32 = ToF32;
  t.rms_norm = RMSNorm;
  t.gelu_tanh_mul = GeluTanhMul;
  t.softcap = Softcap;
  t.softmax = Softmax;
  t.add_scaled = AddScaled;
  t.scale = Scale;
  t.copy = Copy;
  t.argmax = Argmax;
  t.rope = Rope;
  t.attention = Attention;
  t.forget = Forget;
  return t;
}

}  // namespace

const DeviceOps* Device(std::string* why) {
  static std::string error;
  static const DeviceOps* table = []() -> const DeviceOps* {
    int count = 0;
    if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
      error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
      cudaGetLastError();
      return nullptr;
    }
    if (count == 0) {
      error = "cudaGetDeviceCount: 0 devices";
      return nullptr;
    }
    int managed = 0;
    if (cudaError_t e = cudaDeviceGetAttribute(&managed, cudaDevAttrManagedMemory, 0); e != cudaSuccess || !managed) {
      error = std::string("device 0 has no managed memory") + (e != cudaSuccess ? std::string(": ") + cudaGetErrorString(e) : "");
      cudaGetLastError();
      return nullptr;
    }
    if (cudaError_t e = cudaSetDevice(0); e != cudaSuccess) {
      error = std::string("cudaSetDevice(0): ") + cudaGetErrorString(e);
      cudaGetLastError();
      return nullptr;
    }
    static const DeviceOps ops = MakeTable();
    return &ops;
  }();
  if (!table && why) *why = error;
  return table;
}

double PeakBandwidthGBps() {
  int clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0) != cudaSuccess) {
    cudaGetLastError();
    return 0.0;
  }
  return 2.0 * double(clock_khz) * 1e3 * (double(bus_bits) / 8.0) / 1e9;
}

size_t ResidentBytes() {
  Residency& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.bytes + (r.scratch_floats + r.staging_floats) * sizeof(float);
}

}  // namespace gemma4::ops::cuda
