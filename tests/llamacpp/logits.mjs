// Runs every prompt of a golden file through llama.cpp (node-llama-cpp's CPU backend) from a GGUF and
// writes its logits for every position as raw little-endian f32 [T, V]: OUTDIR/<prompt>.f32.
// Usage: node logits.mjs MODEL.gguf GOLDEN.safetensors OUTDIR
// Then: gemma4-eval compare --golden GOLDEN --logits OUTDIR/<prompt>.f32 --prompt <prompt>
import fs from "node:fs";
import path from "node:path";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {readSafetensors} from "./safetensors.mjs";

const [modelPath, goldenPath, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node logits.mjs MODEL.gguf GOLDEN.safetensors OUTDIR");
  process.exit(2);
}
fs.mkdirSync(outDir, {recursive: true});
const golden = readSafetensors(goldenPath);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
for (const prompt of golden.prompts) {
  const ids = golden.get(`${prompt}.input_ids`);
  const V = golden.header[`${prompt}.logits`].shape[1];  // the vocabulary
  const context = await model.createContext({contextSize: 256, batchSize: 256, flashAttention: false, threads: 2,
      experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", swaFullCache: true});
  const seq = context.getSequence();
  const results = await seq.controlledEvaluate(ids.map((t) => [t, {generateNext: {logits: true}}]));
  const out = new Float32Array(ids.length * V);
  results.forEach((r, t) => {
    if (!r?.next?.logits) throw new Error(`${prompt}: no logits at position ${t}`);
    for (const [token, value] of r.next.logits) out[t * V + Number(token)] = value;
  });
  fs.writeFileSync(path.join(outDir, `${prompt}.f32`), Buffer.from(out.buffer));
  await context.dispose();
  console.log(`${prompt}: ${ids.length} x ${V} logits -> ${path.join(outDir, prompt + ".f32")}`);
}
await model.dispose();
