package eval

import "testing"

func TestIsQrelsFile(t *testing.T) {
	for v, want := range map[string]bool{
		"dev": false, "train": false, "test-2": false,
		"dev.tsv": true, "DEV.TSV": true, "data/beir/qrels/dev.tsv": true, "./qrels": true, `c:\q\dev`: true,
	} {
		if got := IsQrelsFile(v); got != want {
			t.Errorf("IsQrelsFile(%q) = %v, want %v", v, got, want)
		}
	}
}
