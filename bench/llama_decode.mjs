// llama_decode.mjs times llama.cpp (through the npm package node-llama-cpp,
// CPU only) on the run that `kormed bench decode` times, for a side-by-side
// comparison on the same model exported with `kormed export gguf`:
// (a) one evaluation of the whole prompt into a fresh KV cache, after one
// untimed warm-up pass, up to the first greedy token; (b) greedy generation
// of N tokens (the first from the prompt pass, then N-1 timed steps of one
// token each; end-of-generation tokens do not stop it). The prompt is
// bench decode's: PROMPT ids from the same linear congruential generator
// over the model's vocabulary. llama.cpp runs with its own defaults (KV
// cache F16, flash attention "auto", batch 512) unless told otherwise. It
// prints one line of JSON like bench decode's.
//
//	node bench/llama_decode.mjs MODEL.gguf [--prompt 512] [--new 32] [--threads 2]
//	     [--warmup 1] [--type f16] [--kv F16|F32] [--flash auto|on|off]
//
// --type only names the weights' GGUF type in the engine string. node
// resolves node-llama-cpp from the folder given as KORMED_NODE_LLAMA (where
// scripts/node-llama.sh installed it), else ~/.cache/kormed/node-llama-cpp.
import {createRequire} from "node:module";
import os from "node:os";
import path from "node:path";
import fs from "node:fs";

const args = process.argv.slice(2);
const opt = {prompt: 512, new: 32, threads: 2, warmup: 1, type: "", kv: "F16", flash: "auto"};
let modelPath = "";
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith("--")) {
        const k = a.slice(2);
        if (!(k in opt) || i + 1 >= args.length) usage(`unknown or incomplete flag ${a}`);
        const v = args[++i];
        opt[k] = typeof opt[k] === "number" ? Number(v) : v;
    } else if (!modelPath) {
        modelPath = a;
    } else {
        usage(`unexpected argument ${a}`);
    }
}
if (!modelPath) usage("no model");
if (!(opt.prompt >= 1 && opt.new >= 1 && opt.threads >= 1 && opt.warmup >= 0)) usage("--prompt, --new and --threads must be at least 1");

function usage(msg) {
    console.error(`llama_decode: ${msg}\nusage: node bench/llama_decode.mjs MODEL.gguf [--prompt 512] [--new 32] [--threads 2] [--warmup 1] [--type f16] [--kv F16|F32] [--flash auto|on|off]`);
    process.exit(2);
}

// benchIDs is cmd/kormed/internal/bench's benchIDs with B = 1: T ids in
// [5, vocab) from s ← (s·1103515245 + 12345) mod 2³¹, s₀ = 12345.
function benchIDs(T, vocab) {
    const ids = new Array(T);
    let s = 12345n;
    for (let i = 0; i < T; i++) {
        s = (s * 1103515245n + 12345n) % 2147483648n;
        ids[i] = Number(5n + s % BigInt(vocab - 5));
    }
    return ids;
}

const dir = process.env.KORMED_NODE_LLAMA || path.join(os.homedir(), ".cache/kormed/node-llama-cpp");
const base = fs.existsSync(path.join(dir, "package.json")) ? path.join(dir, "package.json") : import.meta.url;
const nlPath = createRequire(base).resolve("node-llama-cpp");
const {getLlama, LlamaLogLevel} = await import(nlPath);
let version = "";
try {
    version = JSON.parse(fs.readFileSync(path.join(path.dirname(nlPath), "..", "package.json"))).version;
} catch {
    version = "?";
}

const t0 = performance.now();
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: opt.threads});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const meta = model.fileInfo.metadata;
const arch = meta[meta.general.architecture] ?? {};
const vocab = Number(arch.vocab_size ?? meta.tokenizer?.ggml?.tokens?.length);
if (!(vocab > 5)) throw new Error(`llama_decode: ${modelPath} names no vocabulary size`);
const ids = benchIDs(opt.prompt, vocab);
const context = await model.createContext({
    contextSize: opt.prompt + opt.new + 8,
    batchSize: Math.min(512, opt.prompt),
    sequences: 1,
    threads: {ideal: opt.threads, min: opt.threads},
    flashAttention: opt.flash === "auto" ? "auto" : opt.flash === "on",
    experimentalKvCacheKeyType: opt.kv,
    experimentalKvCacheValueType: opt.kv,
});
const seq = context.getSequence();
const loadSec = (performance.now() - t0) / 1000;

// run evaluates the prompt into a fresh cache and generates n tokens
// greedily; it returns the seconds to the first token and after it.
async function run(n) {
    await seq.clearHistory();
    const gen = [];
    const t0 = performance.now();
    let t1 = t0;
    for await (const tok of seq.evaluate(ids, {temperature: 0})) {
        if (gen.length === 0) t1 = performance.now();
        gen.push(tok);
        if (gen.length >= n) break;
    }
    const t2 = performance.now();
    return {gen, promptSec: (t1 - t0) / 1000, genSec: (t2 - t1) / 1000};
}

for (let i = 0; i < opt.warmup; i++) await run(1);
const r = await run(opt.new);
const steps = opt.new - 1;
const type = opt.type || path.basename(modelPath, ".gguf");
const res = {
    bench: "decode",
    engine: `llama.cpp node-llama-cpp ${version} ${type}`,
    threads: opt.threads,
    weights: type,
    kv_cache: opt.kv,
    flash_attention: opt.flash,
    layers: arch.block_count,
    vocab,
    prompt: opt.prompt, new: opt.new, load_seconds: loadSec,
    prompt_seconds: r.promptSec, prompt_tokens_per_s: opt.prompt / r.promptSec,
    gen_steps: steps, gen_seconds: r.genSec, gen_tokens_per_s: steps / r.genSec,
    ms_per_token: 1000 * r.genSec / steps,
    weight_bytes: fs.statSync(modelPath).size,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    generated: r.gen,
};
console.log(JSON.stringify(res));
await context.dispose();
await model.dispose();
await llama.dispose();
