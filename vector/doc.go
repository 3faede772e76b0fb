// Package vector is kormed's dense nearest-neighbour search: top-k rows of
// a matrix of L2-normalised float32 embeddings by dot product (cosine),
// for the search service's dense retriever.
//
// Rows are numbered 0..n-1 in insertion order and never renumbered: a
// deleted document stays in the matrix and is excluded by the caller
// through the allow Bitset every search takes (nil: all rows).
//
// Three indexes share one matrix, a Flat:
//
//   - Flat.Search scans every row exactly. The kernel scores four rows per
//     call with AVX2/FMA assembly where the CPU has it (eight float32
//     lanes, two accumulators a row; Go code elsewhere and with the build
//     tag purego), and a single query's scan is split into row blocks over
//     the cores. 100,000 rows of 384 values are 154 MB, so the scan is
//     bound by memory bandwidth: about 6 ms on one core here.
//   - Quantized scans an int8 (388 bytes a row at dim 384) or bfloat16
//     (768) copy of the rows, keeps Oversample·k candidates and re-scores
//     them exactly against the Flat: the same top k as Flat.Search, with
//     the same scores, bit for bit, while reading a quarter or half of the
//     bytes.
//   - HNSW is a hierarchical navigable small world graph over the Flat's
//     rows: approximate, well under a millisecond at 100,000 rows. Its
//     filtered search walks the graph through every node but collects only
//     allowed rows, and scans the allowed rows exactly when they are few.
//
// Scores are computed by one kernel everywhere (Dot), so the exact scan,
// the quantised re-scoring and the graph report the same float32 for the
// same row. Results are ordered by score descending, then row ascending.
//
// Files (Flat.WriteTo, HNSW.WriteTo) are little-endian with a magic, a
// version, the shape, and a trailing CRC-32C; readers report truncation
// and corruption as errors and read exactly their own bytes, so a Flat and
// its graph can follow each other in one stream.
package vector
