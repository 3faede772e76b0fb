// Package hubdata reads datasets from the Hugging Face Hub (hf:// data
// arguments) into kormed's dataset types: it resolves and downloads the
// files with package hub and reads them with dataset's table readers.
package hubdata
