package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kormed/kormed/atomicfile"
)

// PairFile marks a bi-encoder folder: two models, one for queries and
// one for passages (DPR's question and context encoders), each a complete
// sentence-transformers folder in a subfolder.
const PairFile = "pair.json"

// Pair folder layout, as DPR-KO and the medical DPR models publish the two
// encoders (…-question and …-context):
//
//	DIR/pair.json          {"query": "question_encoder", "passage": "context_encoder"}
//	DIR/question_encoder/  sentence-transformers folder
//	DIR/context_encoder/   sentence-transformers folder
const (
	QuestionEncoderDir = "question_encoder"
	ContextEncoderDir  = "context_encoder"
)

type pairJSON struct {
	Query   string `json:"query"`
	Passage string `json:"passage"`
}

// Pair is a bi-encoder: Query embeds queries, Passage embeds passages.
// It satisfies the retrievers' Encoder interface, so kormed eval and embed
// use the right encoder for each side.
type Pair struct {
	Query, Passage *Model
	dir            string
}

// IsPair reports whether dir is a bi-encoder folder.
func IsPair(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, PairFile))
	return err == nil
}

// LoadPair reads a bi-encoder folder.
func LoadPair(dir string) (*Pair, error) {
	b, err := os.ReadFile(filepath.Join(dir, PairFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s: not a bi-encoder folder", dir, PairFile)
	}
	if err != nil {
		return nil, err
	}
	var pj pairJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, PairFile), err)
	}
	for _, s := range []struct{ key, v string }{{"query", pj.Query}, {"passage", pj.Passage}} {
		if s.v == "" || filepath.IsAbs(s.v) || !filepath.IsLocal(s.v) {
			return nil, fmt.Errorf("%s: %q: want a subfolder name, got %q", filepath.Join(dir, PairFile), s.key, s.v)
		}
	}
	q, err := Load(filepath.Join(dir, pj.Query))
	if err != nil {
		return nil, err
	}
	p, err := Load(filepath.Join(dir, pj.Passage))
	if err != nil {
		return nil, err
	}
	if q.Dim() != p.Dim() {
		return nil, fmt.Errorf("%s: the query encoder has dimension %d, the passage encoder %d", dir, q.Dim(), p.Dim())
	}
	return &Pair{Query: q, Passage: p, dir: dir}, nil
}

// Dir is the folder the pair was loaded from.
func (p *Pair) Dir() string { return p.dir }

// Dim is the embedding dimension.
func (p *Pair) Dim() int { return p.Query.Dim() }

// EncodeQueries embeds texts with the query encoder (and its prefix).
func (p *Pair) EncodeQueries(ctx context.Context, texts []string) ([][]float32, error) {
	return p.Query.EncodeQueries(ctx, texts)
}

// EncodePassages embeds texts with the passage encoder (and its prefix).
func (p *Pair) EncodePassages(ctx context.Context, texts []string) ([][]float32, error) {
	return p.Passage.EncodePassages(ctx, texts)
}

// Save writes the pair folder atomically: both encoders as complete
// sentence-transformers folders, then pair.json.
func (p *Pair) Save(dir string, o SaveOptions) error {
	return ReplaceDir(dir, func(tmp string) error {
		qo, po := o, o
		qo.Name, po.Name = o.Name+" (question encoder)", o.Name+" (context encoder)"
		if o.Name == "" {
			qo.Name, po.Name = QuestionEncoderDir, ContextEncoderDir
		}
		if err := p.Query.Save(filepath.Join(tmp, QuestionEncoderDir), qo); err != nil {
			return err
		}
		if err := p.Passage.Save(filepath.Join(tmp, ContextEncoderDir), po); err != nil {
			return err
		}
		b, err := json.MarshalIndent(pairJSON{Query: QuestionEncoderDir, Passage: ContextEncoderDir}, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteBytes(filepath.Join(tmp, PairFile), append(b, '\n'))
	})
}
