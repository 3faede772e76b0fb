// Package dataset reads and writes retrieval datasets: the BEIR / MTEB
// layout (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), the seed
// projects' CSV pairs (query, context, label) and JSONL triplets
// (query, document, hard_negative). For fine-tuning it reads the same
// files row by row as training examples (ReadExamples), plus synonym
// clusters ("CODE || term", SapBERT's format), and code-mixes Korean
// terms with their English names (CodeMixer).
package dataset
