// Package npy writes NumPy .npy files (format 1.0) holding a little-endian
// float32 C-order matrix, streamed: Header has a fixed size, so a writer
// puts a placeholder first, appends rows as they come (AppendRow) and
// rewrites the header in place with the final row count.
package npy
