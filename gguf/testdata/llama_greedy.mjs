// llama_greedy.mjs loads GGUF models with llama.cpp (through the npm
// package node-llama-cpp, CPU only), evaluates the given token ids and
// greedily generates N more (temperature 0, no penalties, end-of-generation
// tokens not stopping it), printing for each model a line
// {"tokens": [...], "confidence": [...]} of JSON. The KV cache is F32 so
// that an F32 model runs in float32 only.
//
//	node llama_greedy.mjs N ID,ID,… MODEL.gguf…
//
// node resolves node-llama-cpp from the folder given as KORMED_NODE_LLAMA
// (where `npm install node-llama-cpp` ran), else from the usual places.
import {createRequire} from "node:module";
import path from "node:path";

const [nArg, idsArg, ...modelPaths] = process.argv.slice(2);
if (!nArg || !idsArg || modelPaths.length === 0) {
    console.error("usage: node llama_greedy.mjs N ID,ID,... MODEL.gguf...");
    process.exit(2);
}
const base = process.env.KORMED_NODE_LLAMA
    ? path.join(process.env.KORMED_NODE_LLAMA, "package.json")
    : import.meta.url;
const {getLlama, LlamaLogLevel} = await import(createRequire(base).resolve("node-llama-cpp"));

const n = Number(nArg);
const ids = idsArg.split(",").map(Number);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
for (const modelPath of modelPaths) {
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    const context = await model.createContext({
        contextSize: ids.length + n + 8,
        sequences: 1,
        flashAttention: false,
        experimentalKvCacheKeyType: "F32",
        experimentalKvCacheValueType: "F32",
    });
    const seq = context.getSequence();
    const tokens = [], confidence = [];
    for await (const out of seq.evaluateWithMetadata(ids, {confidence: true}, {temperature: 0})) {
        tokens.push(out.token);
        confidence.push(out.confidence);
        if (tokens.length >= n) break;
    }
    console.log(JSON.stringify({tokens, confidence}));
    await context.dispose();
    await model.dispose();
}
await llama.dispose();
