package chat

import (
	"context"
	"errors"
	"time"

	"github.com/kormed/kormed/llm"
)

// LLM serves g as an llm.Generator named name — what kormed serve's
// OpenAI-compatible /v1/chat/completions and the RAG answers (/v1/ask,
// kormed ask) talk to — so kormed's own decoder answers like an Ollama or
// vLLM server would. Messages go through the model's chat template with
// the generation prompt; a request's temperature and top_p override
// generation_config.json's (temperature 0: greedy), max_tokens caps the
// reply and stop strings end it.
func (g *Generator) LLM(name string) llm.Generator {
	return engine{g: g, name: name, created: time.Now().Unix()}
}

type engine struct {
	g       *Generator
	name    string
	created int64
}

func (e engine) Generate(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	if e.g.Template == nil {
		return llm.Result{}, errors.New("the model has no chat template (tokenizer_config.json chat_template)")
	}
	msgs := make([]Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = Message{Role: m.Role, Content: m.Content}
	}
	prompt, err := e.g.Template.Render(msgs, true)
	if err != nil {
		return llm.Result{}, err
	}
	o := Options{MaxNewTokens: req.MaxTokens, Sampling: e.g.Defaults.Sampling(), Stop: req.Stop, Raw: true}
	if req.Temperature != nil {
		o.Sampling.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		o.Sampling.TopP = *req.TopP
	}
	r, err := e.g.Generate(ctx, prompt, o, emit)
	res := llm.Result{Text: r.Text, Model: e.name, Usage: &llm.Usage{
		PromptTokens: r.PromptTokens, CompletionTokens: len(r.IDs), TotalTokens: r.PromptTokens + len(r.IDs)}}
	switch r.StopReason {
	case "eos", "stop":
		res.FinishReason = "stop"
	case "length":
		res.FinishReason = "length"
	}
	return res, err
}

// Models lists the one model served.
func (e engine) Models(context.Context) ([]llm.Model, error) {
	return []llm.Model{{ID: e.name, Object: "model", Created: e.created, OwnedBy: "kormed"}}, nil
}
