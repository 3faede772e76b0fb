// Package benchdata builds the deterministic corpora and queries used by
// the BM25 benchmarks: the real MFDS drug products of the seed project
// (drug_data_20_per_product_type.csv, MIT, ryukato/fine-tuned-e5-drugmodel,
// Yoon Y. Yoo 2025) and a synthetic Korean corpus of any size generated
// from their vocabulary and Korean filler words.
package benchdata
