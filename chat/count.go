package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/tokenizer"
)

// Counter counts tokens as a model sees them, for a context budget (the
// RAG prompt's: rag.Options.Tokens, PromptTokens and Context).
type Counter struct {
	Tok *tokenizer.Tokenizer
	// Template renders a request (nil: the messages' contents are
	// counted, plus 4 a message for the roles and separators).
	Template *Template
	// Context is the model's max_position_embeddings (0: unknown).
	Context int
}

// Counter counts with the generator's tokenizer, chat template and
// context length.
func (g *Generator) Counter() *Counter {
	return &Counter{Tok: g.Tok, Template: g.Template, Context: g.Model.Cfg.MaxPositions}
}

// LoadCounter loads a model folder's tokenizer.json, its chat template
// when it has one, and config.json's max_position_embeddings (n_positions)
// when it is there: what counting needs of a model served elsewhere (an
// OpenAI-compatible server), without the weights.
func LoadCounter(dir string) (*Counter, error) {
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	c := &Counter{Tok: tok}
	c.Template, err = LoadTemplate(dir, "")
	if errors.Is(err, ErrNoTemplate) {
		c.Template, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg struct {
		MaxPos *int `json:"max_position_embeddings"`
		NPos   *int `json:"n_positions"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case cfg.MaxPos != nil:
		c.Context = *cfg.MaxPos
	case cfg.NPos != nil:
		c.Context = *cfg.NPos
	}
	if c.Context < 0 {
		return nil, fmt.Errorf("%s: max_position_embeddings %d", path, c.Context)
	}
	return c, nil
}

// Tokens counts text's tokens, without the special tokens the
// tokenizer's post-processor adds.
func (c *Counter) Tokens(text string) int { return len(encode(c.Tok, text, true)) }

// Prompt counts a chat request's tokens: the rendered chat template with
// the generation prompt, as the decoder sees it (the contents plus 4 a
// message without a template, or when it fails to render).
func (c *Counter) Prompt(msgs []llm.Message) int {
	if c.Template != nil {
		ms := make([]Message, len(msgs))
		for i, m := range msgs {
			ms[i] = Message{Role: m.Role, Content: m.Content}
		}
		if s, err := c.Template.Render(ms, true); err == nil {
			return c.Tokens(s)
		}
	}
	n := 0
	for _, m := range msgs {
		n += c.Tokens(m.Content) + 4
	}
	return n
}
