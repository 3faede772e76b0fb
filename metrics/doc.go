// Package metrics computes ranked-retrieval metrics with the conventions of
// trec_eval and pytrec_eval, which BEIR and MTEB report: NDCG@k (ndcg_cut),
// MAP@k (map_cut), Recall@k (recall), Precision@k (P), MRR@k (recip_rank cut
// at k), Accuracy@k (success) and F1@k.
//
// Conventions, all as trec_eval 9 unless said otherwise:
//
//   - A document is relevant when its judgement is ≥ 1; 0 or a negative
//     judgement, or no judgement at all, is not relevant.
//   - A run is ordered by score, highest first; equal scores are ordered by
//     document id in descending byte order, as trec_eval's comp_sim_docno
//     does (strcmp(b.docno, a.docno)). The order a retriever returned its
//     hits in is ignored, as trec_eval ignores the rank column.
//   - NDCG uses gain = judgement and discount log2(rank+1) (rank from 1);
//     the ideal DCG is that of the query's positive judgements sorted
//     descending and cut at k.
//   - P@k divides by k even when fewer than k documents were returned.
//   - Recall@k and MAP@k divide by the number of relevant documents, not by
//     min(k, relevant).
//   - Evaluate skips queries with no relevant document, as BEIR's loader
//     does, and scores 0 for a judged query the run has nothing for
//     (pytrec_eval would leave it out of the average; we count it, which is
//     never kinder to a retriever).
//   - With IgnoreIdenticalIDs a hit whose id equals the query id is removed
//     before ranking, as BEIR's ignore_identical_ids.
//
// The per-query functions take the ranked ids (already ordered, see Sort)
// and the query's judgements; they are pure and allocate little.
package metrics
