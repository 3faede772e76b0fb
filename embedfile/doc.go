// Package embedfile embeds a file of texts into a file of vectors, as
// kormed embed does: it reads text lines, JSONL records (a string field,
// with an "_id"/"id" carried along) or the tables of a Hub dataset, embeds
// them chunk by chunk with an Encoder (so memory stays flat however long
// the input is) and writes a float32 .npy array or JSONL records through
// a temporary file renamed over the output at the end.
package embedfile
