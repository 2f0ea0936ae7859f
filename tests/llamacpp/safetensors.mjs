// Reads a safetensors file (golden.safetensors): tensors by name as Int32 arrays or Float32Arrays.
import fs from "node:fs";

export function readSafetensors(path) {
  const buf = fs.readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const base = 8 + n;
  const get = (name) => {
    const e = header[name];
    if (!e) throw new Error(`${path}: no tensor ${name}`);
    const [b, end] = e.data_offsets;
    const bytes = buf.subarray(base + b, base + end);
    const copy = new Uint8Array(bytes).buffer;
    if (e.dtype === "I32") return Array.from(new Int32Array(copy));
    if (e.dtype === "F32") return new Float32Array(copy);
    throw new Error(`${path}: ${name} has dtype ${e.dtype}`);
  };
  const prompts = [...new Set(Object.keys(header).filter((k) => k.endsWith(".input_ids")).map((k) => k.split(".")[0]))];
  return {header, get, prompts};
}
