#!/usr/bin/env python3
"""Hugging Face's perplexity of a trained model on a text, with the windowing of `gemma4-eval ppl`
(tools/perplexity.h), so the two numbers can be compared digit for digit:

    /root/.cache/gemma4-ref/venv/bin/python golden/train/eval_ppl.py golden/trained_e2b golden/train/valid.txt
    ./build/gemma4-eval ppl -m golden/trained_e2b -f golden/train/valid.txt

The text is encoded with the model's tokenizer.json (<bos> first, as our Tokenizer::encode does). Windows of
CTX tokens (512) start every STRIDE tokens (CTX/2); each runs from an empty cache and scores only the tokens no
earlier window scored; token q is scored by the logits at q-1 as -log_softmax(z)[ids[q]], the log-softmax
rounded to f32 as ours is. The model runs in float32 from its (bf16) weights, with eager attention.
"""
import argparse
import math
import os

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import Gemma4ForCausalLM


def windows_nll(model, ids, ctx, stride, chunks=0):
    N = len(ids)
    n_windows = 1
    while (n_windows - 1) * stride + ctx < N:
        n_windows += 1
    if chunks:
        n_windows = min(n_windows, chunks)  # gemma4-eval ppl --chunks
    nll, scored_until = [], 1
    for w in range(n_windows):
        begin, end = w * stride, min(w * stride + ctx, N)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids[begin:end]])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1).float().double()
        for i in range(end - begin):
            q = begin + i + 1
            if q < scored_until or q >= end:
                continue
            nll.append(-logp[i, ids[q]].item())
        scored_until = end
    return np.array(nll)


def evaluate(model_dir, text_path, ctx=512, stride=0, chunks=0):
    stride = stride or ctx // 2
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    with open(text_path, encoding="utf-8") as f:
        ids = tok.encode(f.read()).ids
    model = Gemma4ForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    nll = windows_nll(model, ids, ctx, stride, chunks)
    mean = float(nll.mean())
    return "tokens %d, scored %d, ctx %d, stride %d: mean NLL %.6f, ppl %.6f" % (
        len(ids), len(nll), ctx, stride, mean, math.exp(mean))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("text")
    ap.add_argument("-c", "--ctx", type=int, default=512)
    ap.add_argument("--stride", type=int, default=0)
    ap.add_argument("--chunks", type=int, default=0, help="stop after N windows (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(evaluate(a.model, a.text, a.ctx, a.stride, a.chunks))
