package train

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStageDataFromHub reads a stage's data from hf:// (a Hugging Face
// cache copied to an offline machine), with a split and a column mapping
// from the recipe.
func TestStageDataFromHub(t *testing.T) {
	const commit = "3333333333333333333333333333333333333333"
	cache := t.TempDir()
	snap := filepath.Join(cache, "datasets--kormed-test--ko-triplets", "snapshots", commit)
	os.MkdirAll(filepath.Join(snap, "data"), 0o755)
	os.WriteFile(filepath.Join(snap, "data", "train.jsonl"), []byte(
		`{"Q":"고혈압 약","document":"암로디핀은 혈압약입니다.","hard_negative":"타이레놀은 진통제입니다."}`+"\n"+
			`{"Q":"기침 약","document":"덱스트로메토르판은 진해제입니다.","hard_negative":"암로디핀은 혈압약입니다."}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(snap, "data", "test.jsonl"), []byte(`{"Q":"x","document":"y","hard_negative":"z"}`+"\n"), 0o644)
	os.MkdirAll(filepath.Join(cache, "datasets--kormed-test--ko-triplets", "refs"), 0o755)
	os.WriteFile(filepath.Join(cache, "datasets--kormed-test--ko-triplets", "refs", "main"), []byte(commit), 0o644)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")

	recipe := `name = "hub"
model = "unused"
[[stage]]
name = "triplets"
data = "hf://kormed-test/ko-triplets"
split = "train"
columns = {query = "Q"}
loss = "mnrl"
batch_size = 2
`
	p, err := ParsePipeline(filepath.Join(t.TempDir(), "hub.toml"), []byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Stages[0]
	if s.Data != "hf://kormed-test/ko-triplets" || s.Columns["query"] != "Q" {
		t.Fatalf("stage %+v", s)
	}
	loss, _ := NewLoss(s.Loss, s.LossParams)
	var log bytes.Buffer
	d, err := loadStageData(&s, loss, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.rows) != 2 || d.ex.Rows[1].Texts[2] != "암로디핀은 혈압약입니다." || !strings.Contains(log.String(), "data/train.jsonl") {
		t.Fatalf("rows %+v\n%s", d.ex.Rows, log.String())
	}
	s.Columns = nil
	if _, err := loadStageData(&s, loss, &log); err == nil || !strings.Contains(err.Error(), "Q, document, hard_negative") {
		t.Fatalf("without the mapping: %v", err)
	}
}
