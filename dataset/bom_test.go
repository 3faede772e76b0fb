package dataset

import "testing"

func TestTrimBOM(t *testing.T) {
	for in, want := range map[string]string{"\ufeffid": "id", "id": "id", "\ufeff": "", "": "", "\xef\xbb": "\xef\xbb", "a\ufeff": "a\ufeff"} {
		if got := TrimBOM(in); got != want {
			t.Errorf("TrimBOM(%q) = %q, want %q", in, got, want)
		}
		if got := TrimBOM([]byte(in)); string(got) != want {
			t.Errorf("TrimBOM([]byte(%q)) = %q, want %q", in, got, want)
		}
	}
}
