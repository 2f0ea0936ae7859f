#!/usr/bin/env python3
"""Writes the tokenizer test corpus: corpus.jsonl (one JSON string per line) and invalid_utf8.txt (byte
strings that are not valid UTF-8, one per line, written with \\xHH escapes and \\\\ for a backslash;
everything else on the line is literal UTF-8). Deterministic: rerunning gives the same files.

    python3 tests/tokenizer/make_corpus.py tests/tokenizer
"""
import json
import random
import sys

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
rng = random.Random(20261201)

prose = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "Don't stop believin'; hold on to that feelin'!",
    "Dr. Smith's 3rd-floor office (Room 12B) opens at 9:30 a.m. on weekdays.",
    "Falsches Üben von Xylophonmusik quält jeden größeren Zwerg.",
    "Voix ambiguë d'un cœur qui, au zéphyr, préfère les jattes de kiwis.",
    "El veloz murciélago hindú comía feliz cardillo y kiwi; ¿por qué no?",
    "À noite, vovô Kowalsky vê o ímã cair no pé do pinguim queixoso e vovó põe açúcar no chá.",
    "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Γαζέες καὶ μυρτιὲς δὲν θὰ βρῶ πιὰ στὸ χρυσαφὶ ξέφωτο.",
    "我能吞下玻璃而不伤身体。今天天气很好，我们去公园散步吧！",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ。東京は日本の首都です。",
    "다람쥐 헌 쳇바퀴에 타고파. 안녕하세요, 만나서 반갑습니다!",
    "صِف خَلقَ خَودِ كَمِثلِ الشَمسِ إِذ بَزَغَت — يَحظى الضَجيعُ بِها نَجلاءَ مِعطارِ",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה.",
    "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम।",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
    "Tiếng Việt có dấu: Những con chim én bay về phương Nam.",
    "Pijamalı hasta yağız şoföre çabucak güvendi.",
    "Árvíztűrő tükörfúrógép.",
    "Jeżu klątw, spłódź Finom część gry hańb!",
    "ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱᚩᚠᚢᚱ᛫ᚠᛁᚱᚪ᛫ᚷᛖᚻᚹᛦᛚᚳᚢᛗ",
    "Ꭰ Ꭱ Ꭲ Ꭳ Ꭴ Ꭵ — ⲁⲃⲅⲇ — ሰላም ልዑል — ქართული ენა — Հայերեն",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "In 1969, Apollo 11 landed on the Moon; 600 million people watched.",
    "E = mc², ∑ᵢ xᵢ² ≤ ∫₀^∞ e^{-x} dx, ∀ε>0 ∃δ>0: |x−a|<δ ⇒ |f(x)−f(a)|<ε",
    "Price: $1,234.56 — €99,99 — ¥10,000 — £3.50 — ₹250 — ₿0.001",
    "https://example.com/path?query=1&lang=en#frag — mailto:someone@example.org",
]
code = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"hello, world\\n\");\n\treturn 0;\n}\n",
    "for (auto& [k, v] : map) { std::cout << k << \" => \" << v << '\\n'; }",
    "const add = (a, b) => a + b;\nconsole.log(`sum: ${add(2, 3)}`);",
    "SELECT name, COUNT(*) AS n FROM users WHERE age >= 18 GROUP BY name ORDER BY n DESC;",
    "{\"name\": \"gemma\", \"layers\": [1, 2, 3], \"nested\": {\"ok\": true, \"x\": null}}",
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do wc -l \"$f\"; done",
    "fn main() {\n    let v: Vec<i32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}",
    "<html>\n  <body>\n    <h1>Title</h1>\n    <p class=\"x\">Text &amp; more</p>\n  </body>\n</html>",
    "x = np.linalg.norm(a @ b.T, axis=-1, keepdims=True)  # (B, 1)",
    "    if (x != nullptr && *x >= 0x7F) { return ~x[i] ^ (y << 3) | z >> 1; }",
    "diff --git a/f.c b/f.c\n@@ -1,3 +1,3 @@\n-int x = 1;\n+int x = 2;\n",
    "\\begin{equation} \\int_0^1 x^2\\,dx = \\frac{1}{3} \\end{equation}",
    "key1=value1\r\nkey2=value2\r\n[section]\r\nname = \"quoted value\"\r\n",
    "a\\b\\\\c \\n \\t \\u0041 \\x41",
]
emoji = [
    "😀😃😄😁😆😅😂🤣", "👍🏽👋🏿🙏🏻", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 🏴‍☠️", "🇯🇵🇺🇸🇩🇪🇫🇷", "❤️‍🔥 ❤️ ♥ ❣",
    "🧑🏾‍🚀 astronaut", "1️⃣2️⃣3️⃣ #️⃣", "🙂🙃 emoji at end 🤖", "©®™ ℃ ℉ ☀☁☂☃",
]
specials = [
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[multimodal]", "<start_of_turn>", "<end_of_turn>",
    "<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n", "<unused0>", "<unused98>", "<unused6241>",
    "<start_of_image>", "<end_of_image>", "<image_soft_token>", "<h1>", "</h1>", "<table><tr><td>1</td></tr></table>",
    "<|turn>", "<turn|>", "<|think|>", "<|channel>thought\n<channel|>", "<|tool_call>", "<|\"|>",
    "<start_of_turn", "start_of_turn>", "< bos>", "<BOS>", "<<bos>>", "<bos><bos><eos>", "<bos >", "<unused>",
    "<unused-1>", "<0x41>", "<0xZZ>", "<0x0A>", "<s>", "</s>", "<b>bold</b> and <i>it</i>", "<code>x</code>",
    "text<eos>more", "<eos>\n\n<bos>", "<mask><mask>", "[multimodal][multimodal]", "<tr >", "<TD>", "<br/>",
]
ws_units = [" ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2581", "\u200b", "\f", "\v", "\u2028"]

corpus = []
corpus += prose + code + emoji + specials
corpus += ["", " ", "  ", "\n", "\t", "a", "A", "0", ".", "▁", "▁▁", " ▁ ", "\u2581hello", "\ufeffBOM", "\ufffd"]
for n in list(range(1, 41)) + [64, 100, 257]:
    corpus += [" " * n, "\n" * n, "\t" * n, "x" + " " * n + "y", "a" + "\n" * n + "b", "\t" * n + "code"]
for i in range(120):  # runs of mixed whitespace between words
    corpus.append("".join(rng.choice(ws_units) * rng.randint(1, 6) + rng.choice(["word", "Wort", "слово", "词", "🙂", ""])
                          for _ in range(rng.randint(1, 6))))
corpus += ["".join(chr(c) for c in range(lo, lo + 32)) for lo in (0x00, 0x20, 0x40, 0x60, 0x80, 0xA0)]
corpus += ["control \x00 \x01 \x07 \x1b[31mred\x1b[0m \x7f end", "e\u0301 vs é", "n\u0303o\u0308", "\u202eRTL override\u202c",
           "\U00020000\U0002a6d6 CJK Ext B", "\ue000\uf8ff private use", "\U0001d400\U0001d7ff math", "ﬁ ﬂ ﬀ ligatures",
           "ＡＢＣ１２３ fullwidth", "ｶﾀｶﾅ halfwidth", "x" * 5000, "ab" * 3000, "🙂" * 300, "的" * 1000]
for i in range(200):  # numbers and punctuation
    corpus.append(rng.choice(["", "v", "#", "$", "-"]) + str(rng.randint(0, 10 ** rng.randint(1, 15))) +
                  rng.choice(["", ".", ",", "%", "e-5", ".0", "/2", ":30"]) + rng.choice(["", " ", "!", "?!", "..."]))
pieces = prose + code + emoji + specials + ws_units + [" ", "  ", "\n\n", "\t\t"]
while len(corpus) < 1500:  # random mixtures of everything above
    s = "".join(rng.choice(pieces)[: rng.randint(1, 40)] for _ in range(rng.randint(1, 8)))
    corpus.append(s)

seen, unique = set(), []
for s in corpus:
    if s not in seen:
        seen.add(s)
        unique.append(s)
with open(f"{out_dir}/corpus.jsonl", "w", encoding="utf-8") as f:
    for s in unique:
        f.write(json.dumps(s, ensure_ascii=False) + "\n")

invalid = [b"\xff", b"\xfe\xff", b"abc\x80def", b"\xc0\x80", b"\xc1\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf x",
           b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xe4\xbd", b"\xe4\xbd hello", b"hello \xe4", b"\xf0\x9f\x98",
           b"\xf0\x9f\x98 \xf0\x9f\x98\x80", b"\xc3", b"\xc3\x28", b"caf\xe9 cr\xe8me", b"\x93quoted\x94",
           b"<bos>\xff<eos>", b"\xff<start_of_turn>\xfe", b"  \x80\x80  \n\n\xbf", b"\xe2\x96", b"\xe2\x96 \xe2\x96\x81",
           b"\xef\xbb", b"\xa0\xa1\xa2\xa3", b"\x80" * 40, b"ok \xf8\x88\x80\x80\x80 five-byte", b"\xfc\x84\x80\x80\x80\x80"]
for i in range(72):  # random bytes, often around valid text
    raw = bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 24)))
    invalid.append(rng.choice([b"", b"text ", "中文".encode()]) + raw + rng.choice([b"", b" end", "🙂".encode()]))


def escape(b):
    out = []
    i = 0
    while i < len(b):
        for n in (4, 3, 2, 1):  # keep valid UTF-8 readable, escape everything else
            try:
                ch = b[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1 and ch.isprintable() and ch != "\\":
                out.append(ch)
                i += n
                break
        else:
            out.append("\\x%02x" % b[i])
            i += 1
    return "".join(out)


with open(f"{out_dir}/invalid_utf8.txt", "w", encoding="utf-8") as f:
    for b in invalid:
        try:
            b.decode("utf-8")
            continue  # a random draw that happens to be valid belongs to the JSON corpus
        except UnicodeDecodeError:
            f.write(escape(b) + "\n")
print(len(unique), "strings,", sum(1 for _ in open(f"{out_dir}/invalid_utf8.txt")), "invalid")
