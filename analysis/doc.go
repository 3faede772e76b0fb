// Package analysis turns Korean (and mixed Korean/Latin) text into index
// terms for lexical retrieval.
//
// Three analyzers share one normaliser and one scanner:
//
//   - "bigram": Hangul/CJK runs become overlapping character bigrams (a run
//     of one character stays a unigram); Latin/digit runs stay whole tokens.
//   - "morph": Hangul/CJK runs go through the kagome morphological analyzer
//     with the mecab-ko-dic dictionary, keeping content morphemes (nouns,
//     verb/adjective stems, roots, foreign words, numbers, unknown words) and
//     dropping particles, endings, affixes, determiners and adverbs;
//     Latin/digit runs stay whole tokens.
//   - "union": the bigram analyzer's terms followed, run by run, by the
//     morph analyzer's terms prefixed with "m:" (so the two never collide):
//     every word is seen in both views, Latin/digit runs included, so the
//     score is close to the sum of a bigram and a morph BM25.
//
// Normalisation: NFKC, then lower case. Text is split on everything that is
// not a letter, a digit or a combining mark, except that '.' and ',' between
// two digits stay inside a number ("2.5mg").
package analysis
