#!/usr/bin/env python3
"""Trains the BPE tokenizer.json of the trained tiny models with Hugging Face `tokenizers`, in Gemma 4's
pipeline shape, on golden/train/data/train.txt (make_corpus.py):

    /root/.cache/gemma4-ref/venv/bin/python golden/train/make_tokenizer.py golden/train/data golden/train/tokenizer.json

Shape (as Gemma 4's tokenizer.json, and what gemma4/text/tokenizer_json.h reads):
  normalizer    Replace " " -> "▁"
  pre_tokenizer Split on the regex "\\n+", Isolated (newline runs are their own pieces)
  model         BPE, byte_fallback, unk "<unk>", fuse_unk, merges as learned
  decoder       Replace "▁" -> " ", ByteFallback, Fuse
  post          TemplateProcessing: <bos> then the text
Ids 0..493 are Gemma 4's own pieces at their real ids (read from the real vocabulary in
/work/shared/gemma4-real/ggml-vocab-gemma-4.gguf, falling back to the table below when it is absent — they
are the same): <pad> 0, <eos> 1, <bos> 2, <unk> 3, <mask> 4, <|tool>… 46..52, <|think|> 98, <|channel>
<channel|> 100/101, <|turn> <turn|> 105/106, "\\n" 107, "\\n\\n" 108 …, the byte tokens <0x00>..<0xFF> at
238..493. The learned pieces follow from 494 up to VOCAB (4096). The control and tool tokens (the real
vocabulary's types 3 and 4) are added_tokens with special=true, so the chat format and stop ids work unchanged.
"""
import json
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

VOCAB = 4096
SPECIAL = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>", 4: "<mask>", 46: "<|tool>", 47: "<tool|>",
           48: "<|tool_call>", 49: "<tool_call|>", 50: "<|tool_response>", 51: "<tool_response|>", 52: '<|"|>',
           98: "<|think|>", 100: "<|channel>", 101: "<channel|>", 105: "<|turn>", 106: "<turn|>"}
HTML = ("<table> <caption> <thead> <tbody> <tfoot> <tr> <th> <td> </table> </caption> </thead> </tbody> </tfoot> </tr> "
        "</th> </td> <h1> <h2> <h3> <h4> <h5> <h6> <blockquote> </h1> </h2> </h3> </h4> </h5> </h6> </blockquote> "
        "<strong> <em> <b> <i> <u> <s> <sub> <sup> <code> </strong> </em> </b> </i> </u> </s> </sub> </sup> </code> "
        "<a> <html> <body> <img> <span> <bbox> <ul> <li> <div> <iframe> <footer> </a> </html> </body> </img> </span> "
        "</bbox> </ul> </li> </div> </iframe> </footer>").split()


def gemma4_reserved():
    """Gemma 4's pieces 0..493: specials, [multimodal], <unusedN>, newline runs, ▁ runs, HTML tags, bytes."""
    pieces = {}
    unused = 0
    for i in range(238):
        if i in SPECIAL:
            pieces[i] = SPECIAL[i]
        elif i == 5:
            pieces[i] = "[multimodal]"
        elif i < 107:
            pieces[i] = "<unused%d>" % unused
            unused += 1
        elif i < 138:
            pieces[i] = "\n" * (i - 106)
        elif i < 168:
            pieces[i] = "▁" * (i - 136)
        else:
            pieces[i] = HTML[i - 168]
    for b in range(256):
        pieces[238 + b] = "<0x%02X>" % b
    return pieces


def check_against_real(pieces):
    try:
        sys.path.insert(0, "/root/.cache/gemma4-ref/llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py")
        import gguf
        r = gguf.GGUFReader("/work/shared/gemma4-real/ggml-vocab-gemma-4.gguf")
    except Exception as e:  # the table above is what the real file holds; the check is optional
        print("(real vocabulary not checked: %s)" % e)
        return
    f = r.fields["tokenizer.ggml.tokens"]
    real = [bytes(f.parts[i]).decode() for i in f.data[:494]]
    assert real == [pieces[i] for i in range(494)], "reserved pieces differ from the real Gemma 4 vocabulary"
    print("reserved ids 0..493 equal the real Gemma 4 vocabulary's")


def main():
    data, out = sys.argv[1], sys.argv[2]
    reserved = gemma4_reserved()
    check_against_real(reserved)

    # Train on words "▁xxx" (Split at "▁", merged with the next piece) so that no merge crosses a word start;
    # the shipped pipeline splits only at newline runs, which gives the same tokens (no learned piece holds a
    # "▁" after its first character, and none ends in "▁" but "▁" itself).
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\n+"), "isolated"),
        pre_tokenizers.Split("▁", "merged_with_next")])
    n_learn = VOCAB - 494 + 64  # some learned pieces may already be reserved ones ("\n\n"); trimmed below
    trainer = trainers.BpeTrainer(vocab_size=n_learn, min_frequency=2, show_progress=False, special_tokens=[],
                                  limit_alphabet=200)
    tok.train([data + "/train.txt"], trainer)
    learned = json.loads(tok.to_str())["model"]
    by_id = sorted(learned["vocab"].items(), key=lambda kv: kv[1])
    vocab = {p: i for i, p in reserved.items()}
    next_id = 494
    for piece, _ in by_id:  # the alphabet first, then the pieces in the order they were learned
        if piece in vocab:
            continue
        if next_id == VOCAB:
            break
        vocab[piece] = next_id
        next_id += 1
    assert next_id == VOCAB, next_id
    # The trainer reads the file line by line, so it never sees a newline run: "\n\n" (108, the chapter
    # break) gets its merge by hand, first, as in Gemma 4's merges.
    merges = [["\n", "\n"]]
    for m in learned["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ")
        if a in vocab and b in vocab and a + b in vocab:
            merges.append([a, b])
    for piece in vocab:
        assert "▁" not in piece[1:] or set(piece) == {"▁"}, piece

    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, c in sorted(SPECIAL.items())]
    spec = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\n+"}, "behavior": "Isolated", "invert": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])), "merges": merges},
    }
    text = json.dumps(spec, ensure_ascii=False, indent=1) + "\n"
    final = Tokenizer.from_str(text)  # HF must read what it wrote
    sample = "In the beginning God created the heaven and the earth.\n\nAnd the earth was without form."
    print("vocab %d, merges %d; %r -> %s" % (len(vocab), len(merges), sample[:30], final.encode(sample).ids[:12]))
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
