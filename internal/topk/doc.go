// Package topk is kormed's one binary heap for ranking: Heap, a priority
// queue whose root is its least item under a comparison, and Top, which
// keeps the k best items of a stream (a Heap whose root is the worst kept,
// the bar a new item must beat). The exact and graph vector searches, BM25
// and the evaluation retrievers rank with them, each passing its own order
// (score descending, then its tie-break).
package topk
