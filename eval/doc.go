// Package eval runs retrievers over a retrieval dataset, scores them with
// package metrics, keeps the results as JSON, renders a leaderboard across
// runs (Markdown, standalone HTML, PNG chart) and diagnoses embedding
// collapse.
package eval
