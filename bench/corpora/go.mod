module github.com/kormed/kormed/bench/corpora

go 1.24.4

require (
	github.com/kormed/kormed v0.0.0
	github.com/parquet-go/parquet-go v0.25.1
)

require (
	github.com/andybalholm/brotli v1.3.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	golang.org/x/sys v0.41.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/kormed/kormed => ../..
