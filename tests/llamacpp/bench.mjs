// Decode and prefill speed of llama.cpp (node-llama-cpp's prebuilt CPU backend) on a GGUF file, for a
// side-by-side with `gemma4-bench --model FILE` on the same bytes. Same shape of run: a prompt of P fixed
// ids, then N greedy tokens; the best of R repetitions. Default KV cache type (F16), as llama.cpp users run.
//   node bench.mjs MODEL.gguf [-p P] [-n N] [-r R] [-t THREADS]
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const args = process.argv.slice(2);
const opt = {p: 16, n: 16, r: 2, t: 2};
const modelPath = args.shift();
for (let i = 0; i < args.length; i += 2) opt[args[i].replace(/^-+/, "")] = Number(args[i + 1]);
if (!modelPath) {
  console.error("usage: node bench.mjs MODEL.gguf [-p P] [-n N] [-r R] [-t THREADS]");
  process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const prompt = Array.from({length: opt.p}, (_, i) => 2 + ((i * 7919) % 1000));
let best = {prefill: 0, decode: 0};
for (let rep = 0; rep < opt.r; ++rep) {
  const context = await model.createContext({contextSize: 512, batchSize: 512, threads: opt.t});
  const seq = context.getSequence();
  const t0 = performance.now();
  let t1 = 0, n = 0;
  for await (const token of seq.evaluate(prompt, {temperature: 0})) {
    if (n === 0) t1 = performance.now();  // the first token comes with the prompt's prefill
    if (++n > opt.n) break;
  }
  const t2 = performance.now();
  best.prefill = Math.max(best.prefill, opt.p / ((t1 - t0) / 1000));
  best.decode = Math.max(best.decode, opt.n / ((t2 - t1) / 1000));
  await context.dispose();
}
console.log(`llama.cpp ${modelPath} | ${opt.t} threads | prefill ${best.prefill.toFixed(2)} tok/s (${opt.p} tokens) | ` +
            `decode ${best.decode.toFixed(2)} tok/s (${opt.n} tokens), best of ${opt.r}`);
await model.dispose();
