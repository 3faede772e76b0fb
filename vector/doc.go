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
//     tag purego), and a single query's scan is cut into blocks of about
//     512 KiB that the cores take in turn. 100,000 rows of 384 values are
//     154 MB, so the scan is bound by memory bandwidth: 8.9 ms on one core
//     of the 2-core benchmark machine, 4.7 ms p50 on two (the plain Go
//     loop it replaces took 13.2 ms).
//   - Quantized scans an int8 (388 bytes a row at dim 384) or bfloat16
//     (768) copy of the rows, keeps Oversample·k candidates and re-scores
//     them exactly against the Flat: on the tests' and the benchmark's
//     data, the same top k as Flat.Search with the same scores, bit for
//     bit, while reading a quarter or half of the bytes (int8: 4.1 ms p50
//     at 100,000 × 384).
//   - HNSW is a hierarchical navigable small world graph over the Flat's
//     rows: approximate, 0.18 ms p50 at recall@10 0.974 (ef 64) and
//     0.26 ms at 0.998 (ef 128) on 100,000 clustered 384-d rows, 174
//     bytes a row beside the Flat, built at 1,700 rows/s on two cores
//     (EfConstruction 200). Its filtered search walks the graph through
//     every node but collects only allowed rows, and scans the allowed
//     rows exactly when they are few.
//
// Scores are computed by one kernel everywhere (Dot), so the exact scan,
// the quantised re-scoring and the graph report the same float32 for the
// same row. The exception is Flat.SearchBatch, exact search for many
// queries at once (kormed eval's dense retriever): one blas.Sgemm per 256
// queries, far faster than a scan per query, whose scores may differ from
// Dot's in the last bits. Results are ordered by score descending, then
// row ascending; the heaps that keep the best are internal/topk's.
//
// Files (Flat.WriteTo, HNSW.WriteTo) are little-endian with a magic, a
// version, the shape, and a trailing CRC-32C; readers report truncation
// and corruption as errors and read exactly their own bytes, so a Flat and
// its graph can follow each other in one stream.
package vector
