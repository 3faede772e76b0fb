module github.com/kormed/kormed/bench/vectorcmp

go 1.24.0

require github.com/kormed/kormed v0.0.0

require (
	github.com/philippgille/chromem-go v0.7.0
	golang.org/x/sys v0.38.0 // indirect
)

replace github.com/kormed/kormed => ../..
