package fusion

import "testing"

// DocText is the one document text of kormed: no trailing or leading
// space when either half is empty (search's old copy left "Title ").
func TestDocText(t *testing.T) {
	for _, c := range []struct{ title, text, want string }{
		{"타이레놀", "해열진통제", "타이레놀 해열진통제"},
		{"타이레놀", "", "타이레놀"},
		{"", "해열진통제", "해열진통제"},
		{"", "", ""},
	} {
		if got := DocText(c.title, c.text); got != c.want {
			t.Errorf("DocText(%q, %q) = %q, want %q", c.title, c.text, got, c.want)
		}
	}
}
