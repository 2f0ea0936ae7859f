# Sourced by the real-Gemma-4 tests: finds the directory with llama.cpp's Gemma 4 test data (the real
# shellcheck shell=bash
# vocabulary models/ggml-vocab-gemma-4.gguf with its .inp/.out vectors, and the real chat templates
# models/templates/google-gemma-4-31B-it*.jinja) and sets
#   real_vocab, real_vocab_inp, real_vocab_out, real_template, real_template_interleaved, real_source
# Looks in $LLAMA_CPP_SRC (a llama.cpp source tree), then in the reference environment's copy
# (scripts/setup-reference.sh: <dir>/llama.cpp), then in a copy of the files beside the repository
# (../shared/gemma4-real or shared/gemma4-real, flat). Returns 1 when none has them.
locate_real_gemma4() {
  local root=$1 dir
  local ref_dir
  ref_dir=$("$root/scripts/setup-reference.sh" --print-dir)
  for dir in "${LLAMA_CPP_SRC:-}" "$ref_dir/llama.cpp"; do
    [ -n "$dir" ] && [ -f "$dir/models/ggml-vocab-gemma-4.gguf" ] || continue
    real_source="llama.cpp source $dir"
    [ -f "$dir/../../.git/modules/vendor/llama.cpp/HEAD" ] &&
      real_source="$real_source (commit $(cat "$dir/../../.git/modules/vendor/llama.cpp/HEAD"))"
    real_vocab=$dir/models/ggml-vocab-gemma-4.gguf
    real_template=$dir/models/templates/google-gemma-4-31B-it.jinja
    real_template_interleaved=$dir/models/templates/google-gemma-4-31B-it-interleaved.jinja
    real_vocab_inp=$real_vocab.inp real_vocab_out=$real_vocab.out
    return 0
  done
  for dir in "$root/../shared/gemma4-real" "$root/shared/gemma4-real"; do
    [ -f "$dir/ggml-vocab-gemma-4.gguf" ] || continue
    real_source="copy in $(cd "$dir" && pwd)"
    real_vocab=$dir/ggml-vocab-gemma-4.gguf
    real_template=$dir/google-gemma-4-31B-it.jinja
    real_template_interleaved=$dir/google-gemma-4-31B-it-interleaved.jinja
    real_vocab_inp=$real_vocab.inp real_vocab_out=$real_vocab.out
    return 0
  done
  return 1
}
