package model

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/tokenizer"
)

// Model is an encoder with its tokenizer and sentence-embedding recipe.
//
// Encode, EncodeQueries and EncodePassages are safe for concurrent use by
// several goroutines (each call takes its own workspace). The exported
// settings may be changed after Load but not while an Encode runs.
type Model struct {
	Enc *Encoder
	Tok *tokenizer.Tokenizer
	ST  *STConfig // what the sentence-transformers files said

	// Pooling and Normalize make one vector per text from the token
	// vectors. Defaults: the sentence-transformers modules when present;
	// else mean pooling (CLS for DPR) and normalisation for e5 models.
	Pooling   Pooling
	Normalize bool
	// QueryPrefix and PassagePrefix are prepended by EncodeQueries and
	// EncodePassages: the "query"/"passage" (or "document") prompts of
	// config_sentence_transformers.json, else "query: "/"passage: " for an
	// e5 model (name or path contains "e5"), else none.
	QueryPrefix, PassagePrefix string
	// MaxLength truncates each text to this many tokens, special tokens
	// included: sentence_bert_config.json's max_seq_length, capped by the
	// position table.
	MaxLength int
	// BatchSize is the most texts per forward pass (default 32); long
	// texts get smaller batches so the workspace stays bounded.
	BatchSize int
	// SortByLength batches texts of similar token count together (the
	// results come back in input order). Default true.
	SortByLength bool

	dir, name string
	// The source's tokenizer files, written back unchanged by Save:
	// tokenizer.json, and tokenizer_config.json and special_tokens_map.json
	// when the source had them (else nil); tokOther: its other tokenizer
	// files (see otherTokenizerFiles), by name.
	tokJSON, tokConfig, tokSpecial []byte
	tokOther                       []namedFile
	// Idle workspaces, one per concurrent Encode seen so far. Not a
	// sync.Pool: that drops its items at every garbage collection, and a
	// workspace is tens to hundreds of MiB, so each collection would
	// trigger a fresh allocation of one.
	wsMu   sync.Mutex
	wsIdle []*Workspace
}

// LoadEncoder reads the encoder (config.json and safetensors weights) of
// the model in folder dir, or of its sentence-transformers Transformer
// module, without the tokenizer.
func LoadEncoder(dir string) (*Encoder, *STConfig, error) {
	st, err := ReadSTConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	tdir := st.TransformerDir
	cpath := filepath.Join(tdir, "config.json")
	if _, err := os.Stat(cpath); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: no config.json: not a Hugging Face model folder", tdir)
	}
	cfg, err := ReadConfig(cpath)
	if err != nil {
		return nil, nil, err
	}
	r, err := safetensors.OpenDir(tdir)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	w, err := LoadWeights(r, cfg)
	if err != nil {
		return nil, nil, err
	}
	switch blas.CurrentPrecision() {
	case blas.INT8:
		w.QuantizeInt8()
	case blas.BF16:
		w.PackBF16()
	}
	return &Encoder{Cfg: *cfg, W: w}, st, nil
}

// Load reads the model in folder dir.
func Load(dir string) (*Model, error) {
	enc, st, err := LoadEncoder(dir)
	if err != nil {
		return nil, err
	}
	cfg := &enc.Cfg
	tdir := st.TransformerDir
	tpath := filepath.Join(tdir, "tokenizer.json")
	if _, err := os.Stat(tpath); errors.Is(err, fs.ErrNotExist) && tdir != dir {
		tpath = filepath.Join(dir, "tokenizer.json")
	}
	if _, err := os.Stat(tpath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no tokenizer.json (kormed reads the fast-tokenizer file; save it with transformers' tokenizer.save_pretrained)", tdir)
	}
	tok, err := tokenizer.Load(tpath)
	if err != nil {
		return nil, err
	}
	tokJSON, err := os.ReadFile(tpath)
	if err != nil {
		return nil, err
	}
	// The tokenizer's other files live next to its tokenizer.json.
	tokConfig, err := readOptional(filepath.Join(filepath.Dir(tpath), "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	tokSpecial, err := readOptional(filepath.Join(filepath.Dir(tpath), "special_tokens_map.json"))
	if err != nil {
		return nil, err
	}
	tokOther, err := otherTokenizerFiles(filepath.Dir(tpath))
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("%s: tokenizer has %d tokens but the model's vocab_size is %d", tpath, tok.VocabSize(), cfg.VocabSize)
	}
	m := &Model{
		Enc:          enc,
		Tok:          tok,
		ST:           st,
		MaxLength:    cfg.MaxTokens(),
		BatchSize:    32,
		SortByLength: true,
		dir:          dir,
		name:         modelName(dir),
		tokJSON:      tokJSON,
		tokConfig:    tokConfig,
		tokSpecial:   tokSpecial,
		tokOther:     tokOther,
	}
	if st.MaxSeqLength > 0 && st.MaxSeqLength < m.MaxLength {
		m.MaxLength = st.MaxSeqLength
	}
	e5 := isE5(m.name) || isE5(dir) || isE5(cfg.NameOrPath)
	switch {
	case st.Pooling != "":
		m.Pooling = st.Pooling
	case cfg.ModelType == "dpr":
		m.Pooling = PoolCLS
	default:
		m.Pooling = PoolMean
	}
	if st.Present {
		m.Normalize = st.Normalize
	} else {
		m.Normalize = e5
	}
	if e5 {
		m.QueryPrefix, m.PassagePrefix = "query: ", "passage: "
	}
	if p, ok := st.Prompts["query"]; ok {
		m.QueryPrefix = p
	}
	for _, k := range []string{"passage", "document", "corpus"} {
		if p, ok := st.Prompts[k]; ok {
			m.PassagePrefix = p
			break
		}
	}
	return m, nil
}

// tokenizerFileNames are the tokenizer files, besides tokenizer.json,
// tokenizer_config.json and special_tokens_map.json, that transformers'
// tokenizers read or save_pretrained writes: WordPiece and BPE
// vocabularies, merges, added tokens. Any *.model file (a sentencepiece
// model: sentencepiece.bpe.model, sentencepiece.model, spiece.model,
// tokenizer.model, spm.model) is one too.
var tokenizerFileNames = []string{"added_tokens.json", "merges.txt", "vocab.json", "vocab.txt"}

// otherTokenizerFiles reads the tokenizer files of folder dir that
// tokenizerFileNames and the *.model pattern name, sorted by name, so that
// Save can write them back byte for byte.
func otherTokenizerFiles(dir string) ([]namedFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []namedFile
	for _, e := range ents { // ReadDir sorts by name
		n := e.Name()
		if !strings.HasSuffix(n, ".model") && !slices.Contains(tokenizerFileNames, n) {
			continue
		}
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue // a folder, or a dangling link (the Hugging Face cache links to blobs)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, namedFile{n, b})
	}
	return files, nil
}

// readOptional reads path, or returns nil when it does not exist.
func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

var e5re = regexp.MustCompile(`(^|[^a-z0-9])e5([^a-z0-9]|$)`)

func isE5(s string) bool { return e5re.MatchString(strings.ToLower(s)) }

// modelName is the folder's base name, or org/name for a folder in the
// Hugging Face cache (…/models--org--name/snapshots/<commit>).
func modelName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	parts := strings.Split(filepath.ToSlash(abs), "/")
	for i := len(parts) - 1; i > 0; i-- {
		if parts[i] == "snapshots" && strings.HasPrefix(parts[i-1], "models--") {
			return strings.ReplaceAll(strings.TrimPrefix(parts[i-1], "models--"), "--", "/")
		}
	}
	return filepath.Base(abs)
}

// Dim is the embedding dimension.
func (m *Model) Dim() int { return m.Enc.Cfg.HiddenSize }

// Name is the model's name: its folder, or org/name for a hub cache folder.
func (m *Model) Name() string { return m.name }

// Dir is the folder the model was loaded from.
func (m *Model) Dir() string { return m.dir }

// SetName overrides Name (e.g. with the hub id the user typed).
func (m *Model) SetName(n string) { m.name = n }

// Encode embeds texts as they are, one vector per text in input order.
func (m *Model) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	return m.EncodePrefixed(ctx, texts, "")
}

// EncodeQueries embeds texts with the model's query prefix.
func (m *Model) EncodeQueries(ctx context.Context, texts []string) ([][]float32, error) {
	return m.EncodePrefixed(ctx, texts, m.QueryPrefix)
}

// EncodePassages embeds texts with the model's passage prefix.
func (m *Model) EncodePassages(ctx context.Context, texts []string) ([][]float32, error) {
	return m.EncodePrefixed(ctx, texts, m.PassagePrefix)
}

// maxBatchTokens bounds B·T of one forward pass. The inference workspace
// is (7C + F)·B·T floats: 138 MiB at e5-small's shape and this bound
// (batch 32 × 256 tokens, or 16 × 512), which together with the weights
// sets kormed's peak memory whatever the number of texts. Larger batches
// of long texts gain nothing: their matrix products are already large.
const maxBatchTokens = 8192

// batchFor is the batch size for sequences of length T.
func (m *Model) batchFor(T int) int {
	bs := m.BatchSize
	if bs <= 0 {
		bs = 32
	}
	if lim := maxBatchTokens / max(T, 1); lim < bs {
		bs = max(lim, 1)
	}
	return bs
}

// Tokenize encodes each text with prefix, truncated to MaxLength.
func (m *Model) Tokenize(texts []string, prefix string) ([]tokenizer.Encoding, error) {
	if m.MaxLength <= 0 || m.MaxLength > m.Enc.Cfg.MaxTokens() {
		return nil, fmt.Errorf("max length %d outside 1..%d (the model's positions)", m.MaxLength, m.Enc.Cfg.MaxTokens())
	}
	encs := make([]tokenizer.Encoding, len(texts))
	for i, t := range texts {
		encs[i] = m.Tok.Encode(prefix+t, m.MaxLength)
	}
	return encs, nil
}

// EncodePrefixed embeds texts with prefix prepended to each.
func (m *Model) EncodePrefixed(ctx context.Context, texts []string, prefix string) ([][]float32, error) {
	encs, err := m.Tokenize(texts, prefix)
	if err != nil {
		return nil, err
	}
	return m.EncodeTokens(ctx, encs)
}

// EncodeTokens embeds already tokenised texts, one vector per encoding in
// input order.
func (m *Model) EncodeTokens(ctx context.Context, encs []tokenizer.Encoding) ([][]float32, error) {
	n, D := len(encs), m.Dim()
	out := make([][]float32, n)
	if n == 0 {
		return out, nil
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if m.SortByLength {
		// Longest first: the first batch sizes the workspace once.
		sort.SliceStable(order, func(a, b int) bool { return len(encs[order[a]].IDs) > len(encs[order[b]].IDs) })
	}
	ws := m.getWorkspace()
	defer m.putWorkspace(ws)
	slab := make([]float32, n*D)
	var sub []tokenizer.Encoding
	for start := 0; start < n; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		T := 0
		bs := m.batchFor(len(encs[order[start]].IDs))
		end := start
		for end < n && end-start < bs {
			l := len(encs[order[end]].IDs)
			// Unsorted batches may grow longer than the first text.
			if l > T {
				if end > start && m.batchFor(l) < end-start+1 {
					break
				}
				T = l
			}
			end++
		}
		sub = sub[:0]
		for _, i := range order[start:end] {
			sub = append(sub, encs[i])
		}
		b := m.Tok.Pad(sub)
		pooled := slab[start*D : end*D]
		if err := m.embedBatch(ws, b, pooled); err != nil {
			return nil, err
		}
		for j, i := range order[start:end] {
			out[i] = pooled[j*D : (j+1)*D : (j+1)*D]
		}
		start = end
	}
	return out, nil
}

func (m *Model) getWorkspace() *Workspace {
	m.wsMu.Lock()
	defer m.wsMu.Unlock()
	if n := len(m.wsIdle); n > 0 {
		ws := m.wsIdle[n-1]
		m.wsIdle = m.wsIdle[:n-1]
		return ws
	}
	return &Workspace{}
}

func (m *Model) putWorkspace(ws *Workspace) {
	m.wsMu.Lock()
	m.wsIdle = append(m.wsIdle, ws)
	m.wsMu.Unlock()
}

// embedBatch runs the forward pass and pooling of one padded batch into out [B,D].
func (m *Model) embedBatch(ws *Workspace, b tokenizer.Batch, out []float32) error {
	h, err := m.Enc.Forward(ws, b.IDs, b.TypeIDs, b.Mask, b.B, b.T, nil)
	if err != nil {
		return err
	}
	return m.Enc.Pool(out, h, b.Mask, b.B, b.T, m.Pooling, m.Normalize)
}
