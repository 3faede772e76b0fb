// Package searchtest is the conformance suite every search.Backend passes:
// the same requests through search.Service against the embedded index and
// against Weaviate, asserting what the API promises — modes, hybrid ends,
// filters inside the search, DUR exclusion and warnings, population rules,
// upserts, deletes — rather than backend-specific scores.
package searchtest
