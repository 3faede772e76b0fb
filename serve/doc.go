// Package serve is kormed's HTTP service: the JSON search API over a
// search.Service, the OpenAPI document that describes it, Prometheus
// metrics and the web page, all from one handler.
//
// Routes (see openapi.json for the full description):
//
//	POST   /v1/search          search.Request → search.Response
//	GET    /v1/search          the same from query parameters (?q=…&k=…)
//	POST   /v1/embed           {texts, as} → {vectors, dim, model}
//	POST   /v1/documents       {documents: [search.Doc]} → {upserted}, or 202 and a job (API key)
//	GET    /v1/jobs/{id}       a document job's progress and result (API key)
//	GET    /v1/documents/{id}  one document
//	DELETE /v1/documents/{id}  {deleted: 1} (API key)
//	GET    /v1/facets          field → most frequent values with counts
//	POST   /v1/chat/completions OpenAI chat completions (streamed or not) by Options.Generator (client key)
//	GET    /v1/models          OpenAI model list
//	POST   /v1/ask             {question, k, stream} → an answer with numbered sources (RAG; client key)
//	GET    /healthz            {status, docs, backend, model, dense, …}
//	GET    /metrics            Prometheus text format
//	GET    /openapi.json       the OpenAPI 3.1 document
//	GET    /                   the web page
package serve
