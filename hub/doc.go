// Package hub resolves a model argument to a local folder, downloading from
// the Hugging Face Hub into the standard Hugging Face cache when needed.
//
// The cache layout is byte-compatible with Python's huggingface_hub, so
// kormed and transformers/sentence-transformers share one cache:
//
//	<cache>/models--org--name/
//	    refs/main                      the commit hash main pointed to (no newline)
//	    blobs/<etag>                   file contents, named by sha256 (LFS) or git blob sha1
//	    blobs/<etag>.incomplete        a partial download, resumed with an HTTP Range request
//	    snapshots/<commit>/<path>      relative symlinks to ../../blobs/<etag>
//	<cache>/.locks/models--org--name/<etag>.lock   per-blob lock, shared with Python
//
// Only the files kormed needs are fetched: config, tokenizer, safetensors
// weights (single file or sharded) and the sentence-transformers module
// configs.
//
// Datasets (hf://OWNER/NAME[:CONFIG][@REVISION], see DatasetSplit) use the
// same client and layout under <cache>/datasets--owner--name/.
package hub
