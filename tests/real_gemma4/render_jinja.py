"""The oracle for tests/real_gemma4/template_test.sh: renders conversations with a real chat template through
Python jinja2, set up as Hugging Face transformers sets it up for apply_chat_template (sandboxed, trim_blocks,
lstrip_blocks, loopcontrols, bos_token), and compares with what chat_render (our ChatFormat) printed.

    python3 render_jinja.py TEMPLATE.jinja CONVERSATIONS.json OURS.jsonl

Every conversation is rendered with add_generation_prompt false/true and enable_thinking absent/false/true,
in chat_render's order. A conversation marked "refused" (tool messages: ChatFormat carries text only) must be
refused by ours with one line (the template renders it with its tool markup, or drops a tool message that
follows no tool call); every other must render identically. Prints the counts and each difference; exit 1 on any.
"""
import json
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                       extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)
    return env


def main():
    template_path, cases_path, ours_path = sys.argv[1:4]
    with open(template_path, encoding="utf-8") as f:
        template = environment().from_string(f.read())
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)
    with open(ours_path, encoding="utf-8") as f:
        ours = [json.loads(line) for line in f]
    same = refused = bad = 0
    k = 0
    for case in cases:
        for generation_prompt in (False, True):
            for thinking in ("absent", "false", "true"):
                kwargs = {"messages": case["messages"], "bos_token": "<bos>",
                          "add_generation_prompt": generation_prompt}
                if "tools" in case:
                    kwargs["tools"] = case["tools"]
                if thinking != "absent":
                    kwargs["enable_thinking"] = thinking == "true"
                expected = template.render(**kwargs)
                mine = ours[k] if k < len(ours) else {}
                k += 1
                where = f"{case['name']} (add_generation_prompt={generation_prompt}, enable_thinking={thinking})"
                if case.get("refused"):
                    error = mine.get("error", "")
                    if error and "\n" not in error:
                        refused += 1
                    else:
                        bad += 1
                        print(f"DIFFERENT {where}: expected a one-line refusal, got {json.dumps(mine)}")
                elif mine.get("text") == expected:
                    same += 1
                else:
                    bad += 1
                    print(f"DIFFERENT {where}:\n  template: {json.dumps(expected)}\n  ours:     {json.dumps(mine)}")
    if k != len(ours):
        print(f"chat_render printed {len(ours)} renderings, expected {k}")
        bad += 1
    print(f"{template_path.rsplit('/', 1)[-1]}: {k} renderings ({len(cases)} conversations x add_generation_prompt"
          f" x enable_thinking absent/false/true): identical {same}, tool conversations refused in one line"
          f" {refused}, different {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
