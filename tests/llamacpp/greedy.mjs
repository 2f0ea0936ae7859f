// Loads GGUF files with llama.cpp (node-llama-cpp's prebuilt CPU backend) and checks that greedy decoding
// reproduces each golden prompt's greedy continuation (golden.safetensors: <prompt>.input_ids,
// <prompt>.greedy_tokens). Usage: node greedy.mjs MODEL.gguf GOLDEN.safetensors [MODEL.gguf GOLDEN ...]
// Prints one line per prompt; exits 1 on any mismatch.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {readSafetensors} from "./safetensors.mjs";

const args = process.argv.slice(2);
if (args.length < 2 || args.length % 2) {
  console.error("usage: node greedy.mjs MODEL.gguf GOLDEN.safetensors [...]");
  process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
let failures = 0;
for (let i = 0; i < args.length; i += 2) {
  const [modelPath, goldenPath] = [args[i], args[i + 1]];
  const golden = readSafetensors(goldenPath);
  const model = await llama.loadModel({modelPath, gpuLayers: 0});
  for (const prompt of golden.prompts) {
    const ids = golden.get(`${prompt}.input_ids`);
    const want = golden.get(`${prompt}.greedy_tokens`);
    const context = await model.createContext({contextSize: 256, batchSize: 256, flashAttention: false, threads: 2,
      experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", swaFullCache: true});
    const seq = context.getSequence();
    const got = [];
    for await (const token of seq.evaluate(ids, {temperature: 0})) {
      got.push(Number(token));
      if (got.length >= want.length) break;
    }
    await context.dispose();
    const ok = got.length === want.length && got.every((t, j) => t === want[j]);
    if (!ok) failures++;
    console.log(`${ok ? "ok  " : "FAIL"} ${modelPath} ${prompt}: llama.cpp ${got.join(",")}${ok ? "" : ` vs golden ${want.join(",")}`}`);
  }
  await model.dispose();
}
process.exit(failures ? 1 : 0);
