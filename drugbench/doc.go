// Package drugbench builds a Korean drug retrieval benchmark in the BEIR
// layout, plus held-out fine-tuning pairs and triplets, from the MFDS
// product table published by ryukato/fine-tuned-e5-drugmodel (MIT,
// Yoon Y. Yoo, 2025; source: Korean MFDS open drug APIs).
//
// The corpus has one document per product (item_sequence). Queries come
// in four kinds of distinct difficulty (product name, ingredient,
// product-type intent, English/Korean code-mixed), each split into a
// train and a test set whose query templates are disjoint.
//
// BuildSynonyms aligns the table's ingredient codes with their Korean and
// English names: SapBERT-style synonym clusters (kormed data synonyms).
package drugbench
