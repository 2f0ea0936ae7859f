#!/usr/bin/env python3
"""Make the golden files with Hugging Face `transformers` itself, or check the committed ones against it.

Needs the reference environment (scripts/setup-reference.sh: transformers 5.23.0, torch 2.15.0, numpy). For
every case in golden/ it loads the case's config.json and model.safetensors with transformers' own classes
(Gemma4ForConditionalGeneration, Gemma4ForCausalLM, Gemma4AssistantForCausalLM and their gemma4_unified
twins) with eager attention, runs it twice, in float64 and in float32, and writes every capture point of
golden/FORMAT.md from the float64 run. The float32 run (HF's code as it stands, weights widened to float32)
gives the tolerances: 10x its largest error against the float64 run, at least 1e-4.

  Targets: one forward over the prompt (forward hooks on the embedding, each decoder layer, each router and
  the final norm; `return_shared_kv_states=True` for the K/V), then `generate()` greedy for the continuation.
  Drafters: `target.generate(assistant_model=drafter)`, HF's own assisted decoding, stopped after the first
  drafting round of SinglePositionMultiTokenCandidateGenerator.get_candidates; what that round feeds the
  drafter (next token, last hidden state, shared K/V, position) and what it returns are recorded.

float64 means float64 everywhere. HF's modules ask for float32 in a few places, to protect bf16/f16 runs
(Gemma4RMSNorm.forward `hidden_states.float()`, the rotary embedding's float32 `inv_freq` and `freqs`,
`softmax(..., dtype=torch.float32)` in eager_attention_forward and in the MoE router). Run as written, a
"float64" model rounds to float32 at those points (1e-5..1e-4 on these logits). `Float64Everywhere` below is
a torch function mode that turns every float32 request into float64 for the float64 run, leaving HF's code
untouched; `--as-written` turns it off, to measure that difference.

    python golden/make_golden.py --in-place                   # rewrite golden/<case>/golden.safetensors
    python golden/make_golden.py --out DIR [--cases ...]      # write DIR/<case>/golden.safetensors
    python golden/make_golden.py --check [--cases ...]        # committed files == HF's float64 run (1e-12)
    python golden/make_golden.py --compare OLD_DIR --out DIR  # max |new - old| per capture point

Safetensors reading and writing is the 20 lines of golden/FORMAT.md (numpy only).
"""
import argparse
import copy
import datetime
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NP = {"F32": "<f4", "I32": "<i4", "F64": "<f8", "I64": "<i8"}

# The prompts of every case (ids < 512, the tiny vocabulary), starting with BOS = 2; `long` is five windows.
PROMPTS = {
    "short": [2, 71, 68, 408, 257, 303, 309, 365, 17, 250, 78, 207],
    "long": [2, 395, 189, 338, 104, 483, 48, 137, 335, 11, 236, 77, 505, 170, 436, 165, 429, 29, 29, 140, 285, 86,
             312, 266, 28, 178, 245, 466, 170, 169, 113, 241, 408, 183, 217, 329, 55, 302, 190, 305],
}
GREEDY_NEW_TOKENS = 16
DRAFT_STEPS = 4
CLASSES = {"gemma4": "Gemma4ForConditionalGeneration", "gemma4_text": "Gemma4ForCausalLM",
           "gemma4_assistant": "Gemma4AssistantForCausalLM",
           "gemma4_unified": "Gemma4UnifiedForConditionalGeneration", "gemma4_unified_text": "Gemma4UnifiedForCausalLM",
           "gemma4_unified_assistant": "Gemma4UnifiedAssistantForCausalLM"}
ASSISTANTS = ("gemma4_assistant", "gemma4_unified_assistant")
LOGIT_POINTS = ("logits", "greedy_logits", "draft_logits", "swa_causal.draft_logits")


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        tensors[name] = np.frombuffer(data[b:e], NP[t["dtype"]]).reshape(t["shape"]) if t["dtype"] in NP else t["dtype"]
    return meta, tensors


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array.astype("<f4") if array.dtype.kind == "f" else array.astype("<i4"))
        blob = array.tobytes()
        header[name] = {"dtype": "F32" if array.dtype.kind == "f" else "I32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(tmp, path)


def f64(t):
    return t.detach().to("cpu").double().numpy()


def ints(t):
    return np.asarray(t.detach().to("cpu").numpy() if hasattr(t, "detach") else t, dtype=np.int64)


def float64_everywhere(torch):
    from torch.overrides import TorchFunctionMode

    class Float64Everywhere(TorchFunctionMode):
        """Every float32 request (`.float()`, `dtype=torch.float32`, `.to(torch.float32)`) becomes float64."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = dict(kwargs or {})
            if func is torch.Tensor.float:
                return args[0].to(torch.float64)
            if kwargs.get("dtype") is torch.float32:
                kwargs["dtype"] = torch.float64
            args = tuple(torch.float64 if a is torch.float32 else a for a in args)
            return func(*args, **kwargs)

    return Float64Everywhere()


def fix_kv_sharing_modes(transformers):
    """Two cases in which transformers 5.23.0's Gemma4TextConfig.kv_sharing_modes (configuration_gemma4.py:228-252,
    and its twin in configuration_gemma4_unified.py) breaks HF's own drafting, fixed here and nowhere else:
    1. a drafter: Gemma4AssistantConfig requires every layer to reuse the target's K/V (num_kv_shared_layers ==
       num_hidden_layers), but kv_sharing_modes raises "The set of layer types producing a cache is different
       than the set of layer types using them" when no layer produces one, so no Gemma 4 assistant can be built.
       Fixed: every layer is a consumer ("reuse"), what Gemma4TextAttention expects of a drafter layer.
    2. a target without KV sharing (the 26B/31B: num_kv_shared_layers = 0): kv_sharing_modes returns None for
       every layer, so no layer stores its K/V, `shared_kv_states` comes back empty and the assistant fails with
       KeyError 'full_attention' (modeling_gemma4_assistant.py:216). Fixed as the method's own comment says it
       should be ("the last non-consumer layer of each type stores its KV states, even if no layer reuses them:
       assistant models read them"): the last layer of each type is "store". Storing only fills the dict the
       forward returns; the target's own outputs do not change."""
    from transformers.models.gemma4 import configuration_gemma4
    from transformers.models.gemma4_unified import configuration_gemma4_unified
    for cls in (configuration_gemma4.Gemma4TextConfig, configuration_gemma4_unified.Gemma4UnifiedTextConfig):
        original = cls.kv_sharing_modes
        if getattr(original.fget, "golden_fix", False):
            continue

        def modes(self, original=original):
            n, shared = self.num_hidden_layers, self.num_kv_shared_layers or 0
            if shared == n:
                return ["reuse"] * n
            if shared == 0:
                out = [None] * n
                for layer_type in set(self.layer_types[:n]):
                    out[max(i for i in range(n) if self.layer_types[i] == layer_type)] = "store"
                return out
            return original.fget(self)

        modes.golden_fix = True
        cls.kv_sharing_modes = property(modes)


def load(case_dir, dtype, torch, transformers):
    config = json.load(open(os.path.join(case_dir, "config.json")))
    cls = getattr(transformers, CLASSES[config["model_type"]])
    model = cls.from_pretrained(case_dir, dtype=dtype, attn_implementation="eager", experts_implementation="eager")
    model.generation_config.eos_token_id = None  # goldens continue past EOS: G argmax steps, always
    return config, model.eval()


def text_model(model):
    """The text model (Gemma4TextModel) inside any of the top-level classes."""
    inner = model.model
    return inner.language_model if hasattr(inner, "language_model") else inner


def text_config(config):
    return config.get("text_config", config)


def target_run(model, config, torch):
    """Capture points of a target model for each prompt (golden/FORMAT.md names), as float64/int64 arrays."""
    text = text_model(model)
    records = {}

    def hook(name):
        def f(_module, _inputs, output):
            records.setdefault(name, []).append(output)
        return f

    handles = [text.embed_tokens.register_forward_hook(hook("embeddings")),
               text.norm.register_forward_hook(hook("final_norm"))]
    for i, layer in enumerate(text.layers):
        handles.append(layer.register_forward_hook(hook(f"hidden_states.{i}")))
        if getattr(layer, "enable_moe_block", False):
            handles.append(layer.router.register_forward_hook(hook(f"router.{i}")))
    original_project = getattr(text, "project_per_layer_inputs", None)  # PLE models only
    if original_project is not None and text_config(config).get("hidden_size_per_layer_input"):
        def project(*args, **kwargs):
            out = original_project(*args, **kwargs)
            records.setdefault("ple_inputs", []).append(out)
            return out
        text.project_per_layer_inputs = project

    out = {}
    L = len(text.layers)
    try:
        for name, ids in PROMPTS.items():
            records.clear()
            input_ids = torch.tensor([ids])
            T = len(ids)
            with torch.no_grad():
                result = model(input_ids=input_ids, use_cache=False, return_shared_kv_states=True)
            out[f"{name}.input_ids"] = ints(ids)
            out[f"{name}.embeddings"] = f64(records["embeddings"][0][0])
            if "ple_inputs" in records:
                out[f"{name}.ple_inputs"] = f64(records["ple_inputs"][0][0])
            out[f"{name}.hidden_states"] = np.stack([f64(records[f"hidden_states.{i}"][0][0]) for i in range(L)])
            out[f"{name}.final_norm"] = f64(records["final_norm"][0][0])
            out[f"{name}.logits"] = f64(result.logits[0])
            for layer_type, (k, v) in sorted((result.shared_kv_states or {}).items()):
                out[f"{name}.shared_kv.{layer_type}.k"] = f64(k[0].transpose(0, 1))  # [KV,T,D] -> [T,KV,D]
                out[f"{name}.shared_kv.{layer_type}.v"] = f64(v[0].transpose(0, 1))
            if "router.0" in records or any(k.startswith("router.") for k in records):
                routed = [i for i in range(L) if f"router.{i}" in records]
                probs, weights, index = zip(*[records[f"router.{i}"][0] for i in routed])
                out[f"{name}.router_probs"] = np.stack([f64(p.reshape(T, -1)) for p in probs])
                out[f"{name}.router_topk_w"] = np.stack([f64(w.reshape(T, -1)) for w in weights])
                out[f"{name}.router_topk_idx"] = np.stack([ints(x.reshape(T, -1)) for x in index])
            # greedy continuation: HF's generate() with its KV cache, the path people run
            # (the raw argmax continuation of golden/FORMAT.md: no EOS stop, no suppressed tokens)
            with torch.no_grad():
                gen = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                     max_new_tokens=GREEDY_NEW_TOKENS, do_sample=False, output_logits=True,
                                     return_dict_in_generate=True, suppress_tokens=[])
            out[f"{name}.greedy_tokens"] = ints(gen.sequences[0, T:])
            out[f"{name}.greedy_logits"] = np.stack([f64(row[0]) for row in gen.logits])
            if out[f"{name}.greedy_tokens"].tolist() != [int(np.argmax(r)) for r in out[f"{name}.greedy_logits"]]:
                raise RuntimeError(f"{name}: generate() did not pick the argmax of its logits")
            if model.generation_config.suppress_tokens:  # generation_config.json's suppress_tokens applied
                with torch.no_grad():
                    gen = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                         max_new_tokens=GREEDY_NEW_TOKENS, do_sample=False)
                out[f"{name}.greedy_suppressed_tokens"] = ints(gen[0, T:])
    finally:
        for h in handles:
            h.remove()
        if original_project is not None:
            text.project_per_layer_inputs = original_project
    return out


class _FirstRoundDone(Exception):
    pass


def drafter_run(assistant, target, window, torch):
    """The first drafting round after a prefill, through HF's assisted generation (golden/README.md)."""
    from transformers.generation import candidate_generator

    generator_cls = candidate_generator.SinglePositionMultiTokenCandidateGenerator
    original = generator_cls.get_candidates
    layer_outputs, steps, round_ = [], [], {}
    handles = [layer.register_forward_hook(lambda _m, _i, output: layer_outputs.append(output))
               for layer in assistant.model.layers]

    def on_step(_module, args, kwargs, output):
        steps.append({"position_ids": kwargs["position_ids"], "hidden": output.last_hidden_state,
                      "logits": output.logits, "layers": list(layer_outputs)})
        layer_outputs.clear()

    handles.append(assistant.register_forward_hook(on_step, with_kwargs=True))
    variant = {"keep_sliding": None}

    def get_candidates(self, input_ids, model_kwargs, model_outputs, is_first_iteration, n_last_matches, **kwargs):
        if is_first_iteration:  # the target has not run yet
            return original(self, input_ids, model_kwargs, model_outputs, is_first_iteration, n_last_matches, **kwargs)
        if variant["keep_sliding"]:
            # llama.cpp's convention: the drafter's sliding layers see only the last W-1 target entries
            model_outputs = copy.copy(model_outputs)
            shared = dict(model_outputs.shared_kv_states)
            shared["sliding_attention"] = tuple(x[:, :, -variant["keep_sliding"]:] for x in shared["sliding_attention"])
            model_outputs.shared_kv_states = shared
        steps.clear()
        layer_outputs.clear()
        candidates, logits = original(self, input_ids, model_kwargs, model_outputs, is_first_iteration,
                                      n_last_matches, **kwargs)
        round_.update(input_ids=input_ids, hidden=model_outputs.hidden_states[-1][0, -1],
                      shared=model_outputs.shared_kv_states, candidates=candidates[0, input_ids.shape[1]:],
                      logits=logits[0])
        raise _FirstRoundDone

    generator_cls.get_candidates = get_candidates
    assistant.generation_config.num_assistant_tokens = DRAFT_STEPS
    assistant.generation_config.num_assistant_tokens_schedule = "constant"
    out = {}
    try:
        for name, ids in PROMPTS.items():
            T = len(ids)
            for prefix, keep in (("", None), ("swa_causal.", window - 1)):
                variant["keep_sliding"] = keep
                input_ids = torch.tensor([ids])
                try:
                    with torch.no_grad():
                        target.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                        assistant_model=assistant, do_sample=False, suppress_tokens=[],
                                        max_new_tokens=DRAFT_STEPS + 2)
                    raise RuntimeError("assisted generation finished without a drafting round")
                except _FirstRoundDone:
                    pass
                if len(steps) != DRAFT_STEPS:
                    raise RuntimeError(f"the drafting round ran {len(steps)} drafter steps, expected {DRAFT_STEPS}")
                if round_["input_ids"].shape[1] != T + 1 or round_["input_ids"][0, :T].tolist() != ids:
                    raise RuntimeError("the first drafting round did not start right after the prompt")
                tokens = ints(round_["candidates"])
                logits = f64(round_["logits"])
                if tokens.tolist() != [int(np.argmax(row)) for row in logits]:
                    raise RuntimeError("draft tokens are not the argmax of the draft logits")
                out[f"{name}.{prefix}draft_tokens"] = tokens
                out[f"{name}.{prefix}draft_logits"] = logits
                out[f"{name}.{prefix}draft_hidden"] = np.stack([f64(s["hidden"][0, 0]) for s in steps])
                if prefix:
                    continue
                out[f"{name}.input_ids"] = ints(ids)
                out[f"{name}.target_next_token"] = ints(round_["input_ids"][0, T:])
                out[f"{name}.target_last_hidden"] = f64(round_["hidden"])
                positions = {int(s["position_ids"].reshape(-1)[0]) for s in steps}
                if len(positions) != 1:
                    raise RuntimeError(f"draft positions vary: {positions}")
                out[f"{name}.draft_position"] = ints(sorted(positions))
                for layer_type, (k, v) in sorted(round_["shared"].items()):
                    out[f"{name}.shared_kv.{layer_type}.k"] = f64(k[0].transpose(0, 1))
                    out[f"{name}.shared_kv.{layer_type}.v"] = f64(v[0].transpose(0, 1))
                out[f"{name}.draft_layer_hidden"] = np.stack(
                    [np.stack([f64(t[0, 0]) for t in s["layers"]]) for s in steps])
    finally:
        generator_cls.get_candidates = original
        for h in handles:
            h.remove()
    return out


def round_embed_scales(model, torch):
    """The embedding scales (sqrt(hidden_size), sqrt(hidden_size_per_layer_input)) rounded to float32, as the
    goldens before HF's had them (golden/HF_VS_OLD.md); only for that comparison."""
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("embed_scale"):
                buffer.copy_(torch.from_numpy(buffer.numpy().astype(np.float32).astype(np.float64)))


def run_case(case, float64, torch, transformers, widen=True, f32_embed_scale=False):
    """(capture points, case config, target config or None) of one case in one precision."""
    import contextlib
    case_dir = os.path.join(HERE, case)
    dtype = torch.float64 if float64 else torch.float32
    with (float64_everywhere(torch) if float64 and widen else contextlib.nullcontext()):
        config, model = load(case_dir, dtype, torch, transformers)
        if config["model_type"] in ASSISTANTS:
            target_config, target = load(os.path.join(HERE, config["target_case"]), dtype, torch, transformers)
            if f32_embed_scale:
                round_embed_scales(target, torch)
            window = text_config(target_config)["sliding_window"]
            return drafter_run(model, target, window, torch), config, target_config
        if f32_embed_scale:
            round_embed_scales(model, torch)
        return target_run(model, config, torch), config, None


def max_abs(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def top2_gap(rows):
    rows = np.sort(rows.reshape(-1, rows.shape[-1]), axis=-1)
    return float(np.min(rows[:, -1] - rows[:, -2]))


def checkpoint_dtypes(case_dir):
    raw = open(os.path.join(case_dir, "model.safetensors"), "rb").read(8)
    n = struct.unpack("<Q", raw)[0]
    with open(os.path.join(case_dir, "model.safetensors"), "rb") as f:
        f.seek(8)
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return sorted({t["dtype"] for t in header.values()}), header


def metadata(case, config, target_config, ref, f32, torch, transformers, as_written):
    tc = text_config(config)
    dtypes, header = checkpoint_dtypes(os.path.join(HERE, case))
    is_drafter = config["model_type"] in ASSISTANTS
    floats = [n for n in ref if ref[n].dtype.kind == "f"]
    # 10x the float32 run's error on the capture points each bound is applied to (golden/FORMAT.md): the
    # logits; and every other float point of a target (final_norm, scaled by its norm weight, errs most), the
    # drafter's own hidden states of a drafter (its inputs are the target's, held to the target's bound).
    errors = {}
    for n in floats:
        point = n.split(".", 1)[1]
        errors[point] = max(errors.get(point, 0.0), max_abs(f32[n], ref[n]))
    logit_err = max(e for p, e in errors.items() if p in LOGIT_POINTS)
    hidden_points = (("draft_hidden", "draft_layer_hidden") if is_drafter else
                     tuple(p for p in errors if p not in LOGIT_POINTS))
    hidden_err = max(errors[p] for p in hidden_points)
    decisions = [n for n in ref if ref[n].dtype.kind == "i" and not np.array_equal(ref[n], f32[n])]
    logit_names = [n for n in floats if n.split(".", 1)[1] in ("logits", "greedy_logits", "draft_logits")]
    meta = {
        "producer": f"golden/make_golden.py: transformers {transformers.__version__}, "
                    f"torch {torch.__version__.split('+')[0]}, {CLASSES[config['model_type']]}"
                    + (f" fed by {CLASSES[target_config['model_type']]}.generate(assistant_model=...)" if is_drafter else "")
                    + ", eager attention",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "case": case,
        "checkpoint_dtype": dtypes,
        "compute_dtype": "float64" + (" as written (HF's float32 up-casts kept)" if as_written else
                                      " everywhere (HF's code, its float32 up-casts widened to float64)"),
        "stored_dtype": "float32 / int32",
        "prompts": {name: {"length": len(ids), "ids": ids} for name, ids in PROMPTS.items()},
    }
    if is_drafter:
        meta.update(target_case=config["target_case"], draft_steps=DRAFT_STEPS,
                    use_ordered_embeddings=bool(config.get("use_ordered_embeddings")),
                    semantics={
                        "round": "first drafting round of SinglePositionMultiTokenCandidateGenerator.get_candidates "
                                 "inside target.generate(assistant_model=...), after the prefill of the prompt",
                        "target_next_token": "the token the target appended after the prefill",
                        "target_last_hidden": "model_outputs.hidden_states[-1][:, -1] (the target's final norm at T-1)",
                        "draft_position": "position_ids of every draft step (= T)",
                        "shared_kv": "model_outputs.shared_kv_states, [T, KV, D], what every drafter layer of that type reads",
                        "draft_hidden": "the drafter's last_hidden_state (post_projection output) per step",
                        "draft_layer_hidden": "output of each drafter decoder layer per step [k, La, Ha]",
                        "swa_causal": "the same round with shared_kv_states['sliding_attention'] cut to its last W-1 "
                                      "entries before the drafter sees it: llama.cpp's convention, not HF's; for "
                                      "comparison only"})
    else:
        first_shared = tc["num_hidden_layers"] - (tc.get("num_kv_shared_layers") or 0)
        kv_sources = {t: max(i for i in range(first_shared) if tc["layer_types"][i] == t)
                      for t in sorted(set(tc["layer_types"][:first_shared]))}
        meta.update(greedy_new_tokens=GREEDY_NEW_TOKENS, kv_sources=kv_sources, layer_types=tc["layer_types"],
                    tensor_prefix="model.language_model." if any(k.startswith("model.language_model.") for k in header)
                    else "model.")
    meta["config"] = {k: v for k, v in tc.items() if not isinstance(v, (dict, list))}
    meta["tolerance_hints"] = {
        "note": "max |HF float32 run - this float64 run| over all prompts; the tolerance is 10x the logits' and "
                "that of " + ", ".join(hidden_points) + ", at least 1e-4",
        "observed_fp32_logits_max_abs": logit_err,
        "observed_fp32_hidden_max_abs": hidden_err,
        "observed_fp32_max_abs_per_capture_point": errors,
        "fp32_integer_outputs_differing": decisions,
        "min_top1_top2_logit_gap": min(top2_gap(ref[n]) for n in logit_names),
    }
    if any(n.endswith("router_probs") for n in ref):
        k = tc["top_k_experts"]
        gaps = [np.sort(ref[n], axis=-1) for n in ref if n.endswith("router_probs")]
        meta["tolerance_hints"]["min_router_kth_vs_k+1th_prob_gap"] = float(min(np.min(g[..., -k] - g[..., -k - 1]) for g in gaps))
    meta["tolerance"] = {"rule": "10x the HF float32 run's error against this float64 golden on the capture points "
                                 "each bound applies to, at least 1e-4",
                         "logits_max_abs": max(1e-4, 10 * logit_err), "hidden_max_abs": max(1e-4, 10 * hidden_err),
                         "logits_nmse": 1e-7, "top1": "identical at every position"}
    return meta


def excess_over_rounding(new64, old32):
    """max(|new64 - old32| - half an f32 ulp of old32): > 0 only where the float64 values differ."""
    old = old32.astype(np.float32)
    half_ulp = np.spacing(np.abs(old)).astype(np.float64) / 2
    return float(np.max(np.abs(new64 - old.astype(np.float64)) - half_ulp)) if old.size else 0.0


def compare(ref, old_path):
    """Per capture point (prompts merged): max |new - old| of the stored float32 values, and the excess of the
    float64 values over float32 rounding."""
    _, old = read_safetensors(old_path)
    rows = {}
    for name in sorted(set(ref) | set(old)):
        point = name.split(".", 1)[1]
        if name not in ref or name not in old or ref[name].shape != old[name].shape:
            rows[point] = {"note": "only in " + ("old" if name in old else "new") if (name not in ref or name not in old)
                           else f"shape {list(old[name].shape)} -> {list(ref[name].shape)}"}
            continue
        row = rows.setdefault(point, {"stored_max_abs": 0.0, "excess": -np.inf})
        if ref[name].dtype.kind == "i":
            row["stored_max_abs"] = max(row["stored_max_abs"], max_abs(ref[name], old[name]))
            row["excess"] = max(row["excess"], row["stored_max_abs"])
        else:
            row["stored_max_abs"] = max(row["stored_max_abs"], max_abs(ref[name].astype(np.float32), old[name]))
            row["excess"] = max(row["excess"], excess_over_rounding(ref[name], old[name]))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write DIR/<case>/golden.safetensors")
    parser.add_argument("--in-place", action="store_true", help="rewrite golden/<case>/golden.safetensors")
    parser.add_argument("--check", action="store_true",
                        help="check the committed goldens: each stored value is the float32 rounding of a value within "
                             "1e-12 of HF's float64 run, integers identical (no file written)")
    parser.add_argument("--compare", metavar="OLD_DIR", help="print max |new - old| against OLD_DIR/<case>/golden.safetensors")
    parser.add_argument("--as-written", action="store_true", help="float64 run without widening HF's float32 up-casts")
    parser.add_argument("--f32-embed-scale", action="store_true",
                        help="round the embedding scales to float32 in the float64 run, as the goldens before HF's did")
    parser.add_argument("--cases", nargs="*")
    parser.add_argument("--summary", help="write the comparison as JSON")
    args = parser.parse_args()
    if not (args.out or args.in_place or args.check):
        parser.error("say --out DIR, --in-place or --check")
    import torch
    import transformers
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(1)  # one summation order: the float64 run is reproducible to the last bit
    torch.set_default_dtype(torch.float64)
    fix_kv_sharing_modes(transformers)
    cases = args.cases or sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "config.json")))
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    summary, failed = {}, False
    for case in cases:
        ref, config, target_config = run_case(case, True, torch, transformers, widen=not args.as_written,
                                             f32_embed_scale=args.f32_embed_scale)
        committed = os.path.join(HERE, case, "golden.safetensors")
        if args.check:
            if not os.path.isfile(committed):
                print(f"{case}: no committed golden.safetensors")
                failed = True
                continue
            rows = compare(ref, committed)
            bad = {p: r for p, r in rows.items() if "note" in r or r["excess"] > 1e-12}
            for point, r in rows.items():
                print(f"  {case:16s} {point:34s} " + (r["note"] if "note" in r else
                      f"max|stored - HF f32 rounding| = {r['stored_max_abs']:.3e}  excess over f32 rounding = {r['excess']:.3e}"))
            print(f"{case}: {'FAIL' if bad else 'ok'} ({len(rows)} capture points" +
                  (f", differing: {sorted(bad)})" if bad else ", all within 1e-12 of HF's float64 run)"))
            failed |= bool(bad)
            continue
        f32, _, _ = run_case(case, False, torch, transformers)
        meta = metadata(case, config, target_config, ref, f32, torch, transformers, args.as_written)
        path = committed if args.in_place else os.path.join(args.out, case, "golden.safetensors")
        old_path = os.path.join(args.compare, case, "golden.safetensors") if args.compare else None
        if old_path and os.path.isfile(old_path):
            rows = compare(ref, old_path)
            summary[case] = rows
            print(f"\n{case}: new vs {old_path}")
            for point, r in rows.items():
                print(f"  {point:34s} " + (r["note"] if "note" in r else
                      f"max|new - old| = {r['stored_max_abs']:.3e}  float64 excess over f32 rounding = {r['excess']:.3e}"))
        write_safetensors(path, ref, {"golden": json.dumps(meta)})
        hints = meta["tolerance_hints"]
        print(f"{case}: wrote {path}; HF float32 run: logits {hints['observed_fp32_logits_max_abs']:.3e}, "
              f"hidden {hints['observed_fp32_hidden_max_abs']:.3e}, integer outputs differing: "
              f"{hints['fp32_integer_outputs_differing'] or 'none'}")
        failed |= bool(hints["fp32_integer_outputs_differing"])
    if args.summary:
        json.dump(summary, open(args.summary, "w"), indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
