// Times ONNX Runtime (onnxruntime-node) encoding a fixed batch, for the
// encode-throughput comparison in BENCHMARKS.md.
//
//   node bench/ort_encode.js MODEL.onnx BATCH SEQ ITERS THREADS VOCAB
//
// Prints one JSON line: {"engine":"onnxruntime", "seq_per_s": …}.
const ort = require('onnxruntime-node');

async function main() {
  const [modelPath, b, t, it, th, v] = process.argv.slice(2);
  const B = +b, T = +t, iters = +it, threads = +th, vocab = +v;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  // Deterministic ids, full attention mask, same as the torch side.
  const ids = new BigInt64Array(B * T), mask = new BigInt64Array(B * T);
  let s = 12345;
  for (let i = 0; i < B * T; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    ids[i] = BigInt(5 + (s % (vocab - 5)));
    mask[i] = 1n;
  }
  const feeds = {
    input_ids: new ort.Tensor('int64', ids, [B, T]),
    attention_mask: new ort.Tensor('int64', mask, [B, T]),
  };
  const run = () => session.run(feeds);
  await run(); await run(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await run();
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ engine: 'onnxruntime ' + require('onnxruntime-node/package.json').version,
    batch: B, seq: T, iters, threads, seconds: sec, seq_per_s: B * iters / sec }));
}
main().catch(e => { console.error(e); process.exit(1); });
