// Runs one ONNX model in onnxruntime-node (CPU) for edgequant's interop tests.
//   node ort_run.mjs NODE_DIR SPEC.json
// SPEC: {"model": path, "cwd": folder or null, "opt": "disabled" | "all",
//        "extra": optional session config entries ({"session": {"key": "value"}}),
//        "inputs": {name: {"type": "float32", "dims": [...], "file": raw little-endian bytes}}}
// Prints one JSON line: {"ok": true, "outputs": {name: {"type", "dims", "data": [...]}}}
// or {"ok": false, "error": "..."} when the model does not load or run.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [nodeDir, specPath] = process.argv.slice(2);
const require = createRequire(path.join(nodeDir, 'package.json'));
const ort = require('onnxruntime-node');
const spec = JSON.parse(readFileSync(specPath, 'utf8'));

const arrays = {
  float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array,
  int8: Int8Array, float16: Uint16Array,
};

function toJson(t) {
  let data;
  if (t.type === 'float16') data = Array.from(new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length));
  else if (t.type === 'int64' || t.type === 'uint64') data = Array.from(t.data, (v) => Number(v));
  else data = Array.from(t.data);
  return { type: t.type, dims: Array.from(t.dims), data };
}

try {
  if (spec.cwd) process.chdir(spec.cwd);
  const session = await ort.InferenceSession.create(spec.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: spec.opt || 'disabled',
    ...(spec.extra ? { extra: spec.extra } : {}),  // session config entries, e.g. {session: {...}}
  });
  const feeds = {};
  for (const [name, inp] of Object.entries(spec.inputs || {})) {
    const buf = readFileSync(inp.file);
    const Arr = arrays[inp.type];
    const copy = new Uint8Array(buf).buffer;  // aligned copy
    feeds[name] = new ort.Tensor(inp.type, new Arr(copy), inp.dims);
  }
  const results = await session.run(feeds);
  const outputs = {};
  for (const [name, t] of Object.entries(results)) outputs[name] = toJson(t);
  console.log(JSON.stringify({ ok: true, outputs }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }));
}
