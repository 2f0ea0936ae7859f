#!/usr/bin/env python3
"""Writes tiny_tokenizer.json: a Gemma-4-shaped tokenizer.json whose 512 ids fit the tiny golden models
(vocab_size 512): the Gemma 4 special tokens at their real ids (<pad> 0, <eos> 1, <bos> 2, <unk> 3,
<|think|> 98, <|channel>/<channel|> 100/101, <|turn>/<turn|> 105/106), "\\n" 107, byte tokens <0x00>..<0xFF>
at ids 238..493 as in the real vocabulary, and a few hundred characters and merges in between.

    python3 tests/tokenizer/make_tiny_tokenizer.py tests/tokenizer/tiny_tokenizer.json
"""
import json
import sys

specials = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>", 4: "<mask>", 46: "<|tool>", 47: "<tool|>",
            48: "<|tool_call>", 49: "<tool_call|>", 50: "<|tool_response>", 51: "<tool_response|>", 52: '<|"|>',
            98: "<|think|>", 100: "<|channel>", 101: "<channel|>", 105: "<|turn>", 106: "<turn|>"}
vocab = {content: i for i, content in specials.items()}
vocab["\n"] = 107
vocab["\n\n"] = 108
for b in range(256):
    vocab["<0x%02X>" % b] = 238 + b
chars = "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-:;()\"/\t"
free = [i for i in range(5, 512) if i not in vocab.values()]
for c in chars:
    vocab[c] = free.pop(0)
merges = []
for word in ["▁the", "▁a", "▁is", "▁hello", "▁world", "user", "model", "system", "thought", "▁and", "ing", "er"]:
    # left-to-right merges that build the word
    for k in range(2, len(word) + 1):
        left, right = word[: k - 1], word[k - 1]
        if word[:k] not in vocab:
            vocab[word[:k]] = free.pop(0)
        if [left, right] not in merges:
            merges.append([left, right])
merges.insert(0, ["\n", "\n"])
assert max(vocab.values()) < 512
added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
          "special": True} for i, c in sorted(specials.items())]
tok = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
    "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\n+"}, "behavior": "Isolated", "invert": False},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [], "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                                 {"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
              "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])), "merges": merges},
}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(tok, f, ensure_ascii=False, indent=1)
    f.write("\n")
