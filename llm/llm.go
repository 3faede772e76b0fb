package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// Message is one chat message.
type Message struct {
	// Role is system, user or assistant.
	Role    string `json:"role"`
	Content string `json:"content"`
}

// UnmarshalJSON accepts the content as a string, null, or OpenAI's array
// of parts ([{"type":"text","text":"…"}], whose text parts are joined).
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.Role, m.Content = raw.Role, ""
	c := bytes.TrimSpace(raw.Content)
	switch {
	case len(c) == 0 || string(c) == "null":
	case c[0] == '"':
		return json.Unmarshal(c, &m.Content)
	case c[0] == '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(c, &parts); err != nil {
			return err
		}
		var sb strings.Builder
		for _, p := range parts {
			if p.Type != "text" {
				return errors.New("message content: only text parts are supported, got " + p.Type)
			}
			sb.WriteString(p.Text)
		}
		m.Content = sb.String()
	default:
		return errors.New("message content: want a string or an array of text parts")
	}
	return nil
}

// Request is one chat completion.
type Request struct {
	Messages []Message
	// Model names the model; "" means the generator's default.
	Model string
	// MaxTokens bounds the reply (0: the generator's default).
	MaxTokens int
	// Temperature and TopP are sampling settings; nil means the
	// generator's default.
	Temperature *float64
	TopP        *float64
	// Stop sequences end the reply (not included in it).
	Stop []string
}

// Usage counts tokens, when the generator reports them.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Result is a finished reply.
type Result struct {
	// Text is the whole reply (the pieces emitted, concatenated).
	Text string
	// FinishReason is why it ended: "stop", "length", … ("" when the
	// stream was cut).
	FinishReason string
	// Model is the model that answered, as the server names it.
	Model string
	Usage *Usage
}

// Generator produces a chat reply. Generate calls emit with each piece of
// text as it is produced (in order; their concatenation is Result.Text)
// and returns when the reply is finished, ctx is cancelled or emit returns
// an error (which Generate then returns). On failure the Result holds what
// was produced before it.
type Generator interface {
	Generate(ctx context.Context, req Request, emit func(piece string) error) (Result, error)
}

// Model is one entry of a model list (OpenAI's GET /v1/models).
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelLister is a Generator that can list the models it serves.
type ModelLister interface {
	Models(ctx context.Context) ([]Model, error)
}

// Func adapts a function to a Generator.
type Func func(ctx context.Context, req Request, emit func(piece string) error) (Result, error)

// Generate calls f.
func (f Func) Generate(ctx context.Context, req Request, emit func(piece string) error) (Result, error) {
	return f(ctx, req, emit)
}
