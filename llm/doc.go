// Package llm talks to language models through one interface, Generator:
// chat messages in, the reply streamed out as text pieces. Client is the
// Generator for any OpenAI-compatible chat server — OpenAI itself, vLLM,
// the llama.cpp server and Ollama's /v1 endpoint — over POST
// {base}/chat/completions, streaming (server-sent events) or not. kormed's
// own decoder is meant to satisfy the same interface through an adapter,
// so the RAG pipeline and the HTTP server do not care which one answers.
//
// Wire format of a streamed reply (what Client reads):
//
//	data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
//
//	data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"안녕"},"finish_reason":null}]}
//
//	data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
//
//	data: [DONE]
//
// Errors are {"error":{"message":…,"type":…,"code":…}} with an HTTP
// status, or the same object as a data line in the middle of a stream.
package llm
