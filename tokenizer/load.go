package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

type fileJSON struct {
	AddedTokens []struct {
		ID         *int   `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Padding       *struct {
		PadID    *int   `json:"pad_id"`
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Model json.RawMessage `json:"model"`
}

type typed struct {
	Type string `json:"type"`
}

// Load reads a Hugging Face tokenizer.json. Errors name the file and the offending field.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	t.path = path
	return t, nil
}

// Parse builds a Tokenizer from tokenizer.json bytes.
func Parse(data []byte) (*Tokenizer, error) {
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

func parse(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	t := &Tokenizer{}
	if err := t.loadModel(f.Model); err != nil {
		return nil, err
	}
	// added tokens
	for i, a := range f.AddedTokens {
		if a.ID == nil || *a.ID < 0 {
			return nil, fmt.Errorf("added_tokens[%d]: missing or negative id", i)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d]: empty content", i)
		}
		id := *a.ID
		for id >= len(t.vocab) {
			t.vocab = append(t.vocab, "")
		}
		if t.vocab[id] == "" {
			t.vocab[id] = a.Content
		}
		t.added = append(t.added, addedToken{id: int32(id), content: a.Content, lstrip: a.LStrip,
			rstrip: a.RStrip, singleWord: a.SingleWord, special: a.Special})
		if a.Special {
			if t.special == nil {
				t.special = map[int32]bool{}
			}
			t.special[int32(id)] = true
		}
	}
	sortAdded(t.added)
	var err error
	if t.normalizers, err = parseNormalizer(f.Normalizer, "normalizer", nil); err != nil {
		return nil, err
	}
	if t.pretoks, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer", nil); err != nil {
		return nil, err
	}
	if err := t.parsePost(f.PostProcessor); err != nil {
		return nil, err
	}
	t.decoder = parseDecoder(f.Decoder)
	t.padID = 0
	found := false
	if f.Padding != nil && f.Padding.PadID != nil {
		t.padID, found = int32(*f.Padding.PadID), true
	}
	if !found {
		for _, name := range []string{"<pad>", "[PAD]"} {
			if id, ok := t.lookup(name); ok {
				t.padID = id
				break
			}
		}
	}
	return t, nil
}

func (t *Tokenizer) lookup(tok string) (int32, bool) {
	for _, a := range t.added {
		if a.content == tok {
			return a.id, true
		}
	}
	if t.unigram != nil {
		id, ok := t.unigram.ids[tok]
		return id, ok
	}
	if t.wordpiece != nil {
		id, ok := t.wordpiece.start[tok]
		return id, ok
	}
	if t.bpe != nil {
		id, ok := t.bpe.vocab[tok]
		return id, ok
	}
	return 0, false
}

// parseUnigramVocab reads [[piece, score], ...] with a small scanner (encoding/json per entry
// is slow for 250k-piece vocabularies); strings with escapes go through encoding/json.
func parseUnigramVocab(b []byte) ([]string, []float64, error) {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
	}
	expect := func(c byte, n int) error {
		ws()
		if i >= len(b) || b[i] != c {
			return fmt.Errorf("model.vocab[%d]: want %q at byte %d", n, c, i)
		}
		i++
		return nil
	}
	var pieces []string
	var scores []float64
	if err := expect('[', 0); err != nil {
		return nil, nil, errors.New("model.vocab: want an array of [piece, score]")
	}
	ws()
	if i < len(b) && b[i] == ']' {
		return nil, nil, nil
	}
	for n := 0; ; n++ {
		if err := expect('[', n); err != nil {
			return nil, nil, err
		}
		ws()
		if i >= len(b) || b[i] != '"' {
			return nil, nil, fmt.Errorf("model.vocab[%d]: piece is not a string", n)
		}
		j, esc := i+1, false
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				esc = true
				j++
			}
			j++
		}
		if j >= len(b) {
			return nil, nil, fmt.Errorf("model.vocab[%d]: unterminated string", n)
		}
		var p string
		if esc {
			if err := json.Unmarshal(b[i:j+1], &p); err != nil {
				return nil, nil, fmt.Errorf("model.vocab[%d]: %w", n, err)
			}
		} else {
			p = string(b[i+1 : j])
		}
		i = j + 1
		if err := expect(',', n); err != nil {
			return nil, nil, err
		}
		ws()
		k := i
		for k < len(b) && (b[k] == '-' || b[k] == '+' || b[k] == '.' || b[k] == 'e' || b[k] == 'E' || (b[k] >= '0' && b[k] <= '9')) {
			k++
		}
		sc, err := strconv.ParseFloat(string(b[i:k]), 64)
		if err != nil {
			return nil, nil, fmt.Errorf("model.vocab[%d]: score is not a number", n)
		}
		i = k
		if err := expect(']', n); err != nil {
			return nil, nil, err
		}
		pieces = append(pieces, p)
		scores = append(scores, sc)
		ws()
		if i < len(b) && b[i] == ']' {
			return pieces, scores, nil
		}
		if err := expect(',', n); err != nil {
			return nil, nil, err
		}
	}
}

func (t *Tokenizer) loadModel(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return errors.New("model: missing")
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	switch ty.Type {
	case "Unigram":
		var m struct {
			UnkID        *int            `json:"unk_id"`
			Vocab        json.RawMessage `json:"vocab"`
			ByteFallback bool            `json:"byte_fallback"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("model (Unigram): %w", err)
		}
		pieces, scores, err := parseUnigramVocab(m.Vocab)
		if err != nil {
			return err
		}
		if len(pieces) == 0 {
			return errors.New("model.vocab: empty")
		}
		if m.UnkID == nil {
			return errors.New("model.unk_id: missing (a Unigram model without unk_id is not supported)")
		}
		u, err := newUnigram(pieces, scores, *m.UnkID, m.ByteFallback)
		if err != nil {
			return err
		}
		t.unigram, t.kind, t.vocab = u, "unigram", append([]string(nil), pieces...)
	case "WordPiece":
		var m struct {
			UnkToken string           `json:"unk_token"`
			Prefix   *string          `json:"continuing_subword_prefix"`
			MaxChars *int             `json:"max_input_chars_per_word"`
			Vocab    map[string]int32 `json:"vocab"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("model (WordPiece): %w", err)
		}
		if len(m.Vocab) == 0 {
			return errors.New("model.vocab: empty")
		}
		pieces := make([]string, len(m.Vocab))
		for p, id := range m.Vocab {
			if id < 0 || int(id) >= len(pieces) {
				return fmt.Errorf("model.vocab[%q]: id %d outside 0..%d", p, id, len(pieces)-1)
			}
			if pieces[id] != "" {
				return fmt.Errorf("model.vocab[%q]: id %d also used by %q", p, id, pieces[id])
			}
			pieces[id] = p
		}
		if m.UnkToken == "" {
			m.UnkToken = "[UNK]"
		}
		unk, ok := m.Vocab[m.UnkToken]
		if !ok {
			return fmt.Errorf("model.unk_token: %q not in model.vocab", m.UnkToken)
		}
		prefix := "##"
		if m.Prefix != nil {
			prefix = *m.Prefix
		}
		maxChars := 100
		if m.MaxChars != nil {
			maxChars = *m.MaxChars
		}
		t.wordpiece = newWordPiece(pieces, unk, prefix, maxChars)
		t.kind, t.vocab = "wordpiece", pieces
	case "BPE":
		m, err := loadBPE(raw)
		if err != nil {
			return err
		}
		t.bpe, t.kind, t.vocab = m, "bpe", append([]string(nil), m.pieces...)
	case "":
		return errors.New("model.type: missing")
	default:
		return fmt.Errorf("model.type: %q not supported (Unigram, WordPiece, BPE)", ty.Type)
	}
	return nil
}

func parseNormalizer(raw json.RawMessage, field string, out []normalizer) ([]normalizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	switch ty.Type {
	case "Sequence":
		var s struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		var err error
		for i, n := range s.Normalizers {
			if out, err = parseNormalizer(n, fmt.Sprintf("%s.normalizers[%d]", field, i), out); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "Precompiled":
		var s struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if s.Charsmap == nil || *s.Charsmap == "" {
			return out, nil // an empty charsmap is the identity
		}
		b, err := base64.StdEncoding.DecodeString(*s.Charsmap)
		if err != nil {
			return nil, fmt.Errorf("%s.precompiled_charsmap: %w", field, err)
		}
		p, err := newPrecompiled(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return append(out, p), nil
	case "Replace":
		var s struct {
			Pattern struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		switch {
		case s.Pattern.String != nil:
			return append(out, stringReplace{[]byte(*s.Pattern.String), []byte(s.Content)}), nil
		case s.Pattern.Regex != nil && *s.Pattern.Regex == " {2,}":
			return append(out, spaceRunReplace{s.Content}), nil
		case s.Pattern.Regex != nil:
			re, err := regexp.Compile(*s.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("%s.pattern.Regex: %w", field, err)
			}
			return append(out, regexReplace{re, []byte(s.Content)}), nil
		}
		return nil, fmt.Errorf("%s.pattern: want String or Regex", field)
	case "NFKC":
		return append(out, unicodeNormalizer{norm.NFKC}), nil
	case "NFC":
		return append(out, unicodeNormalizer{norm.NFC}), nil
	case "NFD":
		return append(out, unicodeNormalizer{norm.NFD}), nil
	case "NFKD":
		return append(out, unicodeNormalizer{norm.NFKD}), nil
	case "Lowercase":
		return append(out, lowercaseNormalizer{}), nil
	case "StripAccents":
		return append(out, stripAccentsNormalizer{}), nil
	case "Strip":
		var s struct {
			Left  *bool `json:"strip_left"`
			Right *bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return append(out, stripNormalizer{s.Left == nil || *s.Left, s.Right == nil || *s.Right}), nil
	case "Prepend":
		var s struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return append(out, prependNormalizer{s.Prepend}), nil
	case "BertNormalizer":
		var s struct {
			CleanText    *bool `json:"clean_text"`
			Chinese      *bool `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    *bool `json:"lowercase"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		b := bertNormalizer{cleanText: true, chinese: true, lowercase: true}
		if s.CleanText != nil {
			b.cleanText = *s.CleanText
		}
		if s.Chinese != nil {
			b.chinese = *s.Chinese
		}
		if s.Lowercase != nil {
			b.lowercase = *s.Lowercase
		}
		b.stripAccents = b.lowercase
		if s.StripAccents != nil {
			b.stripAccents = *s.StripAccents
		}
		return append(out, b), nil
	case "":
		return nil, fmt.Errorf("%s.type: missing", field)
	}
	return nil, fmt.Errorf("%s.type: %q not supported", field, ty.Type)
}

func parsePreTokenizer(raw json.RawMessage, field string, out []preTokenizer) ([]preTokenizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	switch ty.Type {
	case "Sequence":
		var s struct {
			Pretokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		var err error
		for i, n := range s.Pretokenizers {
			if out, err = parsePreTokenizer(n, fmt.Sprintf("%s.pretokenizers[%d]", field, i), out); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "Metaspace":
		var s struct {
			Replacement    *string `json:"replacement"`
			StrRep         *string `json:"str_rep"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
			PrependScheme  *string `json:"prepend_scheme"`
			Split          *bool   `json:"split"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		m := metaspace{repl: "▁", prepend: 1, doSplit: true}
		if s.Replacement != nil {
			m.repl = *s.Replacement
		} else if s.StrRep != nil {
			m.repl = *s.StrRep
		}
		if m.repl == "" {
			return nil, fmt.Errorf("%s.replacement: empty", field)
		}
		if s.PrependScheme != nil {
			switch *s.PrependScheme {
			case "always":
				m.prepend = 1
			case "never":
				m.prepend = 0
			case "first":
				m.prepend = 2
			default:
				return nil, fmt.Errorf("%s.prepend_scheme: %q (want always, never or first)", field, *s.PrependScheme)
			}
		} else if s.AddPrefixSpace != nil && !*s.AddPrefixSpace {
			m.prepend = 0
		}
		if s.Split != nil {
			m.doSplit = *s.Split
		}
		return append(out, m), nil
	case "BertPreTokenizer":
		return append(out, bertPre{}), nil
	case "WhitespaceSplit":
		return append(out, whitespaceSplit{}), nil
	case "Whitespace":
		return append(out, whitespacePre{}), nil
	case "ByteLevel":
		var s struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		b := byteLevel{addPrefixSpace: s.AddPrefixSpace == nil || *s.AddPrefixSpace}
		if s.UseRegex == nil || *s.UseRegex {
			re, err := compileSplitRegex(gpt2Pattern)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			b.re = re
		}
		return append(out, b), nil
	case "Split":
		var s struct {
			Pattern struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Behavior string `json:"behavior"`
			Invert   bool   `json:"invert"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		beh, ok := behaviors[s.Behavior]
		if !ok {
			return nil, fmt.Errorf("%s.behavior: %q (want Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)", field, s.Behavior)
		}
		sp := splitPre{behavior: beh, invert: s.Invert}
		switch {
		case s.Pattern.Regex != nil:
			re, err := compileSplitRegex(*s.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("%s.pattern.Regex: %w", field, err)
			}
			sp.re = re
		case s.Pattern.String != nil:
			sp.literal = *s.Pattern.String
		default:
			return nil, fmt.Errorf("%s.pattern: want String or Regex", field)
		}
		return append(out, sp), nil
	case "Digits":
		var s struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		sp := splitPre{digits: true, behavior: behContiguous}
		if s.Individual {
			sp.behavior = behIsolated
		}
		return append(out, sp), nil
	case "":
		return nil, fmt.Errorf("%s.type: missing", field)
	}
	return nil, fmt.Errorf("%s.type: %q not supported", field, ty.Type)
}

func (t *Tokenizer) parsePost(raw json.RawMessage) error {
	t.post = postProcessor{single: []tmplItem{{seq: 0}}, pair: []tmplItem{{seq: 0}, {seq: 1, typeID: 1}}}
	return t.parsePostIn(raw, "post_processor")
}

// parsePostIn reads one post-processor into t.post. ByteLevel only trims offsets, which
// kormed does not keep, so it adds nothing; Sequence applies its processors in order (one
// that adds special tokens, such as Llama-3's ByteLevel + TemplateProcessing).
func (t *Tokenizer) parsePostIn(raw json.RawMessage, field string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	switch ty.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		var s struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		adds := 0
		for i, p := range s.Processors {
			var pt typed
			if json.Unmarshal(p, &pt) == nil && pt.Type != "ByteLevel" {
				if adds++; adds > 1 {
					return fmt.Errorf("%s.processors[%d]: more than one processor adding special tokens is not supported", field, i)
				}
			}
			if err := t.parsePostIn(p, fmt.Sprintf("%s.processors[%d]", field, i)); err != nil {
				return err
			}
		}
		return nil
	}
	special := func(tok string, id int32, typeID int32) tmplItem {
		return tmplItem{seq: -1, ids: []int32{id}, toks: []string{tok}, typeID: typeID}
	}
	pairOf := func(s json.RawMessage, name string) (string, int32, error) {
		var v []json.RawMessage
		var tok string
		var id int32
		if err := json.Unmarshal(s, &v); err != nil || len(v) != 2 ||
			json.Unmarshal(v[0], &tok) != nil || json.Unmarshal(v[1], &id) != nil {
			return "", 0, fmt.Errorf("%s.%s: want [token, id]", field, name)
		}
		return tok, id, nil
	}
	switch ty.Type {
	case "RobertaProcessing", "BertProcessing":
		var s struct {
			Sep json.RawMessage `json:"sep"`
			Cls json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		sepT, sepID, err := pairOf(s.Sep, "sep")
		if err != nil {
			return err
		}
		clsT, clsID, err := pairOf(s.Cls, "cls")
		if err != nil {
			return err
		}
		cls, sep := special(clsT, clsID, 0), special(sepT, sepID, 0)
		t.post.single = []tmplItem{cls, {seq: 0}, sep}
		if ty.Type == "RobertaProcessing" { // <s> A </s></s> B </s>, all type ids 0
			t.post.pair = []tmplItem{cls, {seq: 0}, sep, sep, {seq: 1}, sep}
		} else { // [CLS] A [SEP] B [SEP], B and its [SEP] type 1
			t.post.pair = []tmplItem{cls, {seq: 0}, sep, {seq: 1, typeID: 1}, special(sepT, sepID, 1)}
		}
		return nil
	case "TemplateProcessing":
		var s struct {
			Single        []json.RawMessage `json:"single"`
			Pair          []json.RawMessage `json:"pair"`
			SpecialTokens map[string]struct {
				ID     string   `json:"id"`
				IDs    []int32  `json:"ids"`
				Tokens []string `json:"tokens"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		conv := func(items []json.RawMessage, name string) ([]tmplItem, error) {
			var out []tmplItem
			for i, r := range items {
				var it struct {
					SpecialToken *struct {
						ID     string `json:"id"`
						TypeID int32  `json:"type_id"`
					} `json:"SpecialToken"`
					Sequence *struct {
						ID     string `json:"id"`
						TypeID int32  `json:"type_id"`
					} `json:"Sequence"`
				}
				if err := json.Unmarshal(r, &it); err != nil {
					return nil, fmt.Errorf("%s.%s[%d]: %w", field, name, i, err)
				}
				switch {
				case it.SpecialToken != nil:
					sp, ok := s.SpecialTokens[it.SpecialToken.ID]
					if !ok {
						return nil, fmt.Errorf("%s.%s[%d]: special token %q not in special_tokens", field, name, i, it.SpecialToken.ID)
					}
					if len(sp.IDs) != len(sp.Tokens) {
						return nil, fmt.Errorf("%s.special_tokens[%q]: %d ids but %d tokens", field, it.SpecialToken.ID, len(sp.IDs), len(sp.Tokens))
					}
					out = append(out, tmplItem{seq: -1, ids: sp.IDs, toks: sp.Tokens, typeID: it.SpecialToken.TypeID})
				case it.Sequence != nil:
					switch it.Sequence.ID {
					case "A":
						out = append(out, tmplItem{seq: 0, typeID: it.Sequence.TypeID})
					case "B":
						out = append(out, tmplItem{seq: 1, typeID: it.Sequence.TypeID})
					default:
						return nil, fmt.Errorf("%s.%s[%d]: sequence %q (want A or B)", field, name, i, it.Sequence.ID)
					}
				default:
					return nil, fmt.Errorf("%s.%s[%d]: want SpecialToken or Sequence", field, name, i)
				}
			}
			return out, nil
		}
		var err error
		if t.post.single, err = conv(s.Single, "single"); err != nil {
			return err
		}
		if t.post.pair, err = conv(s.Pair, "pair"); err != nil {
			return err
		}
		if len(t.post.pair) == 0 {
			return fmt.Errorf("%s.pair: empty", field)
		}
		return nil
	case "":
		return fmt.Errorf("%s.type: missing", field)
	}
	return fmt.Errorf("%s.type: %q not supported (TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence)", field, ty.Type)
}

// parseDecoder names the decoder Decode applies. Decoders Decode does not implement do not
// fail Load (encoding does not need them); Decode reports them.
func parseDecoder(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var ty typed
	if json.Unmarshal(raw, &ty) != nil || ty.Type == "" {
		return "?"
	}
	if ty.Type == "Sequence" { // a Sequence of ByteLevel decoders is ByteLevel
		var s struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if json.Unmarshal(raw, &s) != nil || len(s.Decoders) == 0 {
			return "Sequence"
		}
		for _, d := range s.Decoders {
			if parseDecoder(d) != "ByteLevel" {
				return "Sequence"
			}
		}
		return "ByteLevel"
	}
	return ty.Type
}

// loadBPE reads a BPE model: vocab {token: id}, merges as "a b" strings or [a, b] pairs.
func loadBPE(raw json.RawMessage) (*bpeModel, error) {
	var m struct {
		Vocab        map[string]int32  `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		Dropout      *float64          `json:"dropout"`
		UnkToken     *string           `json:"unk_token"`
		Prefix       *string           `json:"continuing_subword_prefix"`
		Suffix       *string           `json:"end_of_word_suffix"`
		FuseUnk      bool              `json:"fuse_unk"`
		ByteFallback bool              `json:"byte_fallback"`
		IgnoreMerges bool              `json:"ignore_merges"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("model (BPE): %w", err)
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New("model.vocab: empty")
	}
	if m.Dropout != nil && *m.Dropout > 0 {
		return nil, fmt.Errorf("model.dropout: %g not supported (BPE dropout is random; kormed encodes deterministically)", *m.Dropout)
	}
	n := 0
	for p, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("model.vocab[%q]: negative id %d", p, id)
		}
		n = max(n, int(id)+1)
	}
	pieces := make([]string, n)
	for p, id := range m.Vocab {
		if pieces[id] != "" {
			return nil, fmt.Errorf("model.vocab[%q]: id %d also used by %q", p, id, pieces[id])
		}
		pieces[id] = p
	}
	merges := make([][2]string, len(m.Merges))
	for i, r := range m.Merges {
		var s string
		if json.Unmarshal(r, &s) == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("model.merges[%d]: %q is not \"left right\"", i, s)
			}
			merges[i] = [2]string{a, b}
			continue
		}
		var pr []string
		if err := json.Unmarshal(r, &pr); err != nil || len(pr) != 2 {
			return nil, fmt.Errorf("model.merges[%d]: want \"left right\" or [left, right]", i)
		}
		merges[i] = [2]string{pr[0], pr[1]}
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return newBPE(pieces, m.Vocab, merges, str(m.UnkToken), m.FuseUnk, m.ByteFallback, m.IgnoreMerges,
		str(m.Prefix), str(m.Suffix))
}
