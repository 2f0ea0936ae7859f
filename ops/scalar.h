// ops/scalar.h — every scalar twin (namespace gemma4::ops::scalar): the readable definitions of the
// kernels and the oracle the tests hold the SIMD versions against. Plain C++, double accumulators.
#ifndef GEMMA4_OPS_SCALAR_H_
#define GEMMA4_OPS_SCALAR_H_

#include "ops/activation_scalar.h"
#include "ops/attention_scalar.h"
#include "ops/convert_scalar.h"
#include "ops/dtype.h"
#include "ops/matmul_scalar.h"
#include "ops/norm_scalar.h"
#include "ops/quant_fast_scalar.h"
#include "ops/quant_scalar.h"
#include "ops/rope_scalar.h"

#endif  // GEMMA4_OPS_SCALAR_H_
