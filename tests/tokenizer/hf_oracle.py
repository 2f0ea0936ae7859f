#!/usr/bin/env python3
"""Reference side of tests/tokenizer/hf_oracle.sh: Hugging Face `tokenizers` (the library that defines
tokenizer.json) on every string of a JSONL corpus. One JSON object per string, in corpus order:
  {"ids": encode(text).ids, "ids_plain": encode(text, add_special_tokens=False).ids,
   "text": decode(ids, skip_special_tokens=False), "text_skip": decode(ids, skip_special_tokens=True)}

    hf_oracle.py TOKENIZER_JSON corpus.jsonl OUT.jsonl
"""
import json
import sys

import tokenizers


def main():
    path, corpus, out = sys.argv[1:4]
    tok = tokenizers.Tokenizer.from_file(path)
    with open(corpus, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
        for line in f:
            text = json.loads(line)
            ids = tok.encode(text).ids
            o.write(json.dumps({"ids": ids, "ids_plain": tok.encode(text, add_special_tokens=False).ids,
                                "text": tok.decode(ids, skip_special_tokens=False),
                                "text_skip": tok.decode(ids, skip_special_tokens=True)}, ensure_ascii=False) + "\n")
    print(f"tokenizers {tokenizers.__version__}: {path}")


if __name__ == "__main__":
    sys.exit(main())
