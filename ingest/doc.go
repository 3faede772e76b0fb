// Package ingest builds a search index from a corpus: it reads documents
// from a BEIR folder or corpus.jsonl with kormed's metadata, the MFDS drug
// table or a Hub dataset (Open), attaches DUR flags (AttachDUR), names
// every input of a build (Fingerprint), embeds and stages the documents
// in resumable batches and builds the index (Build), reports what it
// built (Report), adds documents to an existing index (Add) and mirrors
// an index into a Weaviate class (PushWeaviate); it also calibrates an
// index's hybrid fusion (Calibrate) and re-calibrates an existing one
// (Recalibrate).
//
// Messages go to the writer the caller gives (kormed index passes
// standard error); the encoder is any Encoder, so the package needs
// neither the command line nor a particular model type.
package ingest
