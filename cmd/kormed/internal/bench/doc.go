// Package bench holds kormed's benchmark commands (kormed bench encode,
// mixed, train, train-lm, decode, index, search, restart, load), which
// bench/run.sh runs beside the Python references: each times one part of
// kormed and prints JSON records or a table. main lists them in its
// command table.
package bench
