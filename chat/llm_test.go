package chat

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/rag"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/searchtest"
	"github.com/kormed/kormed/serve"
	"github.com/kormed/kormed/testmodel"
)

// TestOwnEndpoint runs kormed's decoder behind kormed serve's
// OpenAI-compatible endpoint and talks to it with kormed's own OpenAI
// client: streamed replies equal the in-process ones, and a RAG answer
// goes through the whole chain (search → prompt → HTTP → decoder → SSE).
func TestOwnEndpoint(t *testing.T) {
	ctx := context.Background()
	// The tiny model with room for a RAG prompt (byte-level tokens: ~3 per
	// Hangul syllable): 4,096 positions instead of 256.
	dir := filepath.Join(t.TempDir(), "exaone")
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Std: 0.2}); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	raw, _ := os.ReadFile(cfgPath)
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["max_position_embeddings"] = 4096
	raw, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, raw, 0o644)
	g, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	gen := g.LLM("tiny-exaone")
	ix, err := embedded.New(embedded.Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, searchtest.Docs(), nil); err != nil {
		t.Fatal(err)
	}
	svc, err := search.NewService(ctx, ix, nil, search.ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	// Generation needs the client key (serve's access rules), which
	// kormed's OpenAI client sends as its API key.
	ts := httptest.NewServer(serve.New(svc, serve.Options{Generator: gen, GeneratorModel: "tiny-exaone", ClientKey: "client-key"}).Handler())
	defer ts.Close()
	client := llm.New(ts.URL+"/v1", "tiny-exaone")
	client.APIKey = "client-key"

	zero := 0.0
	req := llm.Request{Messages: []llm.Message{{Role: "system", Content: "약사처럼 답하세요."}, {Role: "user", Content: "열이 나요. 무슨 약을 먹을까요?"}},
		MaxTokens: 12, Temperature: &zero}
	direct, err := gen.Generate(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pieces []string
	remote, err := client.Generate(ctx, req, func(p string) error { pieces = append(pieces, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if remote.Text != direct.Text || strings.Join(pieces, "") != direct.Text {
		t.Errorf("over HTTP %q (pieces %q), in process %q", remote.Text, pieces, direct.Text)
	}
	if direct.Usage == nil || direct.Usage.CompletionTokens == 0 || direct.Usage.PromptTokens == 0 || direct.FinishReason == "" {
		t.Errorf("result %+v usage %+v", direct, direct.Usage)
	}
	if models, err := client.Models(ctx); err != nil || len(models) != 1 || models[0].ID != "tiny-exaone" {
		t.Errorf("models %+v %v", models, err)
	}
	// RAG through the endpoint: sources come from the index; the random
	// model's text is whatever it is, but the chain must complete.
	ans, err := rag.Ask(ctx, svc, client, "타이레놀정500밀리그램 두통에 먹어도 되나요?", rag.Options{MaxTokens: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Sources) == 0 || ans.Sources[0].ID != "p01" || ans.Text == "" {
		t.Errorf("answer %+v", ans)
	}
	// A cancelled request stops generation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := client.Generate(cctx, req, nil); err == nil {
		t.Error("cancelled request succeeded")
	}
}
