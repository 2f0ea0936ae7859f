// ops/cuda/cuda.h — the CUDA backend's one entry point (library gemma4::cuda, built from ops/cuda/*.cu when
// CMake or Meson finds nvcc; it defines GEMMA4_HAVE_CUDA for whoever links it).
//
//   std::string why;
//   const gemma4::ops::DeviceOps* gpu = gemma4::ops::cuda::Device(&why);
//   if (!gpu) fail(why);                // e.g. "cudaGetDeviceCount: CUDA driver version is insufficient ..."
//   gemma4::ops::SetDevice(gpu);        // then load the model and make its Session (ops/device.h)
#ifndef GEMMA4_OPS_CUDA_CUDA_H_
#define GEMMA4_OPS_CUDA_CUDA_H_

#include <string>

#include "ops/device.h"

namespace gemma4::ops::cuda {

// The table of CUDA ops on device 0, or nullptr with *why saying why there is none (no driver, no device,
// no managed memory), in the CUDA runtime's own words.
const DeviceOps* Device(std::string* why);

// Device 0's peak memory bandwidth in GB/s (2 transfers per memory clock × bus width); 0 if unknown.
double PeakBandwidthGBps();

// Device memory the backend holds for weights (copied on first use) and attention scratch, in bytes.
size_t ResidentBytes();

}  // namespace gemma4::ops::cuda

#endif  // GEMMA4_OPS_CUDA_CUDA_H_
