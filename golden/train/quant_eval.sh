#!/usr/bin/env bash
# Quantization judged on trained models: Q8_0 and Q4_0 GGUFs of trained_e2b and trained_moe made by
# gemma4-quantize, their perplexity and KL divergence / top-1 agreement against the F32 run on the validation
# text (gemma4-eval ppl --save-base / --kl-base), and, where llama.cpp's llama-perplexity is built, the same
# GGUFs through llama.cpp: its KL against our F32 base file (the base file is llama.cpp's --kl-divergence-base
# layout, so llama-perplexity reads ours) and against its own run of the F32 GGUF.
#
#   golden/train/quant_eval.sh [OUTDIR]      (default /tmp/gemma4-quant; needs build/gemma4-quantize, gemma4-eval)
#
# Criterion (the GGUF issue's): Q8_0 top-1 agreement >= 99% and mean KL <= 1e-3.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/gemma4-quant}
mkdir -p "$out"
valid=golden/train/valid.txt
threads=${THREADS:-1}
llama=${LLAMA_CPP_DIR:-/root/.cache/gemma4-ref/llama.cpp-build}/bin/llama-perplexity
for case in e2b moe; do
  model=golden/trained_$case
  echo "== trained_$case: F32 (the checkpoint's bf16 weights, f32 activations)"
  ./build/gemma4-eval ppl -m "$model" -f "$valid" -t "$threads" --save-base "$out/$case.base" 2>/dev/null | tail -1
  for type in f32 q8_0 q4_0; do
    ./build/gemma4-quantize "$model" "$out/$case-$type.gguf" --type "$type" -q -t "$threads"
    [ "$type" = f32 ] && continue
    echo "== trained_$case: $type ($(stat -c %s "$out/$case-$type.gguf") bytes)"
    ./build/gemma4-eval ppl -m "$out/$case-$type.gguf" -f "$valid" -t "$threads" --kl-base "$out/$case.base" 2>/dev/null | tail -2
  done
  if [ -x "$llama" ]; then
    for type in q8_0 q4_0; do
      "$llama" -m "$out/$case-$type.gguf" -t "$threads" --kl-divergence-base "$out/$case.base" --kl-divergence \
        > "$out/$case-$type.llama-on-ours.log" 2>&1 || { echo "llama-perplexity failed: $out/$case-$type.llama-on-ours.log"; continue; }
      echo "-- llama.cpp $type, KL against our F32 base file:"
      grep -E "^(Mean PPL|Mean    KLD|Mean KLD|Same top p)" "$out/$case-$type.llama-on-ours.log" || tail -5 "$out/$case-$type.llama-on-ours.log"
    done
    echo "== trained_$case through llama.cpp (llama-perplexity, ctx 512; KL against its own F32 run)"
    "$llama" -m "$out/$case-f32.gguf" -f "$valid" -c 512 -t "$threads" --kl-divergence-base "$out/$case.llama-base" \
      > "$out/$case-f32.llama.log" 2>&1 || { echo "llama-perplexity failed: $out/$case-f32.llama.log"; continue; }
    grep -E "^Final estimate" "$out/$case-f32.llama.log" || tail -3 "$out/$case-f32.llama.log"
    for type in q8_0 q4_0; do
      "$llama" -m "$out/$case-$type.gguf" -f "$valid" -c 512 -t "$threads" --kl-divergence-base "$out/$case.llama-base" \
        --kl-divergence > "$out/$case-$type.llama.log" 2>&1 || { echo "llama-perplexity failed: $out/$case-$type.llama.log"; continue; }
      echo "-- $type:"; grep -E "^(Mean PPL|Mean    KLD|Mean KLD|Same top p|Maximum KLD)" "$out/$case-$type.llama.log" || tail -20 "$out/$case-$type.llama.log"
    done
  else
    echo "(llama.cpp's llama-perplexity not built at $llama: skipped)"
  fi
done
