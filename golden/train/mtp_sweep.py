#!/usr/bin/env python3
"""MTP on a model where drafts get accepted: trained_e2b with trained_e2b-assistant, draft-max 1..8, greedy
and temperature 1, against plain decoding, through gemma4-run (Debian's python3 is enough):

    python3 golden/train/mtp_sweep.py [--bin build/gemma4-run] [--prompts 6] [-n 96] [--threads 1]

Prompts: the first verse of the first PROMPTS chapters of golden/train/valid.txt (raw text, no chat template).
For each setting it sums, over the prompts, what gemma4-run prints on stderr: tokens generated, the decode
rate, drafted / accepted tokens and target forwards; it prints one markdown table row per setting:
acceptance = accepted / drafted, tokens per target forward = generated / forwards, decode tok/s (the sum of
tokens over the sum of decode seconds) and its ratio to plain decoding at the same temperature. Greedy runs
also check that the speculative text equals the plain text (it must: the output is the target's).
Timings are wall-clock on whatever machine runs it; on a shared machine they are noisy.
"""
import argparse
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(binary, model, draft, k, temp, prompt, n, threads, seed):
    cmd = [binary, "-m", model, "--raw", "-p", prompt, "-n", str(n), "-t", str(threads), "--temp", str(temp),
           "--seed", str(seed)]
    if draft:
        cmd += ["--draft", draft, "--draft-max", str(k)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    err = p.stderr
    m = re.search(r"generated (\d+) tokens, ([\d.]+) tok/s", err)
    gen, rate = int(m.group(1)), float(m.group(2))
    s = re.search(r"drafted (\d+), accepted (\d+).*?\| (\d+) target forwards", err)
    drafted, accepted, forwards = (int(s.group(1)), int(s.group(2)), int(s.group(3))) if s else (0, 0, gen)
    return p.stdout, gen, gen / rate, drafted, accepted, forwards


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "gemma4-run"))
    ap.add_argument("--model", default=os.path.join(ROOT, "golden", "trained_e2b"))
    ap.add_argument("--draft", default=os.path.join(ROOT, "golden", "trained_e2b-assistant"))
    ap.add_argument("--prompts", type=int, default=6)
    ap.add_argument("-n", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-k", type=int, default=8)
    a = ap.parse_args()
    with open(os.path.join(HERE, "valid.txt"), encoding="utf-8") as f:
        prompts = [c.split("\n")[0] for c in f.read().split("\n\n")][:a.prompts]

    print("| temp | draft-max | acceptance | tokens / target forward | decode tok/s | vs plain | greedy text = plain |")
    print("|---|---|---|---|---|---|---|")
    for temp in (0, 1):
        base_text, base_tok, base_sec = [], 0, 0.0
        for i, pr in enumerate(prompts):
            out, gen, sec, _, _, _ = run(a.bin, a.model, None, 0, temp, pr, a.n, a.threads, 100 + i)
            base_text.append(out)
            base_tok += gen
            base_sec += sec
        plain = base_tok / base_sec
        print("| %d | plain | - | 1.00 | %.1f | 1.00 | - |" % (temp, plain), flush=True)
        for k in range(1, a.max_k + 1):
            tok = sec = drafted = accepted = forwards = 0
            same = True
            for i, pr in enumerate(prompts):
                out, g, s, d, acc, fw = run(a.bin, a.model, a.draft, k, temp, pr, a.n, a.threads, 100 + i)
                tok, sec, drafted, accepted, forwards = tok + g, sec + s, drafted + d, accepted + acc, forwards + fw
                same = same and out == base_text[i]
            print("| %d | %d | %.1f%% | %.2f | %.1f | %.2f | %s |" % (
                temp, k, 100.0 * accepted / max(drafted, 1), tok / forwards, tok / sec, (tok / sec) / plain,
                ("yes" if same else "NO") if temp == 0 else "-"), flush=True)


if __name__ == "__main__":
    main()
