#!/usr/bin/env python3
"""Regenerate the golden files with the real Hugging Face `transformers` package, and compare them with the
shipped ones.

Needs transformers >= 5.5 and PyTorch 2.x, which Debian 12's packages do not provide (run it where they are
installed, e.g. a machine with `pip install transformers torch`). For every case in golden/ it builds the
model from the case's config.json and model.safetensors (Gemma4ForConditionalGeneration, Gemma4ForCausalLM or
Gemma4AssistantForCausalLM), runs it in float64 on the prompts of the shipped golden file, records every
capture point of golden/FORMAT.md, writes OUT/<case>/golden.safetensors in that format, and prints, per
capture point, the largest difference from the shipped file: the numbers golden/REPORT.md records.

    python3 golden/make_golden.py [--out /tmp/hf-goldens] [--cases e2b_like assistant ...]

Only numpy, torch and transformers are used; the safetensors reading and writing is the 20 lines of
golden/FORMAT.md.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NP = {"F32": "<f4", "I32": "<i4", "F64": "<f8", "I64": "<i8", "BF16": None}


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        tensors[name] = np.frombuffer(data[b:e], NP[t["dtype"]]).reshape(t["shape"])
    return meta, tensors


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        dtype = {np.dtype("<f4"): "F32", np.dtype("<i4"): "I32"}[array.dtype]
        blob = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def f32(t):
    return t.detach().to("cpu").double().numpy().astype("<f4")


def i32(t):
    return np.asarray(t.detach().to("cpu").numpy() if hasattr(t, "detach") else t, dtype="<i4")


def load(case_dir, torch, transformers):
    config = json.load(open(os.path.join(case_dir, "config.json")))
    cls = {"gemma4": "Gemma4ForConditionalGeneration", "gemma4_text": "Gemma4ForCausalLM",
           "gemma4_assistant": "Gemma4AssistantForCausalLM"}[config["model_type"]]
    model = getattr(transformers, cls).from_pretrained(case_dir, dtype=torch.float64, attn_implementation="eager")
    return config, model.eval()


def text_model(model):
    """The Gemma4TextModel inside either top-level class."""
    inner = model.model
    return inner.language_model if hasattr(inner, "language_model") else inner


def target_goldens(model, config, prompts, greedy, torch):
    """Capture points of a target model for each prompt (golden/FORMAT.md names)."""
    text = text_model(model)
    tc = config.get("text_config", config)
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
    original_project = getattr(text, "project_per_layer_inputs", None)
    if tc.get("hidden_size_per_layer_input"):
        def project(*args, **kwargs):
            out = original_project(*args, **kwargs)
            records.setdefault("ple_inputs", []).append(out)
            return out
        text.project_per_layer_inputs = project

    out = {}
    L = len(text.layers)
    for name, ids in prompts.items():
        records.clear()
        input_ids = torch.tensor([ids])
        with torch.no_grad():
            result = model(input_ids=input_ids, use_cache=False, return_shared_kv_states=True)
        T = len(ids)
        out[f"{name}.input_ids"] = i32(ids)
        out[f"{name}.embeddings"] = f32(records["embeddings"][0][0])
        if "ple_inputs" in records:
            out[f"{name}.ple_inputs"] = f32(records["ple_inputs"][0][0])
        out[f"{name}.hidden_states"] = np.stack([f32(records[f"hidden_states.{i}"][0][0]) for i in range(L)])
        out[f"{name}.final_norm"] = f32(records["final_norm"][0][0])
        out[f"{name}.logits"] = f32(result.logits[0])
        for layer_type, (k, v) in (result.shared_kv_states or {}).items():
            out[f"{name}.shared_kv.{layer_type}.k"] = f32(k[0].transpose(0, 1))  # [KV,T,D] -> [T,KV,D]
            out[f"{name}.shared_kv.{layer_type}.v"] = f32(v[0].transpose(0, 1))
        if any(k.startswith("router.") for k in records):
            probs, weights, index = zip(*[records[f"router.{i}"][0] for i in range(L)])
            out[f"{name}.router_probs"] = np.stack([f32(p.reshape(T, -1)) for p in probs])
            out[f"{name}.router_topk_w"] = np.stack([f32(w.reshape(T, -1)) for w in weights])
            out[f"{name}.router_topk_idx"] = np.stack([i32(x.reshape(T, -1)) for x in index])
        # greedy continuation with HF's KV cache (the path people run)
        tokens, rows = [], []
        with torch.no_grad():
            step = model(input_ids=input_ids, use_cache=True)
            for _ in range(greedy):
                row = step.logits[0, -1]
                rows.append(f32(row))
                tokens.append(int(torch.argmax(row)))
                step = model(input_ids=torch.tensor([[tokens[-1]]]), past_key_values=step.past_key_values, use_cache=True)
        out[f"{name}.greedy_tokens"] = i32(tokens)
        out[f"{name}.greedy_logits"] = np.stack(rows)
    for h in handles:
        h.remove()
    if original_project is not None:
        text.project_per_layer_inputs = original_project
    return out


def drafter_goldens(assistant, target, target_config, prompts, steps, window, torch):
    """The first drafting round after prefilling each prompt into the target (golden/README.md)."""
    out = {}
    embed = text_model(target).embed_tokens  # the TARGET's scaled embedding
    layer_outputs = []  # each drafter decoder layer's output (after layer_scalar), in call order
    handles = [layer.register_forward_hook(lambda _m, _i, output: layer_outputs.append(output))
               for layer in assistant.model.layers]
    for name, ids in prompts.items():
        T = len(ids)
        with torch.no_grad():
            result = target(input_ids=torch.tensor([ids]), use_cache=False, output_hidden_states=True,
                            return_shared_kv_states=True)
        shared = result.shared_kv_states
        token = int(torch.argmax(result.logits[0, -1]))
        hidden = result.hidden_states[-1][0, -1]  # HF's last output_hidden_states entry is the final norm
        out[f"{name}.input_ids"] = i32(ids)
        out[f"{name}.target_next_token"] = i32([token])
        out[f"{name}.target_last_hidden"] = f32(hidden)
        out[f"{name}.draft_position"] = i32([T])
        for layer_type, (k, v) in shared.items():
            out[f"{name}.shared_kv.{layer_type}.k"] = f32(k[0].transpose(0, 1))
            out[f"{name}.shared_kv.{layer_type}.v"] = f32(v[0].transpose(0, 1))
        for variant, kv in (("", shared),
                            # llama.cpp's convention: the sliding layers see only the last W-1 entries
                            ("swa_causal.", {**shared, "sliding_attention": tuple(x[:, :, -(window - 1):]
                                                                                    for x in shared["sliding_attention"])})):
            tok, h = token, hidden
            tokens, logits, hiddens, layer_hidden = [], [], [], []
            for _ in range(steps):
                layer_outputs.clear()
                with torch.no_grad():
                    x = torch.cat([embed(torch.tensor([[tok]]))[0, 0], h]).view(1, 1, -1)
                    step = assistant(inputs_embeds=x, position_ids=torch.tensor([[T]]), shared_kv_states=kv)
                logits.append(f32(step.logits[0, 0]))
                hiddens.append(f32(step.last_hidden_state[0, 0]))  # post_projection output
                layer_hidden.append(np.stack([f32(t[0, 0]) for t in layer_outputs]))
                tok = int(torch.argmax(step.logits[0, 0]))
                tokens.append(tok)
                h = step.last_hidden_state[0, 0]
            out[f"{name}.{variant}draft_tokens"] = i32(tokens)
            out[f"{name}.{variant}draft_logits"] = np.stack(logits)
            out[f"{name}.{variant}draft_hidden"] = np.stack(hiddens)
            if not variant:
                out[f"{name}.draft_layer_hidden"] = np.stack(layer_hidden)
    for h in handles:
        h.remove()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/hf-goldens")
    parser.add_argument("--cases", nargs="*")
    args = parser.parse_args()
    import torch
    import transformers
    torch.set_default_dtype(torch.float64)
    cases = args.cases or sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "golden.safetensors")))
    summary = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": {}}
    for case in cases:
        case_dir = os.path.join(HERE, case)
        shipped_meta, shipped = read_safetensors(os.path.join(case_dir, "golden.safetensors"))
        meta = json.loads(shipped_meta["golden"])
        prompts = {name: p["ids"] for name, p in meta["prompts"].items()}
        config, model = load(case_dir, torch, transformers)
        if config["model_type"] == "gemma4_assistant":
            target_dir = os.path.join(HERE, config["target_case"])
            target_config, target = load(target_dir, torch, transformers)
            window = target_config.get("text_config", target_config)["sliding_window"]
            ours = drafter_goldens(model, target, target_config, prompts, meta["draft_steps"], window, torch)
        else:
            ours = target_goldens(model, config, prompts, meta["greedy_new_tokens"], torch)
        meta = dict(meta, producer=f"golden/make_golden.py with transformers {transformers.__version__}, "
                                   f"torch {torch.__version__} (float64)")
        write_safetensors(os.path.join(args.out, case, "golden.safetensors"), ours, {"golden": json.dumps(meta)})
        rows = {}
        print(f"\n{case}")
        for name in sorted(shipped):
            if name not in ours:
                print(f"  {name:45s} not produced")
                continue
            a, b = ours[name].astype(np.float64), shipped[name].astype(np.float64)
            diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
            rows[name] = diff
            print(f"  {name:45s} max|HF - shipped| = {diff:.3e}")
        summary["cases"][case] = rows
    json.dump(summary, open(os.path.join(args.out, "summary.json"), "w"), indent=1)
    print(f"\nwrote {args.out}/<case>/golden.safetensors and {args.out}/summary.json")


if __name__ == "__main__":
    sys.exit(main())
