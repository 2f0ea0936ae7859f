#!/usr/bin/env python3
"""Trains a tiny Gemma 4 target (transformers' own Gemma4ForCausalLM) on the KJV corpus of make_corpus.py, on
the CPU, and writes it in Hugging Face layout (config.json, model.safetensors in bf16, generation_config.json,
tokenizer.json, tokenizer_config.json, chat_template.jinja):

    PY=/root/.cache/gemma4-ref/venv/bin/python
    $PY golden/train/train_target.py --case e2b --out golden/trained_e2b
    $PY golden/train/train_target.py --case moe --out golden/trained_moe

Cases (the mechanisms of the real checkpoints, at a size that trains in ~25 minutes on 2 shared cores):
  e2b  10 layers, 4:1 sliding/full (window 32), PLE (8 dims per layer), the last 5 layers KV-shared with a
       double-wide MLP, proportional RoPE with partial_rotary_factor 0.25 on full layers, global head dim 64 vs
       head dim 32, softcap 30 (the gemma-4-E2B mechanisms);
  moe  6 layers, 5:1 sliding/full, a MoE block (8 experts, top-2) beside the dense MLP, attention_k_eq_v with
       one global KV head, global head dim 64 vs head dim 32 (the gemma-4-26B-A4B mechanisms).
Training: seeded (torch.manual_seed(SEED), numpy RandomState(SEED) for the sample offsets); AdamW (betas 0.9,
0.95, weight decay 0.01), linear warm-up then cosine decay, gradient clipping 1.0; each sample is <bos> then
SEQ-1 tokens from a random offset of the tokenized training text. The loss is printed every 10 steps; the
validation loss (the mean NLL of eval_ppl.py's windows) is printed at the end. The weights are rounded to
bfloat16 for the file: the reported final losses are those of the rounded model.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import Gemma4ForCausalLM, Gemma4TextConfig, GenerationConfig

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234

ROPE = {"full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0, "rope_type": "proportional"},
        "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"}}
COMMON = dict(vocab_size=4096, hidden_size=64, num_attention_heads=2, head_dim=32, global_head_dim=64,
              hidden_activation="gelu_pytorch_tanh", final_logit_softcapping=30.0, rms_norm_eps=1e-6,
              rope_parameters=ROPE, max_position_embeddings=131072, tie_word_embeddings=True,
              pad_token_id=0, eos_token_id=1, bos_token_id=2, attention_bias=False, attention_dropout=0.0)
CASES = {
    "e2b": dict(COMMON, num_hidden_layers=10, sliding_window=32, num_key_value_heads=1, intermediate_size=128,
                layer_types=(["sliding_attention"] * 4 + ["full_attention"]) * 2, num_kv_shared_layers=5,
                use_double_wide_mlp=True, hidden_size_per_layer_input=8, vocab_size_per_layer_input=4096,
                attention_k_eq_v=False, enable_moe_block=False),
    "moe": dict(COMMON, num_hidden_layers=6, sliding_window=32, num_key_value_heads=2, intermediate_size=64,
                layer_types=["sliding_attention"] * 5 + ["full_attention"], num_kv_shared_layers=0,
                use_double_wide_mlp=False, hidden_size_per_layer_input=0, vocab_size_per_layer_input=4096,
                attention_k_eq_v=True, num_global_key_value_heads=1, enable_moe_block=True, num_experts=8,
                top_k_experts=2, moe_intermediate_size=32),
}


def load_ids(tokenizer, path):
    with open(path, encoding="utf-8") as f:
        return np.array(tokenizer.encode(f.read()).ids, dtype=np.int64)  # <bos> first (the post-processor)


def write_model_dir(model, out, tokenizer_json, case):
    os.makedirs(out, exist_ok=True)
    model = model.to(torch.bfloat16)
    model.config.dtype = "bfloat16"
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(bos_token_id=2, eos_token_id=[1, 106], pad_token_id=0, do_sample=False).save_pretrained(out)
    shutil.copy(tokenizer_json, os.path.join(out, "tokenizer.json"))
    shutil.copy(os.path.join(HERE, "chat_template.jinja"), os.path.join(out, "chat_template.jinja"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>", "eos_token": "<eos>",
                   "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>", "add_bos_token": True,
                   "add_eos_token": False, "model_max_length": 131072, "padding_side": "left",
                   "trained_case": case}, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", choices=sorted(CASES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "tokenizer.json"))
    ap.add_argument("--steps", type=int, default=0, help="default: 700 (e2b), 850 (moe)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)  # 2 on a shared 2-core machine was 20x slower (OpenMP barriers)
    a = ap.parse_args()
    a.steps = a.steps or {"e2b": 700, "moe": 850}[a.case]

    torch.set_num_threads(a.threads)
    torch.manual_seed(SEED)
    rng = np.random.RandomState(SEED)
    tok = Tokenizer.from_file(a.tokenizer)
    train = load_ids(tok, os.path.join(a.data, "train.txt"))
    print("case %s: %d training tokens" % (a.case, len(train)), flush=True)

    config = Gemma4TextConfig(**CASES[a.case])
    model = Gemma4ForCausalLM(config).float()
    model.config.architectures = ["Gemma4ForCausalLM"]
    n_params = sum(p.numel() for p in model.parameters())
    print("parameters: %d (%.2f MB in bf16)" % (n_params, n_params * 2 / 1e6), flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    lr_at = lambda s: a.lr * min(1.0, (s + 1) / a.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / a.steps))))

    start = time.time()
    model.train()
    running = None
    for step in range(a.steps):
        offsets = rng.randint(1, len(train) - a.seq, size=a.batch)
        batch = np.stack([np.concatenate([[2], train[o:o + a.seq - 1]]) for o in offsets])
        ids = torch.from_numpy(batch)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        logits = model(input_ids=ids[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % 10 == 0 or step < 5 or step == a.steps - 1:
            print("step %5d  loss %.4f  (avg %.4f)  lr %.2e  %.0f s" % (step, loss.item(), running, lr_at(step),
                                                                        time.time() - start), flush=True)
    print("trained %d steps in %.0f s" % (a.steps, time.time() - start), flush=True)

    write_model_dir(model, a.out, a.tokenizer, a.case)
    sys.path.insert(0, HERE)
    import eval_ppl
    result = eval_ppl.evaluate(a.out, os.path.join(a.data, "valid.txt"))
    print("final train loss (running avg) %.4f; validation: %s" % (running, result), flush=True)


if __name__ == "__main__":
    main()
