package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kormed/kormed/chat"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/testmodel"
)

func tinyDecoder(t *testing.T, arch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), arch)
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: arch, Shape: "tiny", Std: 0.2}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runGen(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cmdGenerate(strings.NewReader(stdin), &out, &errb).Exec(context.Background(), args)
	return out.String(), errb.String(), err
}

func TestGenerateChatEXAONE(t *testing.T) {
	dir := tinyDecoder(t, "exaone")
	out, stderr, err := runGen(t, "", "--model", dir, "--chat", "--max-new-tokens", "12", "열이 나요")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "tokens/s") || !strings.Contains(stderr, "prompt ") {
		t.Errorf("no speed line on stderr: %q", stderr)
	}
	// The same text as the chat package gives for the rendered template.
	g, err := chat.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := g.ChatPrompt("", "열이 나요")
	if err != nil {
		t.Fatal(err)
	}
	if prompt != "[|system|][|endofturn|]\n[|user|]열이 나요\n[|assistant|]" {
		t.Fatalf("rendered prompt %q", prompt)
	}
	res, err := g.Generate(context.Background(), prompt, chat.Options{MaxNewTokens: 12, Raw: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(res.Text, "\n") + "\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if !utf8.ValidString(out) {
		t.Errorf("stdout is not UTF-8: %q", out)
	}
	// --system, and the prompt from stdin.
	out2, stderr, err := runGen(t, "열이 나요\n", "--model", dir, "--chat", "--system", "의료 도우미", "--max-new-tokens", "5", "--quiet", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if stderr != "" {
		t.Errorf("--quiet printed %q", stderr)
	}
	p2, _ := g.ChatPrompt("의료 도우미", "열이 나요")
	res2, _ := g.Generate(context.Background(), p2, chat.Options{MaxNewTokens: 5, Raw: true}, nil)
	if want := strings.TrimSuffix(res2.Text, "\n") + "\n"; out2 != want {
		t.Errorf("--system from stdin: stdout %q, want %q", out2, want)
	}
}

func TestGeneratePlainSampledStop(t *testing.T) {
	dir := tinyDecoder(t, "llama")
	args := []string{"--model", dir, "--max-new-tokens", "16", "--temperature", "0.9", "--top-k", "30", "--top-p", "0.95", "--repetition-penalty", "1.2", "--seed", "3", "--quiet", "안녕하세요"}
	a, _, err := runGen(t, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := runGen(t, "", args...)
	if a != b {
		t.Errorf("same seed, different text: %q vs %q", a, b)
	}
	// A stop string from the middle of that text cuts it there.
	text := strings.TrimSuffix(a, "\n")
	runes := []rune(text)
	if len(runes) < 4 {
		t.Skipf("text too short for a stop string: %q", text)
	}
	stop := string(runes[2:3])
	c, _, err := runGen(t, "", append([]string{"--stop", stop, "--stop", "zzzz-never"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if want := text[:strings.Index(text, stop)]; strings.TrimSuffix(c, "\n") != want {
		t.Errorf("--stop %q: %q, want %q", stop, c, want)
	}
}

func TestGenerateErrors(t *testing.T) {
	dir := tinyDecoder(t, "exaone")
	if _, _, err := runGen(t, "", "--model", dir); err == nil {
		t.Error("no prompt: no error")
	}
	if _, _, err := runGen(t, "", "--model", dir, "--system", "x", "hi"); err == nil {
		t.Error("--system without --chat: no error")
	}
	// A model without a chat template: --chat is an error naming --template.
	cfg := filepath.Join(dir, "tokenizer_config.json")
	b, _ := os.ReadFile(cfg)
	i := bytes.Index(b, []byte(`"chat_template"`))
	if i < 0 {
		t.Fatal("the tiny model's tokenizer_config.json has no chat_template")
	}
	if err := os.WriteFile(cfg, []byte(`{"bos_token": "[BOS]", "eos_token": "[|endofturn|]"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runGen(t, "", "--model", dir, "--chat", "hi"); err == nil || !strings.Contains(err.Error(), "--template") {
		t.Errorf("no template: err = %v", err)
	}
	tf := filepath.Join(t.TempDir(), "t.jinja")
	os.WriteFile(tf, []byte("{{ eos_token }}U:{{ messages[-1]['content'] }}\nA:"), 0o644)
	if _, stderr, err := runGen(t, "", "--model", dir, "--template", tf, "--max-new-tokens", "3", "hi"); err != nil {
		t.Errorf("--template: %v\n%s", err, stderr)
	}
}

// --weights bf16 keeps the weights in bfloat16 and generates the same
// greedy text as the model loaded the same way in the chat package;
// a bad storage name is an error naming the choices.
func TestGenerateWeightsBF16(t *testing.T) {
	dir := tinyDecoder(t, "llama")
	out, stderr, err := runGen(t, "", "--model", dir, "--weights", "bf16", "--max-new-tokens", "10", "--quiet", "열이 나요")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	g, err := chat.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageBF16})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Model.W.Layers[0].BF16() {
		t.Fatal("not bf16")
	}
	res, err := g.Generate(context.Background(), "열이 나요", chat.Options{MaxNewTokens: 10, Raw: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(res.Text, "\n") + "\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if _, _, err := runGen(t, "", "--model", dir, "--weights", "fp16", "x"); err == nil || !strings.Contains(err.Error(), "want auto, fp32, bf16, int8 or int4") {
		t.Errorf("--weights fp16: %v", err)
	}
	for _, w := range []string{"int8", "int4"} {
		if _, _, err := runGen(t, "", "--model", dir, "--weights", w, "--max-new-tokens", "4", "x"); err != nil {
			t.Errorf("--weights %s: %v", w, err)
		}
	}
}

// kormed testmodel --max-positions gives the tiny decoder room for a RAG
// prompt: kormed ask then answers with it (the 256 positions of the
// shape refuse, see TestAskTokenBudget).
func TestTestmodelMaxPositions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := cmdTestmodel.Exec(context.Background(), []string{"--arch", "exaone", "--shape", "tiny", "--max-positions", "4096", "--out", dir}); err != nil {
		t.Fatal(err)
	}
	cfg, err := decoder.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxPositions != 4096 || cfg.HiddenSize != 64 {
		t.Fatalf("max_position_embeddings %d, hidden %d", cfg.MaxPositions, cfg.HiddenSize)
	}
}
