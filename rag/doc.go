// Package rag answers questions from the search index: it retrieves
// sources through a search.Service (hybrid by default), refuses in Korean
// when none of them is relevant enough, builds a Korean prompt with the
// sources numbered [1]…[n] within a context budget, streams the answer of
// an llm.Generator and returns it with the sources it cites and, for
// questions about dosing, pregnancy or age, the DUR warnings of the cited
// products.
package rag
