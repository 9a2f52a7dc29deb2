// Runs one ONNX model with onnxruntime-node (CPU EP) for the ecosystem-scheme
// interop tests: node run_onnx.js MODEL.onnx OUT.bin [INPUT_NAME IN.bin DTYPE DIM...]
// Writes the raw bytes of the first output. graphOptimizationLevel from
// EQ_ORT_OPT ("disabled" or "all", default "all").
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, out, inName, inPath, dtype, ...dims] = process.argv.slice(2);
  const opt = process.env.EQ_ORT_OPT || 'all';
  const session = await ort.InferenceSession.create(model, {graphOptimizationLevel: opt});
  const feeds = {};
  if (inName) {
    const buf = fs.readFileSync(inPath);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const data = dtype === 'float16' ? new Uint16Array(ab) : new Float32Array(ab);
    feeds[inName] = new ort.Tensor(dtype, data, dims.map(Number));
  }
  const results = await session.run(feeds);
  const y = results[session.outputNames[0]];
  fs.writeFileSync(out, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
