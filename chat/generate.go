package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/tokenizer"
)

// GenConfig is what kormed uses of generation_config.json: the sampling
// defaults (transformers' defaults where a key is absent: greedy unless
// do_sample; temperature 1, top_k 50, top_p 1, repetition_penalty 1) and
// max_new_tokens.
type GenConfig struct {
	DoSample          bool    `json:"do_sample"`
	Temperature       float64 `json:"temperature"`
	TopK              int     `json:"top_k"`
	TopP              float64 `json:"top_p"`
	RepetitionPenalty float64 `json:"repetition_penalty"`
	MaxNewTokens      int     `json:"max_new_tokens"`
}

// LoadGenConfig reads dir/generation_config.json; an absent file gives
// transformers' defaults.
func LoadGenConfig(dir string) (GenConfig, error) {
	g := GenConfig{Temperature: 1, TopK: 50, TopP: 1, RepetitionPenalty: 1}
	b, err := os.ReadFile(filepath.Join(dir, "generation_config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return g, nil
	}
	if err != nil {
		return g, err
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return g, fmt.Errorf("chat: generation_config.json: %w", err)
	}
	return g, nil
}

// Sampling is the decoder.Sampling of the config: greedy (temperature 0)
// unless do_sample, the repetition penalty either way.
func (g GenConfig) Sampling() decoder.Sampling {
	s := decoder.Sampling{RepetitionPenalty: g.RepetitionPenalty}
	if g.DoSample {
		s.Temperature, s.TopK, s.TopP = g.Temperature, g.TopK, g.TopP
	}
	return s
}

// Generator generates text with a decoder-only model and its tokenizer.
// Its fields are read-only after Load; Generate may run concurrently.
type Generator struct {
	Model *decoder.Model
	Tok   *tokenizer.Tokenizer
	// Template is the model's chat template (nil when it has none).
	Template *Template
	// Defaults are generation_config.json's settings.
	Defaults GenConfig
	// EOS are the ids that end generation: generation_config.json's
	// eos_token_id (a number or a list), else config.json's.
	EOS []int
}

// Load loads the model, tokenizer, chat template (if any) and generation
// config of a Hugging Face model folder, the weights stored as the
// checkpoint stores them.
func Load(dir string) (*Generator, error) { return LoadWith(dir, decoder.LoadOptions{}) }

// LoadWith is Load with the decoder's load options (weight storage).
func LoadWith(dir string, o decoder.LoadOptions) (*Generator, error) {
	m, err := decoder.LoadWith(dir, o)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	gc, err := LoadGenConfig(dir)
	if err != nil {
		return nil, err
	}
	g := &Generator{Model: m, Tok: tok, Defaults: gc, EOS: m.GenEOS}
	g.Template, err = LoadTemplate(dir, "")
	if errors.Is(err, ErrNoTemplate) {
		g.Template, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Options control one generation.
type Options struct {
	// MaxNewTokens caps the new tokens (0: Defaults.MaxNewTokens, else 256).
	MaxNewTokens int
	// Sampling picks the tokens (the zero value is greedy; start from
	// Defaults.Sampling() to follow generation_config.json).
	Sampling decoder.Sampling
	// Stop strings end generation as soon as the text contains one; the
	// text is cut before it.
	Stop []string
	// EOS overrides the generator's end ids (nil: g.EOS).
	EOS []int
	// Raw encodes the prompt without the tokenizer's added special tokens
	// (e.g. a BOS that a rendered chat template already holds).
	Raw bool
}

// Result is the outcome of a generation.
type Result struct {
	Text         string // the new text (a stop string and what follows it cut)
	IDs          []int  // the new token ids (the EOS id included)
	PromptTokens int
	// StopReason is "eos", "stop" (a stop string), "length" or
	// "canceled".
	StopReason string
	// Prefill is the time to the first new token, Duration the whole
	// generation's.
	Prefill, Duration time.Duration
}

// TokensPerSecond is the decoding speed after the first token (all
// tokens over the whole duration when there is only one).
func (r Result) TokensPerSecond() float64 {
	if n := len(r.IDs) - 1; n > 0 && r.Duration > r.Prefill {
		return float64(n) / (r.Duration - r.Prefill).Seconds()
	}
	if r.Duration > 0 {
		return float64(len(r.IDs)) / r.Duration.Seconds()
	}
	return 0
}

// ChatPrompt renders a user message (after an optional system message)
// with the model's chat template and the generation prompt.
func (g *Generator) ChatPrompt(system, user string) (string, error) {
	if g.Template == nil {
		return "", ErrNoTemplate
	}
	var msgs []Message
	if system != "" {
		msgs = append(msgs, Message{"system", system})
	}
	return g.Template.Render(append(msgs, Message{"user", user}), true)
}

// Encode encodes a prompt; raw leaves out the special tokens that the
// tokenizer's post-processor adds (as transformers' apply_chat_template,
// which tokenizes the rendered template with add_special_tokens=False).
func (g *Generator) Encode(prompt string, raw bool) []int {
	return encode(g.Tok, prompt, raw)
}

func encode(tok *tokenizer.Tokenizer, prompt string, raw bool) []int {
	enc := tok.Encode(prompt, 0).IDs
	if raw {
		pre, suf := addedSpecial(tok)
		if len(enc) >= pre+suf {
			enc = enc[pre : len(enc)-suf]
		}
	}
	ids := make([]int, len(enc))
	for i, id := range enc {
		ids[i] = int(id)
	}
	return ids
}

// addedSpecial finds how many ids the post-processor adds before and after
// a text: Encode("") holds only them; those that also lead Encode("a") are
// the prefix.
func addedSpecial(tok *tokenizer.Tokenizer) (pre, suf int) {
	empty := tok.Encode("", 0).IDs
	a := tok.Encode("a", 0).IDs
	for pre < len(empty) && pre < len(a) && a[pre] == empty[pre] {
		pre++
	}
	return pre, len(empty) - pre
}

// Generate encodes prompt, generates and calls emit with each new piece of
// text as soon as it is complete: whole UTF-8 characters, never part of a
// stop string. The pieces concatenate to Result.Text. An error from emit
// stops the generation and is returned.
func (g *Generator) Generate(ctx context.Context, prompt string, o Options, emit func(piece string) error) (Result, error) {
	ids := g.Encode(prompt, o.Raw)
	if len(ids) == 0 {
		return Result{}, errors.New("chat: empty prompt")
	}
	return g.GenerateIDs(ctx, ids, o, emit)
}

// GenerateIDs is Generate from prompt ids.
func (g *Generator) GenerateIDs(ctx context.Context, ids []int, o Options, emit func(piece string) error) (Result, error) {
	maxNew := o.MaxNewTokens
	if maxNew <= 0 {
		maxNew = g.Defaults.MaxNewTokens
	}
	if maxNew <= 0 {
		maxNew = 256
	}
	if room := g.Model.Cfg.MaxPositions - len(ids); room < maxNew {
		if room <= 0 {
			return Result{}, fmt.Errorf("chat: the prompt's %d tokens fill the model's %d positions", len(ids), g.Model.Cfg.MaxPositions)
		}
		maxNew = room
	}
	eosList := o.EOS
	if eosList == nil {
		eosList = g.EOS
	}
	if emit == nil {
		emit = func(string) error { return nil }
	}
	res := Result{PromptTokens: len(ids), StopReason: "length"}
	st := &stopper{stops: o.Stop}
	sd := &StreamDecoder{Tok: g.Tok, SkipSpecial: true}
	var emitErr error
	out := func(s string) bool {
		if s == "" || emitErr != nil {
			return emitErr != nil
		}
		emitErr = emit(s)
		return emitErr != nil
	}
	start := time.Now()
	stop := func(id int) bool {
		if len(res.IDs) == 0 {
			res.Prefill = time.Since(start)
		}
		res.IDs = append(res.IDs, id)
		if slices.Contains(eosList, id) {
			res.StopReason = "eos"
			return true
		}
		piece, err := sd.Add(id)
		if err != nil {
			emitErr = err
			return true
		}
		safe, hit := st.add(piece)
		if out(safe) {
			return true
		}
		if hit {
			res.StopReason = "stop"
			return true
		}
		return false
	}
	_, err := g.Model.GenerateSampled(ctx, ids, maxNew, stop, o.Sampling)
	res.Duration = time.Since(start)
	if err != nil && ctx.Err() != nil {
		res.StopReason = "canceled"
	}
	if res.StopReason != "stop" && emitErr == nil {
		// The end: what was held back (an incomplete character, a
		// possible stop-string start) is final now.
		rest, _ := sd.Flush()
		safe, _ := st.add(rest)
		out(safe)
		out(st.flush())
	}
	res.Text = st.text()
	if emitErr != nil {
		return res, emitErr
	}
	return res, err
}

// stopper holds back text that may begin a stop string and finds stop
// strings across pieces.
type stopper struct {
	stops   []string
	all     strings.Builder // all text so far
	emitted int             // bytes of all given out
	cut     int             // -1 until a stop string is found: its offset
	done    bool
}

// add appends text and returns what is now safe to give out, and whether a
// stop string was found (the safe text then ends before it).
func (s *stopper) add(text string) (safe string, hit bool) {
	if s.done {
		return "", true
	}
	s.all.WriteString(text)
	all := s.all.String()
	best := -1
	for _, stop := range s.stops {
		if stop == "" {
			continue
		}
		from := max(0, s.emitted-len(stop)+1)
		if i := strings.Index(all[from:], stop); i >= 0 && (best < 0 || from+i < best) {
			best = from + i
		}
	}
	if best >= 0 {
		s.done, s.cut = true, best
		safe = all[s.emitted:best]
		s.emitted = best
		return safe, true
	}
	// Hold back the longest suffix that is a proper prefix of a stop string.
	hold := 0
	for _, stop := range s.stops {
		for n := min(len(stop)-1, len(all)-s.emitted); n > hold; n-- {
			if strings.HasSuffix(all, stop[:n]) {
				hold = n
				break
			}
		}
	}
	end := len(all) - hold
	safe = all[s.emitted:end]
	s.emitted = end
	return safe, false
}

// flush gives out what was held back (at the end of generation).
func (s *stopper) flush() string {
	if s.done {
		return ""
	}
	all := s.all.String()
	rest := all[s.emitted:]
	s.emitted = len(all)
	return rest
}

// text is the final text: up to a stop string, or everything given out.
func (s *stopper) text() string {
	all := s.all.String()
	if s.done {
		return all[:s.cut]
	}
	return all[:s.emitted]
}

// StreamDecoder decodes ids one at a time into text pieces, as
// transformers' TextStreamer and vLLM's incremental detokenizer: it decodes
// the ids since the last emitted piece (with the previous piece's ids as
// context, for decoders whose output depends on it) and emits the new text
// only when it does not end in an incomplete UTF-8 sequence (which Decode
// gives as U+FFFD). The pieces concatenate to Decode of all the ids.
type StreamDecoder struct {
	Tok         *tokenizer.Tokenizer
	SkipSpecial bool
	ids         []int32
	prefix      int // start of the context ids
	read        int // end of the ids already emitted
}

// Add adds one id and returns the text it completes ("" while held back).
func (d *StreamDecoder) Add(id int) (string, error) {
	d.ids = append(d.ids, int32(id))
	return d.next(false)
}

// Flush returns the text still held back (an incomplete character comes
// out as U+FFFD, as Decode gives it).
func (d *StreamDecoder) Flush() (string, error) { return d.next(true) }

func (d *StreamDecoder) next(final bool) (string, error) {
	if d.read == len(d.ids) {
		return "", nil
	}
	prev, err := d.Tok.Decode(d.ids[d.prefix:d.read], d.SkipSpecial)
	if err != nil {
		return "", err
	}
	cur, err := d.Tok.Decode(d.ids[d.prefix:], d.SkipSpecial)
	if err != nil {
		return "", err
	}
	if !final && strings.HasSuffix(cur, string(utf8.RuneError)) {
		return "", nil
	}
	if len(cur) < len(prev) || cur[:len(prev)] != prev {
		// The context decoded differently with the new ids: emit only
		// what is past its length (never rewrite emitted text).
		if len(cur) <= len(prev) {
			d.prefix, d.read = d.read, len(d.ids)
			return "", nil
		}
	}
	piece := cur[len(prev):]
	d.prefix, d.read = d.read, len(d.ids)
	return piece, nil
}
