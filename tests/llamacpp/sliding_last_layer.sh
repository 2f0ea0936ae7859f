#!/usr/bin/env bash
# Does llama.cpp run a valid Gemma 4 config whose last non-KV-shared layer is sliding? (Hugging Face's KV
# sharing takes each shared layer's K/V from the last non-shared layer of the same type; llama.cpp's
# src/llama-model.cpp assumes layer n_layer_kv_from_start-1 is full and n_layer_kv_from_start-2 sliding.)
# Makes such a model from golden/e2b_like (layers 0-4 own their K/V, 5-9 share it): layers 3 and 4 swap
# their weights and their types, so layer 3 is the last full one and layer 4 the last sliding one; converts
# it with gemma4-quantize (F32), writes our engine's greedy continuations of the golden prompts as a golden
# file (gemma4-eval dump), and asks llama.cpp for the same through llama_golden.
#   tests/llamacpp/sliding_last_layer.sh BUILD_DIR
# Prints what llama.cpp did; exit 0 when it agrees with our engine, 1 otherwise (abort, error or other tokens).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: sliding_last_layer.sh BUILD_DIR}" && pwd)"
. "$here/llama.sh"
find_llama "$root" || { echo "sliding_last_layer: $llama_missing" >&2; exit 1; }
build_llama_golden "$root" "$build/llamacpp" || exit 1
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
model="$tmp/e2b_sliding_last"
mkdir -p "$model"
python3 - "$root/golden/e2b_like" "$model" <<'PY'
import json, struct, sys
src, dst = sys.argv[1:3]
config = json.load(open(f"{src}/config.json"))
types = config["text_config"]["layer_types"]
assert (types[3], types[4]) == ("sliding_attention", "full_attention"), types
types[3], types[4] = types[4], types[3]
json.dump(config, open(f"{dst}/config.json", "w"), indent=2)
with open(f"{src}/model.safetensors", "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header, data = json.loads(f.read(n)), f.read()
swap = {"layers.3.": "layers.4.", "layers.4.": "layers.3."}
def renamed(name):
    for a, b in swap.items():
        if f".{a}" in name:
            return name.replace(f".{a}", f".{b}")
    return name
header = {renamed(k): v for k, v in header.items()}
blob = json.dumps(header).encode()
with open(f"{dst}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(blob)) + blob + data)
print("layer_types:", ", ".join(f"{i}:{t[0]}" for i, t in enumerate(types)), f"(num_kv_shared_layers {config['text_config']['num_kv_shared_layers']})")
PY
"$build/gemma4-quantize" "$model" "$tmp/model.gguf" --type f32 -q >/dev/null || exit 1
ids=(); while read -r list; do ids+=(--prompt-ids "$list"); done < <(python3 - "$root/golden/e2b_like/golden.safetensors" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    for k in sorted(k for k in header if k.endswith(".input_ids")):
        a, b = header[k]["data_offsets"]
        f.seek(8 + n + a)
        print(",".join(map(str, struct.unpack(f"<{(b - a) // 4}i", f.read(b - a)))))
PY
)
"$build/gemma4-eval" dump -m "$model" "${ids[@]}" --greedy 16 -t 2 -o "$tmp/ours.safetensors" >/dev/null || exit 1
echo "gemma4 (ours) runs it; llama.cpp $llama_commit on the same F32 GGUF, greedy, against ours:"
"$llama_golden" "$tmp/model.gguf" "$tmp/ours.safetensors" --greedy > "$tmp/llama.txt" 2>&1
rc=$?
sed "s|$tmp/||" "$tmp/llama.txt" | grep -E 'GGML_ASSERT|GGML_ABORT|error|^ok|^FAIL|llama_kv_cache::llama_kv_cache' | cut -c1-200
case $rc in
  0) echo "llama.cpp agrees with our engine" ;;
  134) echo "llama.cpp ABORTED (SIGABRT, exit $rc)" ;;
  *) echo "llama.cpp failed or disagreed (exit $rc)" ;;
esac
exit $((rc != 0))
