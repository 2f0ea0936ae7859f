#!/usr/bin/env python3
"""Trains trained_e2b-assistant, the MTP drafter of trained_e2b (transformers' own Gemma4AssistantForCausalLM),
by distillation from the target, on the CPU, and writes it in Hugging Face layout:

    /root/.cache/gemma4-ref/venv/bin/python golden/train/train_assistant.py \
        --target golden/trained_e2b --out golden/trained_e2b-assistant

What the drafter sees (HF's Gemma4AssistantCandidateGenerator, gemma4/assistant.h): to draft the token after
x_p (at position p, not yet in the target's cache) it gets concat(E_target(x_p) * sqrt(Hb), h_{p-1}) where h is
the target's final-norm hidden state, projects it to its own width, and runs 4 decoder layers that have no K/V
of their own: each reads the target's K/V of its layer type (the last non-shared sliding / full layer of the
target) at positions < p, the full layers all of them, the sliding layers the last W+1 (p-1-W .. p-1); q gets
RoPE at p. Its output hn gives logits hn . E_drafter^T (centroid head at inference) and h' =
post_projection(hn), which step 2 feeds back with the drafted token, at the same position p and cache.

Training, per batch of SEQ-token windows of the training text (<bos> first):
  1. the target (frozen) gives, for every position, h (final norm), the shared K/V of both layer types, and its
     next-token distribution P_t(.|x_<=p);
  2. step 1 for every p at once (all queries are independent: the drafter has no cache of its own; the mask
     is exactly the one above): input (x_p, h_{p-1}), loss KL(P_t(.|x_<=p) || drafter);
  3. steps 2..K (K = 3): input (the target's greedy token at the step before, h' of the drafter's step
     before), same p and mask, loss KL against the target's distribution that many tokens later;
  4. the centroid head: the vocabulary is split once, before training, into 32 clusters of 128 tokens by a
     balanced k-means of the target's (tied) embedding rows, which also initialize the drafter's embedding
     (token_ordering); `centroids` is trained with cross-entropy towards the cluster of the target's
     greedy token, beside the KL losses (the top-k selection itself passes no gradient).
Seeded; AdamW, warm-up + cosine; loss printed every 10 steps; at the end the step-1 top-1 agreement with the
target on the validation text (full logits and through the centroid head) is printed.
"""
import argparse
import json
import math
import os
import shutil
import time

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import Gemma4AssistantConfig, Gemma4AssistantForCausalLM, Gemma4ForCausalLM, Gemma4TextConfig
from transformers import GenerationConfig

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 4321
K_STEPS = 3
NUM_CENTROIDS, CENTROID_TOP_K = 32, 4


def allow_drafter_configs():
    """transformers 5.23.0's Gemma4TextConfig.kv_sharing_modes (configuration_gemma4.py:228) raises "The set of
    layer types producing a cache is different than the set of layer types using them" when every layer is
    KV-shared, which Gemma4AssistantConfig requires, so no drafter can be built. A drafter layer only ever
    reuses the target's K/V: every layer is "reuse" (golden/make_golden.py on the ref-hf branch fixes the same)."""
    from transformers.models.gemma4 import configuration_gemma4
    cls = configuration_gemma4.Gemma4TextConfig
    original = cls.kv_sharing_modes.fget

    def modes(self):
        if self.num_kv_shared_layers and self.num_kv_shared_layers == self.num_hidden_layers:
            return ["reuse"] * self.num_hidden_layers
        return original(self)

    cls.kv_sharing_modes = property(modes)


def balanced_kmeans(E, k, iters, rng):
    """Clusters the rows of E (unit-normalized) into k clusters of exactly len(E)/k rows each."""
    X = E / np.linalg.norm(E, axis=1, keepdims=True).clip(1e-6)
    n, size = len(X), len(X) // k
    C = X[rng.choice(n, k, replace=False)]
    for _ in range(iters):
        sim = X @ C.T
        order = np.argsort(-sim, axis=None)  # (token, cluster) pairs, most similar first
        assign, count = -np.ones(n, dtype=np.int64), np.zeros(k, dtype=np.int64)
        for flat in order:
            t, c = divmod(int(flat), k)
            if assign[t] < 0 and count[c] < size:
                assign[t] = c
                count[c] += 1
        C = np.stack([X[assign == c].mean(0) for c in range(k)])
        C /= np.linalg.norm(C, axis=1, keepdims=True).clip(1e-6)
    return assign


def drafter_masks(T, W, dtype):
    """Query i (position p = i+1) sees target K/V j < p: full j <= i; sliding i-W <= j <= i. [1,1,T-1,T]."""
    i = torch.arange(T - 1).unsqueeze(1)
    j = torch.arange(T).unsqueeze(0)
    neg = torch.finfo(dtype).min
    full = torch.where(j <= i, 0.0, neg).to(dtype)[None, None]
    sliding = torch.where((j <= i) & (j >= i - W), 0.0, neg).to(dtype)[None, None]
    return {"full_attention": full, "sliding_attention": sliding}


def target_pass(target, ids):
    with torch.no_grad():
        out = target.model(input_ids=ids, return_shared_kv_states=True)
        h = out.last_hidden_state
        logits = target.lm_head(h)
        cap = target.config.final_logit_softcapping
        if cap:
            logits = torch.tanh(logits / cap) * cap
        emb = target.model.embed_tokens(ids)  # scaled by sqrt(Hb), as the candidate generator feeds it
    return h, dict(out.shared_kv_states), logits, emb


def drafter_steps(drafter, target_emb_fn, h, kv, logits_t, emb, ids, masks, steps):
    """Runs `steps` draft steps for every position; returns per-step (drafter logits, hn, valid length)."""
    B, T = ids.shape
    pos = torch.arange(1, T).unsqueeze(0).expand(B, -1)
    greedy = logits_t.argmax(-1)  # [B, T]: the target's next token after each position
    tok_emb, hid = emb[:, 1:], h[:, :-1]
    results = []
    for s in range(steps):
        x = drafter.pre_projection(torch.cat([tok_emb, hid], dim=-1))
        out = drafter.model(inputs_embeds=x, attention_mask=masks, position_ids=pos, shared_kv_states=kv,
                            use_cache=False, output_hidden_states=True)
        hn = out.last_hidden_state
        results.append((drafter.lm_head(hn), hn))
        hid = drafter.post_projection(hn)
        # the next step's token: the target's greedy token after position p+s (what an accepted draft is)
        nxt = greedy[:, 1 + s:]
        nxt = torch.cat([nxt, nxt[:, -1:].expand(-1, T - 1 - nxt.shape[1])], dim=1)
        tok_emb = target_emb_fn(nxt)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    allow_drafter_configs()
    torch.set_num_threads(a.threads)
    torch.manual_seed(SEED)
    rng = np.random.RandomState(SEED)
    tok = Tokenizer.from_file(os.path.join(a.target, "tokenizer.json"))
    with open(os.path.join(a.data, "train.txt"), encoding="utf-8") as f:
        train = np.array(tok.encode(f.read()).ids, dtype=np.int64)
    with open(os.path.join(a.data, "valid.txt"), encoding="utf-8") as f:
        valid = np.array(tok.encode(f.read()).ids, dtype=np.int64)

    target = Gemma4ForCausalLM.from_pretrained(a.target, dtype=torch.float32, attn_implementation="eager").eval()
    for p in target.parameters():
        p.requires_grad_(False)
    with open(os.path.join(a.target, "config.json")) as f:
        tc = json.load(f)  # plain values (transformers' config object makes head_dim a per-layer attribute)
    Hb, V, W = tc["hidden_size"], tc["vocab_size"], tc["sliding_window"]
    # transformers 5.23 writes the full layers' head dim as per_layer_config {"4": {"head_dim": 64}, ...}
    full = tc["layer_types"].index("full_attention")
    global_head_dim = tc.get("global_head_dim") or tc.get("per_layer_config", {}).get(str(full), {}).get("head_dim")
    text = Gemma4TextConfig(
        vocab_size=V, hidden_size=Hb, num_hidden_layers=4, num_kv_shared_layers=4,
        layer_types=["sliding_attention"] * 3 + ["full_attention"], num_attention_heads=2,
        num_key_value_heads=tc["num_key_value_heads"], head_dim=tc["head_dim"], global_head_dim=global_head_dim,
        intermediate_size=128, hidden_activation="gelu_pytorch_tanh", sliding_window=W,
        rope_parameters=tc["rope_parameters"], final_logit_softcapping=None, rms_norm_eps=1e-6,
        hidden_size_per_layer_input=0, vocab_size_per_layer_input=0, use_double_wide_mlp=False,
        enable_moe_block=False, attention_k_eq_v=False, tie_word_embeddings=True, max_position_embeddings=131072,
        pad_token_id=0, eos_token_id=1, bos_token_id=2)
    config = Gemma4AssistantConfig(text_config=text, backbone_hidden_size=Hb, use_ordered_embeddings=True,
                                   num_centroids=NUM_CENTROIDS, centroid_intermediate_top_k=CENTROID_TOP_K)
    config.text_config._attn_implementation = "eager"
    drafter = Gemma4AssistantForCausalLM(config).float()
    drafter.config.architectures = ["Gemma4AssistantForCausalLM"]

    E_target = target.model.embed_tokens.weight.detach().clone()
    assign = balanced_kmeans(E_target.numpy(), NUM_CENTROIDS, 10, rng)
    ordering = np.concatenate([np.nonzero(assign == c)[0] for c in range(NUM_CENTROIDS)])
    with torch.no_grad():
        drafter.model.embed_tokens.weight.copy_(E_target)
        drafter.masked_embedding.token_ordering.copy_(torch.from_numpy(ordering))
    cluster_of = torch.from_numpy(assign)
    n_params = sum(p.numel() for p in drafter.parameters())
    print("drafter parameters: %d (%.2f MB in bf16)" % (n_params, n_params * 2 / 1e6), flush=True)

    opt = torch.optim.AdamW(drafter.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    lr_at = lambda s: a.lr * min(1.0, (s + 1) / a.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / a.steps)))
    masks = drafter_masks(a.seq, W, torch.float32)
    emb_fn = target.model.embed_tokens
    start, running = time.time(), None
    drafter.train()
    for step in range(a.steps):
        offsets = rng.randint(1, len(train) - a.seq, size=a.batch)
        ids = torch.from_numpy(np.stack([np.concatenate([[2], train[o:o + a.seq - 1]]) for o in offsets]))
        h, kv, logits_t, emb = target_pass(target, ids)
        logp_t = F.log_softmax(logits_t, -1)
        greedy = logits_t.argmax(-1)
        losses, log = [], []
        for s, (logits_d, hn) in enumerate(drafter_steps(drafter, emb_fn, h, kv, logits_t, emb, ids, masks, K_STEPS)):
            n = a.seq - 1 - s  # queries whose target distribution (position p+s) exists
            lt = logp_t[:, 1 + s:1 + s + n]
            ld = F.log_softmax(logits_d[:, :n], -1)
            kl = (lt.exp() * (lt - ld)).sum(-1).mean()
            ce_c = F.cross_entropy(drafter.masked_embedding.centroids(hn[:, :n]).reshape(-1, NUM_CENTROIDS),
                                   cluster_of[greedy[:, 1 + s:1 + s + n]].reshape(-1))
            losses.append(kl + 0.2 * ce_c)
            log.append(kl.item())
        loss = sum(losses) / len(losses)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(drafter.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % 10 == 0 or step == a.steps - 1:
            print("step %4d  loss %.4f (avg %.4f)  KL per draft step %s  %.0f s" % (
                step, loss.item(), running, " ".join("%.3f" % x for x in log), time.time() - start), flush=True)
    print("trained %d steps in %.0f s" % (a.steps, time.time() - start), flush=True)

    drafter.eval()
    drafter = drafter.to(torch.bfloat16).float()  # what the file holds
    with torch.no_grad():  # step-1 agreement with the target's greedy token on validation windows
        agree = agree_c = total = 0
        for o in range(1, len(valid) - a.seq, a.seq * 4):
            ids = torch.from_numpy(np.concatenate([[2], valid[o:o + a.seq - 1]]))[None]
            h, kv, logits_t, emb = target_pass(target, ids)
            (logits_d, hn), = drafter_steps(drafter, emb_fn, h, kv, logits_t, emb, ids, masks, 1)
            want = logits_t.argmax(-1)[:, 1:]
            agree += (logits_d.argmax(-1) == want).sum().item()
            agree_c += (drafter.masked_embedding(hn, drafter.lm_head.weight).argmax(-1) == want).sum().item()
            total += want.numel()
    print("validation: step-1 draft = target greedy on %.1f%% (full logits), %.1f%% (centroid head), %d tokens"
          % (100 * agree / total, 100 * agree_c / total, total), flush=True)

    os.makedirs(a.out, exist_ok=True)
    drafter = drafter.to(torch.bfloat16)
    drafter.config.dtype = "bfloat16"
    drafter.save_pretrained(a.out, safe_serialization=True)
    GenerationConfig(num_assistant_tokens=3, num_assistant_tokens_schedule="constant").save_pretrained(a.out)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(os.path.join(a.target, name), os.path.join(a.out, name))


if __name__ == "__main__":
    main()
