// ops/numerics.h — which arithmetic MatMul uses on quantized weights: `exact` or `fast`.
//
//   exact  (the default, the reference): activations stay f32; each weight is dequantized in a register
//          (exactly) and multiplied in f32, so a quantized MatMul equals the f32 MatMul of the dequantized
//          weights bit for bit (ops/quant-inl.h). The goldens, `gemma4-eval golden` and `dump` use it.
//   fast   weights of every block type (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K) are multiplied by activations
//          quantized per 32-block to int8 (llama.cpp's q8_0 scheme) with integer dot products
//          (ops/quant_fast-inl.h, definition in ops/quant_fast_scalar.h). Still one fixed order of
//          summation per output, so prefill = decode and any thread count gives the same bits; but the
//          activations are rounded to 8 bits, so it is not the reference.
//
// Weights in any other dtype (f32, bf16, f16) are computed the same way in both modes.
//
// The mode is process-wide, like the thread count (ops::SetNumThreads): choose it once, before running a
// model (the tools' --numerics flag; library users call ops::SetNumerics).
#ifndef GEMMA4_OPS_NUMERICS_H_
#define GEMMA4_OPS_NUMERICS_H_

#include <atomic>
#include <stdexcept>
#include <string>

namespace gemma4::ops {

enum class Numerics { kExact, kFast };

inline const char* NumericsName(Numerics m) { return m == Numerics::kFast ? "fast" : "exact"; }

// "exact" or "fast"; anything else throws std::invalid_argument naming the value.
inline Numerics ParseNumerics(const std::string& name) {
  if (name == "exact") return Numerics::kExact;
  if (name == "fast") return Numerics::kFast;
  throw std::invalid_argument("numerics \"" + name + "\" is not one of exact, fast");
}

inline std::atomic<Numerics>& NumericsSetting() {
  static std::atomic<Numerics> mode{Numerics::kExact};
  return mode;
}
inline Numerics GetNumerics() { return NumericsSetting().load(std::memory_order_relaxed); }
inline void SetNumerics(Numerics m) { NumericsSetting().store(m, std::memory_order_relaxed); }

}  // namespace gemma4::ops

#endif  // GEMMA4_OPS_NUMERICS_H_
