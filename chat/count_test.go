package chat

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/llm"
)

// TestCounterBPE counts with the EXAONE-style byte-level BPE of
// tokenizer/testdata/bpe (1,000 merges trained on the drug texts, no BOS
// added): every corpus line counts as many tokens as its reference ids.
func TestCounterBPE(t *testing.T) {
	dir := t.TempDir()
	tok, err := os.ReadFile("../tokenizer/testdata/bpe/exaone/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"exaone","max_position_embeddings":32768}`), 0o644)
	c, err := LoadCounter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Context != 32768 || c.Template != nil {
		t.Errorf("context %d, template %v", c.Context, c.Template)
	}
	lines, _ := os.Open("../tokenizer/testdata/bpe/corpus.jsonl")
	defer lines.Close()
	want, _ := os.Open("../tokenizer/testdata/bpe/exaone/expected.jsonl")
	defer want.Close()
	ls, ws := bufio.NewScanner(lines), bufio.NewScanner(want)
	ls.Buffer(nil, 1<<20)
	ws.Buffer(nil, 1<<20)
	n := 0
	for ls.Scan() && ws.Scan() {
		var text string
		var exp struct{ IDs []int }
		if err := json.Unmarshal(ls.Bytes(), &text); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(ws.Bytes(), &exp)
		if got := c.Tokens(text); got != len(exp.IDs) {
			t.Errorf("line %d %q: %d tokens, want %d", n+1, text, got, len(exp.IDs))
		}
		n++
	}
	if n != 379 {
		t.Errorf("%d lines", n)
	}
	// Two known lines: 7 and 3 tokens; without a template a request is
	// its contents plus 4 a message.
	if got := c.Tokens("신경계 감각기관용 의약품"); got != 7 {
		t.Errorf("신경계 감각기관용 의약품: %d tokens", got)
	}
	if got := c.Prompt([]llm.Message{{Role: "system", Content: "신경계 감각기관용 의약품"}, {Role: "user", Content: "발한제"}}); got != 7+4+3+4 {
		t.Errorf("prompt %d tokens", got)
	}
	// No config.json: the context is unknown; n_positions is read too.
	os.Remove(filepath.Join(dir, "config.json"))
	if c, err := LoadCounter(dir); err != nil || c.Context != 0 {
		t.Errorf("no config: %v %v", c, err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"n_positions":1024}`), 0o644)
	if c, err := LoadCounter(dir); err != nil || c.Context != 1024 {
		t.Errorf("n_positions: %v %v", c, err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"max_position_embeddings":"x"}`), 0o644)
	if _, err := LoadCounter(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("bad config: %v", err)
	}
	if _, err := LoadCounter(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("no tokenizer: %v", err)
	}
}

// TestGeneratorCounter counts a request as the decoder sees it: the chat
// template rendered with the generation prompt, the byte-level tokenizer
// of a testmodel decoder (one token a byte, no merges).
func TestGeneratorCounter(t *testing.T) {
	g, _ := tinyGenerator(t, "exaone")
	c := g.Counter()
	if c.Context != 256 || c.Template == nil {
		t.Fatalf("context %d, template %v", c.Context, c.Template)
	}
	if got := c.Tokens("타이레놀"); got != 12 {
		t.Errorf("타이레놀: %d tokens, want 12 (4 syllables × 3 bytes)", got)
	}
	msgs := []llm.Message{{Role: "system", Content: "약사"}, {Role: "user", Content: "열이 나요"}}
	prompt, err := g.ChatPrompt("약사", "열이 나요")
	if err != nil {
		t.Fatal(err)
	}
	// "[|system|]약사[|endofturn|]\n[|user|]열이 나요\n[|assistant|]": the
	// markers are plain bytes to this tokenizer, 10+6+13+1+8+13+1+13.
	got := c.Prompt(msgs)
	if got != len(g.Encode(prompt, true)) || got != 65 {
		t.Errorf("prompt %d tokens, encoded %d: %q", got, len(g.Encode(prompt, true)), prompt)
	}
}
