#!/usr/bin/python3
"""Writes the fuzzer's seed corpus: tiny Gemma 4 checkpoints (dense with PLE and KV sharing; MoE with k_eq_v)
converted by gemma4-quantize to every output type, plus truncations of each.
usage: make_seeds.py GEMMA4_QUANTIZE OUTDIR"""
import json, os, struct, subprocess, sys, tempfile
import numpy as np

def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        b = a.astype(np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

def tiny(moe):
    H, V, I, P = 32, 16, 32, 0 if moe else 8
    L = 2 if moe else 4
    types = ["sliding_attention", "full_attention"] * (L // 2)
    c = {"model_type": "gemma4_text", "vocab_size": V, "hidden_size": H, "intermediate_size": I,
         "num_hidden_layers": L, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
         "global_head_dim": 32, "sliding_window": 4, "hidden_size_per_layer_input": P, "vocab_size_per_layer_input": V,
         "layer_types": types, "final_logit_softcapping": 30.0,
         "num_kv_shared_layers": 0 if moe else 2, "use_double_wide_mlp": not moe, "attention_k_eq_v": moe}
    if moe:
        c.update({"enable_moe_block": True, "num_experts": 4, "top_k_experts": 2, "moe_intermediate_size": 32,
                  "num_global_key_value_heads": 1})
    rng = np.random.default_rng(1)
    r = lambda *s: rng.standard_normal(s) * 0.02
    t = {"model.embed_tokens.weight": r(V, H), "model.norm.weight": np.ones(H)}
    if P:
        t.update({"model.embed_tokens_per_layer.weight": r(V, L * P), "model.per_layer_model_projection.weight": r(L * P, H),
                  "model.per_layer_projection_norm.weight": np.ones(P)})
    for i in range(L):
        p = f"model.layers.{i}."
        hd = 16 if i % 2 == 0 else 32
        shared = not moe and i >= 2
        t.update({p + "input_layernorm.weight": np.ones(H), p + "post_attention_layernorm.weight": np.ones(H),
                  p + "pre_feedforward_layernorm.weight": np.ones(H), p + "post_feedforward_layernorm.weight": np.ones(H),
                  p + "layer_scalar": np.ones(1), p + "self_attn.q_proj.weight": r(2 * hd, H),
                  p + "self_attn.q_norm.weight": np.ones(hd), p + "self_attn.o_proj.weight": r(H, 2 * hd)})
        if not shared:
            t.update({p + "self_attn.k_proj.weight": r(hd, H), p + "self_attn.k_norm.weight": np.ones(hd)})
            if not (moe and i == 1):
                t[p + "self_attn.v_proj.weight"] = r(hd, H)
        w = I * (2 if shared else 1)
        t.update({p + "mlp.gate_proj.weight": r(w, H), p + "mlp.up_proj.weight": r(w, H), p + "mlp.down_proj.weight": r(H, w)})
        if P:
            t.update({p + "per_layer_input_gate.weight": r(P, H), p + "per_layer_projection.weight": r(H, P),
                      p + "post_per_layer_input_norm.weight": np.ones(H)})
        if moe:
            t.update({p + "router.proj.weight": r(4, H), p + "router.scale": np.ones(H), p + "router.per_expert_scale": np.ones(4),
                      p + "experts.gate_up_proj": r(4, 64, H), p + "experts.down_proj": r(4, H, 32),
                      p + "pre_feedforward_layernorm_2.weight": np.ones(H), p + "post_feedforward_layernorm_1.weight": np.ones(H),
                      p + "post_feedforward_layernorm_2.weight": np.ones(H)})
    return c, t

quantize, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    for name, moe in (("dense", False), ("moe", True)):
        d = os.path.join(tmp, name)
        os.makedirs(d)
        c, t = tiny(moe)
        json.dump(c, open(os.path.join(d, "config.json"), "w"))
        write_safetensors(os.path.join(d, "model.safetensors"), t)
        for ty in ("f32", "bf16", "q8_0", "q4_0"):
            path = os.path.join(out, f"{name}_{ty}.gguf")
            subprocess.run([quantize, d, path, "--type", ty, "-q"], check=True, stdout=subprocess.DEVNULL)
            data = open(path, "rb").read()
            for frac in (0.05, 0.3, 0.7):
                open(os.path.join(out, f"{name}_{ty}_cut{int(frac * 100)}.gguf"), "wb").write(data[: int(len(data) * frac)])
print(f"{len(os.listdir(out))} seeds in {out}")
