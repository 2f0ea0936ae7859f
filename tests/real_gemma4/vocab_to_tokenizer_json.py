# Writes the real Gemma 4 vocabulary (llama.cpp's models/ggml-vocab-gemma-4.gguf: 262,144 pieces, 514,906
# merges) as a Hugging Face tokenizer.json (32 MB) with the Gemma 4 pipeline TokenizerSpecFromVocabulary builds,
# to time the tokenizer.json loader on a real-size file (README, "Numerics: exact and fast"). Needs numpy and
# llama.cpp's gguf-py (the reference environment: scripts/setup-reference.sh):
#   $GEMMA4_PYTHON tests/real_gemma4/vocab_to_tokenizer_json.py ggml-vocab-gemma-4.gguf OUT.json $LLAMA_CPP_SRC
# gemma4-run --tokenizer OUT.json --tokenize gives the GGUF's ids on llama.cpp's 46 test strings.
import json
import sys

sys.path.insert(0, sys.argv[3] + "/gguf-py")
import gguf  # noqa: E402

r = gguf.GGUFReader(sys.argv[1])
f = r.fields["tokenizer.ggml.tokens"]; tokens = [bytes(f.parts[d]).decode("utf-8") for d in f.data]
f = r.fields["tokenizer.ggml.token_type"]; types = [int(f.parts[d][0]) for d in f.data]
f = r.fields["tokenizer.ggml.merges"]; merges = [bytes(f.parts[d]).decode("utf-8") for d in f.data]
bos = int(r.fields["tokenizer.ggml.bos_token_id"].parts[-1][0])
added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
          "normalized": False, "special": types[i] == 3} for i, t in enumerate(tokens) if types[i] in (3, 4)]
# merges as [a, b] pairs (newer tokenizers); split at the first space like the GGUF reader does
pairs = [list(m.split(" ", 1)) for m in merges]
j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
     "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
     "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\n+"}, "behavior": "Isolated", "invert": False},
     "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": tokens[bos], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                        "pair": [], "special_tokens": {tokens[bos]: {"id": tokens[bos], "ids": [bos], "tokens": [tokens[bos]]}}},
     "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                  {"type": "ByteFallback"}, {"type": "Fuse"}]},
     "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
               "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": True, "ignore_merges": False,
               "vocab": {t: i for i, t in enumerate(tokens)}, "merges": pairs}}
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(j, out, ensure_ascii=False, indent=2)
print(len(tokens), "tokens", len(merges), "merges", len(added), "added")
