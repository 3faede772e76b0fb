package chat

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/testmodel"
)

func tinyGenerator(t *testing.T, arch string) (*Generator, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), arch)
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: arch, Shape: "tiny", Std: 0.2}); err != nil {
		t.Fatal(err)
	}
	g, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return g, dir
}

func TestGenerateGreedyMatchesDecoder(t *testing.T) {
	for _, arch := range []string{"exaone", "llama"} {
		t.Run(arch, func(t *testing.T) {
			g, _ := tinyGenerator(t, arch)
			if g.Template == nil {
				t.Fatal("the tiny model has no chat template")
			}
			prompt, err := g.ChatPrompt("", "열이 나요")
			if err != nil {
				t.Fatal(err)
			}
			ids := g.Encode(prompt, true)
			const n = 24
			want, err := g.Model.Generate(context.Background(), ids, n, func(int) bool { return false })
			if err != nil {
				t.Fatal(err)
			}
			var pieces []string
			res, err := g.GenerateIDs(context.Background(), ids, Options{MaxNewTokens: n, EOS: []int{}}, func(p string) error {
				pieces = append(pieces, p)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(res.IDs, want) {
				t.Fatalf("ids %v, decoder.Generate %v", res.IDs, want)
			}
			wantText, _ := g.Tok.Decode(int32s(want), true)
			if res.Text != wantText || strings.Join(pieces, "") != wantText {
				t.Errorf("text %q, pieces %q, want %q", res.Text, pieces, wantText)
			}
			if res.StopReason != "length" || res.PromptTokens != len(ids) {
				t.Errorf("stop reason %q, prompt tokens %d", res.StopReason, res.PromptTokens)
			}
			// The same through Generate from the prompt text.
			res2, err := g.Generate(context.Background(), prompt, Options{MaxNewTokens: n, EOS: []int{}, Raw: true}, nil)
			if err != nil || !equalInts(res2.IDs, want) {
				t.Errorf("Generate: %v, %v", res2.IDs, err)
			}
		})
	}
}

func TestGenerateEOSAndStop(t *testing.T) {
	g, _ := tinyGenerator(t, "exaone")
	ids := g.Encode("[|user|]안녕", true)
	free, err := g.GenerateIDs(context.Background(), ids, Options{MaxNewTokens: 40, EOS: []int{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// EOS: make the 5th generated token an end id.
	eos := free.IDs[4]
	res, err := g.GenerateIDs(context.Background(), ids, Options{MaxNewTokens: 40, EOS: []int{eos}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := 0
	for first < len(free.IDs) && free.IDs[first] != eos {
		first++
	}
	if res.StopReason != "eos" || len(res.IDs) != first+1 {
		t.Fatalf("eos %d: stop %q after %d tokens, want eos after %d", eos, res.StopReason, len(res.IDs), first+1)
	}
	// Stop strings: a piece of the free text from its middle.
	text := free.Text
	if utf8.RuneCountInString(text) < 6 {
		t.Fatalf("free text too short: %q", text)
	}
	runes := []rune(text)
	stop := string(runes[3:5])
	cut := strings.Index(text, stop)
	var pieces []string
	res, err = g.GenerateIDs(context.Background(), ids, Options{MaxNewTokens: 40, EOS: []int{}, Stop: []string{"never-there", stop}}, func(p string) error {
		pieces = append(pieces, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != "stop" || res.Text != text[:cut] || strings.Join(pieces, "") != text[:cut] {
		t.Fatalf("stop %q: reason %q, text %q, pieces %q; want %q", stop, res.StopReason, res.Text, pieces, text[:cut])
	}
	// An emit error ends the generation and comes back.
	boom := errors.New("boom")
	if _, err := g.GenerateIDs(context.Background(), ids, Options{MaxNewTokens: 40, EOS: []int{}}, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("emit error: got %v", err)
	}
	// Sampling with a seed is reproducible.
	s := decoder.Sampling{Temperature: 0.8, TopK: 20, TopP: 0.9, Seed: 7}
	a, _ := g.GenerateIDs(context.Background(), ids, Options{MaxNewTokens: 10, Sampling: s, EOS: []int{}}, nil)
	b, _ := g.GenerateIDs(context.Background(), ids, Options{MaxNewTokens: 10, Sampling: s, EOS: []int{}}, nil)
	if !equalInts(a.IDs, b.IDs) || len(a.IDs) != 10 {
		t.Errorf("seeded sampling: %v vs %v", a.IDs, b.IDs)
	}
}

func TestStopperHoldsBackPrefixes(t *testing.T) {
	s := &stopper{stops: []string{"[|endofturn|]", "끝"}}
	var out []string
	for _, p := range []string{"안녕", "하세요[|", "endof", "turn|]뒤"} {
		safe, hit := s.add(p)
		out = append(out, safe)
		if hit {
			break
		}
	}
	if got := strings.Join(out, "|"); got != "안녕|하세요||" || s.text() != "안녕하세요" {
		t.Errorf("pieces %q, text %q", got, s.text())
	}
	s = &stopper{stops: []string{"[|endofturn|]"}}
	a, _ := s.add("값 [|end")
	if a != "값 " {
		t.Errorf("held back: got %q", a)
	}
	if r := s.flush(); r != "[|end" || s.text() != "값 [|end" {
		t.Errorf("flush %q, text %q", r, s.text())
	}
}

func TestStreamDecoderKorean(t *testing.T) {
	g, _ := tinyGenerator(t, "exaone")
	const text = "열이 나요. 두통과 기침이 있고, 38.5°C — 해열제를 먹어도 될까요? 🤒"
	ids := g.Encode(text, true)
	if len(ids) <= utf8.RuneCountInString(text) {
		t.Fatalf("want more ids than characters (bytes as tokens), got %d", len(ids))
	}
	d := &StreamDecoder{Tok: g.Tok, SkipSpecial: true}
	var pieces []string
	for _, id := range ids {
		p, err := d.Add(id)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(p) || strings.ContainsRune(p, utf8.RuneError) {
			t.Fatalf("piece %q is not complete UTF-8", p)
		}
		if p != "" {
			pieces = append(pieces, p)
		}
	}
	if rest, _ := d.Flush(); rest != "" {
		t.Errorf("flush: %q", rest)
	}
	if got := strings.Join(pieces, ""); got != text {
		t.Errorf("pieces %q join to %q", pieces, got)
	}
	if len(pieces) != utf8.RuneCountInString(text) {
		t.Errorf("%d pieces for %d characters: %q", len(pieces), utf8.RuneCountInString(text), pieces)
	}
	// A truncated character comes out at Flush as Decode gives it.
	d = &StreamDecoder{Tok: g.Tok, SkipSpecial: true}
	for _, id := range g.Encode("열", true)[:2] {
		if p, _ := d.Add(id); p != "" {
			t.Errorf("half a character emitted: %q", p)
		}
	}
	if rest, _ := d.Flush(); rest != string(utf8.RuneError) {
		t.Errorf("flush of half a character: %q", rest)
	}
}

func TestGenConfig(t *testing.T) {
	g := GenConfig{DoSample: true, Temperature: 0.7, TopK: 40, TopP: 0.95, RepetitionPenalty: 1.1}
	if s := g.Sampling(); s != (decoder.Sampling{Temperature: 0.7, TopK: 40, TopP: 0.95, RepetitionPenalty: 1.1}) {
		t.Errorf("do_sample: %+v", s)
	}
	g.DoSample = false
	if s := g.Sampling(); s != (decoder.Sampling{RepetitionPenalty: 1.1}) {
		t.Errorf("greedy: %+v", s)
	}
	d, err := LoadGenConfig(t.TempDir())
	if err != nil || d.Sampling() != (decoder.Sampling{RepetitionPenalty: 1}) || d.TopK != 50 {
		t.Errorf("defaults: %+v %v", d, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func int32s(a []int) []int32 {
	out := make([]int32, len(a))
	for i, v := range a {
		out[i] = int32(v)
	}
	return out
}
