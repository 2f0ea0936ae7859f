#!/usr/bin/python3
"""Writes seed corpora and dictionaries for the loader fuzzers (everything but GGUF, whose seeds come from
make_seeds.py): OUTDIR/<target>/ seed files and OUTDIR/<target>.dict, from the repository's goldens and
tiny tokenizer plus hand-made edge cases. Standard library only.
usage: make_loader_seeds.py REPO_ROOT OUTDIR"""
import hashlib, json, os, struct, sys

root, out = sys.argv[1], sys.argv[2]

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def dictionary(target, words):
    with open(os.path.join(out, target + ".dict"), "w") as f:
        for w in sorted(set(words)):
            b = w.encode()
            f.write('"' + "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02X" % c for c in b) + '"\n')

def safetensors(header, data=b"", pad=True):
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data

# --- safetensors: single files and sharded directories ---------------------------------------------------
f32 = lambda n: struct.pack("<%df" % n, *[0.5 * i for i in range(n)])
put("safetensors", safetensors({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, f32(4)))
put("safetensors", safetensors({"__metadata__": {"format": "pt"},
                                "a": {"dtype": "BF16", "shape": [4], "data_offsets": [8, 16]},
                                "b": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
                                "e": {"dtype": "F32", "shape": [0], "data_offsets": [16, 16]}}, bytes(16)))
put("safetensors", safetensors({"A": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                "B": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},
                                "C": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, bytes(16)))
put("safetensors", safetensors({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, f32(1), pad=False))
for dt in ["F16", "F64", "I32", "I16", "I8", "U8", "BOOL"]:
    put("safetensors", safetensors({"t": {"dtype": dt, "shape": [2, 1], "data_offsets": [0, 16 if dt == "F64" else 8]}}, bytes(16)))
shard_a = safetensors({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, f32(2))
shard_b = safetensors({"y": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}}, bytes(8))
index = json.dumps({"metadata": {"total_size": 16}, "weight_map": {"x": "a.safetensors", "y": "b.safetensors"}})
put("safetensors", index.encode() + b"\n--\n" + shard_a + b"\n--\n" + shard_b)
put("safetensors", json.dumps({"weight_map": {"x": "a.safetensors"}}).encode() + b"\n--\n" + shard_a + b"\n--\n")
dictionary("safetensors", ["dtype", "shape", "data_offsets", "__metadata__", "weight_map", "metadata", "total_size",
                           "a.safetensors", "b.safetensors", "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8",
                           "U8", "BOOL", "\n--\n", "[0,0]", "[]", "{}", "18446744073709551615", "4294967296", "-1"])

# --- config.json: every golden config (all accepted model_types), and variants ------------------------------
keys = set()
for case in sorted(os.listdir(os.path.join(root, "golden"))):
    p = os.path.join(root, "golden", case, "config.json")
    if not os.path.isfile(p):
        continue
    c = json.load(open(p))
    put("config", json.dumps(c, separators=(",", ":")))
    keys.update(c.keys())
    t = c.get("text_config", c)
    keys.update(t.keys())
    if c.get("model_type") == "gemma4":  # the text part alone, as a plain gemma4_text config
        t2 = dict(t, model_type="gemma4_text")
        put("config", json.dumps(t2, separators=(",", ":")))
        put("config", json.dumps(dict(t2, sliding_window=2 ** 30), separators=(",", ":")))
        put("config", json.dumps(dict(t2, sliding_window=3, max_position_embeddings=64), separators=(",", ":")))
        per_layer = {str(i): {"head_dim": 32} for i, lt in enumerate(t2["layer_types"]) if lt == "full_attention"}
        put("config", json.dumps({k: v for k, v in dict(t2, per_layer_config=per_layer).items()
                                  if k not in ("global_head_dim",)}, separators=(",", ":")))
put("config", '{"model_type":"gemma4_text"}')
dictionary("config", sorted(keys) + ["gemma4", "gemma4_text", "gemma4_assistant", "sliding_attention", "full_attention",
                                     "default", "proportional", "gelu_pytorch_tanh", "vision", "per_layer_config",
                                     "rope_type", "rope_theta", "partial_rotary_factor", "factor", "null", "true",
                                     "false", "9223372036854775807", "4611686018427387904", "1073741824", "1e400"])

# --- tokenizer.json (+ NUL + text) -----------------------------------------------------------------------
tiny = open(os.path.join(root, "tests", "tokenizer", "tiny_tokenizer.json"), "rb").read()
t = json.loads(tiny)
compact = json.dumps(t, separators=(",", ":")).encode()
for text in [b"Hello world", b"  two  spaces\n\nand <b> tabs\t", "caf\u00e9 \U0001F600".encode(), b"\xff\xfe bad utf8"]:
    put("tokenizer", compact + b"\0" + text)
small = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<0x41>": 3, "<unk>": 4}, "merges": ["a b"],
                   "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True},
         "added_tokens": [{"id": 5, "content": "<b>", "special": True, "lstrip": True},
                          {"id": 6, "content": "<i>", "special": False, "rstrip": True}],
         "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "_"},
                                                             {"type": "Replace", "pattern": {"String": " "}, "content": "_"}]},
         "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": False},
         "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "_"}, "content": " "},
                                                      {"type": "ByteFallback"}, {"type": "Fuse"},
                                                      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
         "post_processor": {"type": "TemplateProcessing",
                            "single": [{"SpecialToken": {"id": "<b>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                            "special_tokens": {"<b>": {"id": "<b>", "ids": [5], "tokens": ["<b>"]}}}}
put("tokenizer", json.dumps(small).encode() + b"\0ab a<b>b A")
dictionary("tokenizer", ["model", "type", "BPE", "vocab", "merges", "unk_token", "byte_fallback", "fuse_unk",
                         "ignore_merges", "added_tokens", "id", "content", "special", "lstrip", "rstrip", "normalized",
                         "single_word", "normalizer", "pre_tokenizer", "decoder", "post_processor", "Sequence",
                         "normalizers", "pretokenizers", "decoders", "Replace", "Prepend", "prepend", "Split",
                         "pattern", "String", "Regex", "behavior", "Removed", "Isolated", "MergedWithPrevious",
                         "MergedWithNext", "Contiguous", "invert", "ByteFallback", "Fuse", "Strip", "start", "stop",
                         "TemplateProcessing", "single", "special_tokens", "ids", "SpecialToken", "<0x41>",
                         "\u2581", "4294967296", "1073741823", "1e400", "\\p{L}+", "(?:", "\0"])

# --- tokenizer_config / chat templates / id lists (first byte: which parser) ----------------------------
put("text", b"\0" + json.dumps({"chat_template": "{{ bos_token }}<|turn>user\n"}).encode())
put("text", b"\0" + json.dumps({"chat_template": [{"name": "default", "template": "<|channel>thought\n<channel|>"},
                                                   {"name": "tool_use", "template": "x"}]}).encode())
put("text", b"\0{}")
put("text", b"\1<|channel>thought\\n<channel|>")
put("text", b"\2" + b"2,105,4")
put("text", b"\2" + b"2147483647,-1")
put("text", b"\3" + b"2, 105 4\n7\t\r\n")
dictionary("text", ["chat_template", "name", "template", "<|channel>thought\\n<channel|>", "<|channel>thought\n<channel|>",
                    ",", "2147483648", "-", "0x10", "1e3", " "])
