#!/usr/bin/env python3
"""Write golden/unified_12b_like: a tiny random-weight Gemma 4 12B "Unified" checkpoint in the real one's
layout (config.json, generation_config.json, model.safetensors), for golden/make_golden.py to run through
Hugging Face's Gemma4UnifiedForConditionalGeneration; and golden/assistant_12b, a tiny
Gemma4UnifiedAssistantForCausalLM drafter for it (gemma4_unified_assistant, dense tied head).

What it has of the real 12B (docs/ARCHITECTURE.md, "12B Unified"): model_type gemma4_unified with text
part gemma4_unified_text (no PLE, no MoE, no KV sharing), attention_k_eq_v with one global KV head,
global_head_dim != head_dim, the [S×5, F] layer pattern, softcap 30, tied head, text tensors under
`model.language_model.`, and the 11 multimodal tensors under the real checkpoint's names
(`model.vision_embedder.*`, `model.embed_vision.embedding_projection.weight`,
`model.embed_audio.embedding_projection.weight`), which a text engine skips. `max_position_embeddings` and
`use_bidirectional_attention` are left out so the class defaults (262144, "vision") apply; the sliding window
is 8 (the real 1024 is the class default) so the 40-token prompt crosses it. generation_config.json carries
`suppress_tokens`, as the real one does for 258882/258883; here the two ids are those of the tiny vocabulary
that the greedy continuation of the `long` prompt would otherwise pick first (the goldens themselves are raw
argmax continuations, golden/FORMAT.md).

    $GEMMA4_PYTHON golden/make_unified_case.py [--seed 12]
"""
import argparse
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CASE = os.path.join(HERE, "unified_12b_like")
DRAFTER_CASE = os.path.join(HERE, "assistant_12b")

TEXT_CONFIG = {
    "model_type": "gemma4_unified_text",
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 12,
    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "num_global_key_value_heads": 1,
    "head_dim": 16,
    "global_head_dim": 32,
    "attention_k_eq_v": True,
    "sliding_window": 8,
    "num_kv_shared_layers": 0,
    "use_double_wide_mlp": False,
    "final_logit_softcapping": 30.0,
    "hidden_activation": "gelu_pytorch_tanh",
    "rms_norm_eps": 1e-06,
    "rope_parameters": {
        "full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0, "rope_type": "proportional"},
        "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"},
    },
    "tie_word_embeddings": True,
    "attention_bias": False,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "pad_token_id": 0,
}
CONFIG = {
    "architectures": ["Gemma4UnifiedForConditionalGeneration"],
    "model_type": "gemma4_unified",
    "dtype": "bfloat16",
    "text_config": TEXT_CONFIG,
    # tiny multimodal embedders, only so the checkpoint carries the 11 tensors a text engine must skip
    "vision_config": {"model_type": "gemma4_unified_vision", "patch_size": 2, "pooling_kernel_size": 1,
                      "mm_embed_dim": 8, "mm_posemb_size": 4, "output_proj_dims": 8},
    "audio_config": {"model_type": "gemma4_unified_audio", "audio_embed_dim": 8},
    "tie_word_embeddings": True,
    "transformers_version": "5.23.0 (written by golden/make_unified_case.py)",
}
# The drafter: every layer reads the target's K/V, so its attention geometry is the target's (4 KV heads of
# 16 on sliding layers, 1 of 32 on full ones).
DRAFTER_CONFIG = {
    "architectures": ["Gemma4UnifiedAssistantForCausalLM"],
    "model_type": "gemma4_unified_assistant",
    "target_case": "unified_12b_like",
    "dtype": "bfloat16",
    "backbone_hidden_size": 64,
    "use_ordered_embeddings": False,
    "tie_word_embeddings": True,
    "text_config": dict(TEXT_CONFIG, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                        layer_types=["sliding_attention"] * 3 + ["full_attention"], num_kv_shared_layers=4,
                        final_logit_softcapping=None),
    "transformers_version": "5.23.0 (written by golden/make_unified_case.py)",
}
# HF module names -> the real checkpoint's tensor names (transformers' conversion_mapping.py, "gemma4_unified")
RENAME = [("model.embed_vision.multimodal_embedder.embedding_projection", "model.embed_vision.embedding_projection"),
          ("model.embed_vision.", "model.vision_embedder.")]


def checkpoint_name(name):
    for hf, real in RENAME:
        if name.startswith(hf):
            return real + name[len(hf):]
    return name


def draw(name, shape, rng):
    """Random values with the spread of the other cases: norms around 1 (q/k norms 0.7, final norm 8, so
    the logits spread), layer_scalar around 0.8, matrices with std 0.64/sqrt(fan_in), embeddings 0.1."""
    n = rng.standard_normal(shape)
    if name.endswith("layer_scalar"):
        return 0.8 + 0.1 * n
    if name.endswith("language_model.norm.weight"):
        return 8.0 + 1.0 * n
    if name.endswith(("q_norm.weight", "k_norm.weight")):
        return 0.7 + 0.1 * n
    if "norm" in name or "_ln" in name:
        return (1.0 if name.endswith("weight") else 0.0) + 0.1 * n
    if name.endswith("embed_tokens.weight") or name.endswith("pos_embedding"):
        return 0.1 * n
    return 0.64 / np.sqrt(shape[-1]) * n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    import torch
    import transformers
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = transformers.Gemma4UnifiedForConditionalGeneration(transformers.Gemma4UnifiedConfig(**CONFIG))
    rng = np.random.default_rng(args.seed)
    tensors = {}
    for name, value in model.state_dict().items():
        if name == "lm_head.weight":  # tied to the embedding
            continue
        tensors[checkpoint_name(name)] = torch.from_numpy(draw(name, tuple(value.shape), rng)).to(torch.bfloat16)
    os.makedirs(CASE, exist_ok=True)
    if os.path.exists(os.path.join(CASE, "generation_config.json")):  # no suppression while choosing the ids
        os.remove(os.path.join(CASE, "generation_config.json"))
    save_file(tensors, os.path.join(CASE, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(CASE, "model.safetensors"), 0o644)
    json.dump(CONFIG, open(os.path.join(CASE, "config.json"), "w"), indent=2)

    # Load it back the way make_golden.py does: every tensor used, none missing; then pick the suppressed ids.
    loaded, info = transformers.Gemma4UnifiedForConditionalGeneration.from_pretrained(
        CASE, dtype=torch.float64, attn_implementation="eager", output_loading_info=True)
    problems = {k: v for k, v in info.items() if v and k != "mismatched_keys" or (k == "mismatched_keys" and v)}
    if problems:
        raise SystemExit(f"{CASE}: HF did not load it cleanly: {problems}")
    multimodal = sorted(n for n in tensors if not n.startswith("model.language_model."))
    ids = torch.tensor([[2, 395, 189, 338, 104, 483, 48, 137, 335, 11, 236, 77, 505, 170, 436, 165, 429, 29, 29, 140,
                         285, 86, 312, 266, 28, 178, 245, 466, 170, 169, 113, 241, 408, 183, 217, 329, 55, 302, 190, 305]])
    loaded.generation_config.eos_token_id = None  # the raw argmax continuation, as in the goldens
    with torch.no_grad():
        out = loaded.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False)
    continuation = out[0, ids.shape[1]:].tolist()
    suppress = []
    for t in continuation:
        if t not in suppress and t > 2:
            suppress.append(t)
        if len(suppress) == 2:
            break
    generation_config = {"bos_token_id": 2, "eos_token_id": [1], "pad_token_id": 0,
                         "suppress_tokens": sorted(suppress, reverse=True),
                         "transformers_version": "5.23.0 (written by golden/make_unified_case.py)"}
    json.dump(generation_config, open(os.path.join(CASE, "generation_config.json"), "w"), indent=2)
    write_drafter(args.seed + 1, torch, transformers, save_file)
    print(f"wrote {CASE}: {len(tensors)} tensors ({len(multimodal)} multimodal: {', '.join(multimodal)}); "
          f"greedy continuation of the long prompt {continuation}; suppress_tokens {generation_config['suppress_tokens']}")


def write_drafter(seed, torch, transformers, save_file):
    import sys
    sys.path.insert(0, HERE)
    from make_golden import fix_kv_sharing_modes  # transformers 5.23.0 cannot build a drafter without it
    fix_kv_sharing_modes(transformers)
    torch.manual_seed(0)
    config = transformers.Gemma4UnifiedAssistantConfig(**{k: v for k, v in DRAFTER_CONFIG.items() if k != "target_case"})
    model = transformers.Gemma4UnifiedAssistantForCausalLM(config)
    rng = np.random.default_rng(seed)
    tensors = {name: torch.from_numpy(draw(name, tuple(value.shape), rng)).to(torch.bfloat16)
               for name, value in model.state_dict().items() if name != "lm_head.weight"}
    os.makedirs(DRAFTER_CASE, exist_ok=True)
    save_file(tensors, os.path.join(DRAFTER_CASE, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(DRAFTER_CASE, "model.safetensors"), 0o644)
    json.dump(DRAFTER_CONFIG, open(os.path.join(DRAFTER_CASE, "config.json"), "w"), indent=2)
    _, info = transformers.Gemma4UnifiedAssistantForCausalLM.from_pretrained(
        DRAFTER_CASE, dtype=torch.float64, attn_implementation="eager", output_loading_info=True)
    if any(info.values()):
        raise SystemExit(f"{DRAFTER_CASE}: HF did not load it cleanly: {info}")
    print(f"wrote {DRAFTER_CASE}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
