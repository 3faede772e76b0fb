package dataset

// bom is the UTF-8 byte-order mark (U+FEFF) that some tools, Excel among
// them, write at the start of a text file.
const bom = "\ufeff"

// TrimBOM returns s without a leading UTF-8 byte-order mark: what a file's
// first line, or the first name of a CSV header, is read as.
func TrimBOM[S ~string | ~[]byte](s S) S {
	if len(s) >= len(bom) && string(s[:len(bom)]) == bom {
		return s[len(bom):]
	}
	return s
}
