package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReadJSONL reads kormed's corpus lines: metadata numbers keep their
// text, lists and booleans become fields, "id" stands in for "_id".
func TestReadJSONL(t *testing.T) {
	p := writeFile(t, "c.jsonl", "\ufeff"+`{"_id":200806432,"title":"타이레놀정","text":"해열","metadata":{"seq":200806432,"kind":["a","b"],"otc":true,"none":null},"fields":{"x":["1"]}}`+"\n\n"+
		`{"id":"alt","text":"t","dur":[{"type":"임부금기"}]}`+"\r\n")
	var docs []search.Doc
	var wheres []string
	if err := ReadJSONL(p, func(where string, d search.Doc) error {
		docs, wheres = append(docs, d), append(wheres, where)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || wheres[0] != p+":1" || wheres[1] != p+":3" {
		t.Fatalf("docs %+v at %v", docs, wheres)
	}
	d := docs[0]
	if d.ID != "200806432" || d.Title != "타이레놀정" || d.Text != "해열" ||
		strings.Join(d.Fields["seq"], ",") != "200806432" || strings.Join(d.Fields["kind"], ",") != "a,b" ||
		strings.Join(d.Fields["otc"], ",") != "true" || len(d.Fields["none"]) != 0 || strings.Join(d.Fields["x"], ",") != "1" {
		t.Errorf("doc 1: %+v", d)
	}
	if d := docs[1]; d.ID != "alt" || len(d.DUR) != 1 || d.DUR[0].Type != "임부금기" {
		t.Errorf("doc 2: %+v", d)
	}
}

// TestReadJSONLErrors: a malformed line is an error naming the file, the
// line and what is wrong.
func TestReadJSONLErrors(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{`{"_id":"a"}` + "\n" + `{"_id":"b"`, ":2: invalid JSON"},
		{`{"_id":true}`, ":1: field _id: want a string or number, got true"},
		{`{"id":true}`, ":1: field id: want a string or a number, got true"},
		{`{"_id":"a","metadata":{"m":{"x":1}}}`, ":1: metadata.m: want a string, number, boolean or list of them"},
		{`{"_id":"a","fields":{"f":"x"}}`, ":1: field fields: want []string, got JSON string"},
		{`{"_id":"a","text":3}`, ":1: field text: want string, got JSON number"},
	} {
		p := writeFile(t, "c.jsonl", c.content)
		err := ReadJSONL(p, func(string, search.Doc) error { return nil })
		if err == nil || !strings.Contains(err.Error(), p+c.want) {
			t.Errorf("%s: err %v, want %q", c.content, err, p+c.want)
		}
	}
}

// fakeEncoder embeds a text as (its length, 1).
type fakeEncoder struct{ calls int }

func (e *fakeEncoder) EncodePassages(_ context.Context, texts []string) ([][]float32, error) {
	e.calls++
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = []float32{float32(len(s)), 1}
	}
	return out, nil
}

// TestBuild builds an index with an encoder and DUR records, reports it,
// and refuses an empty or repeated id naming where it was read.
func TestBuild(t *testing.T) {
	corpus := writeFile(t, "c.jsonl", `{"_id":"198500306","title":"제일와파린정","text":"와파린나트륨"}
{"_id":"100000001","title":"타이레놀정","text":"아세트아미노펜"}
{"_id":"100000002","title":"베아제정","text":"소화제"}
`)
	src, err := Open(corpus, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src.Count != 3 {
		t.Errorf("count %d", src.Count)
	}
	recs, err := dur.ReadFile("../testdata/dur/dur_sample.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ix")
	opts := embedded.Options{Analyzer: "bigram", Dense: embedded.DenseAuto, ANNThreshold: embedded.DefaultANNThreshold, Model: search.ModelInfo{Name: "fake", Dim: 2}}
	enc := &fakeEncoder{}
	var log strings.Builder
	ix, rep, err := Build(context.Background(), src, dir, enc, Options{Index: opts, Fingerprint: Fingerprint(src, "", ""), DUR: recs, Batch: 2, Log: &log, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if enc.calls != 2 || rep.Docs != 3 || rep.New != 3 || rep.Model == nil || rep.Model.Name != "fake" || rep.Dense != embedded.DenseAuto || rep.Dir != dir || rep.HasRecall {
		t.Errorf("%d encoder calls, report %+v", enc.calls, rep)
	}
	if got := CountDUR(ix).String(); got != "DUR: 1 products flagged (임부금기 1)" {
		t.Errorf("%q", got)
	}
	var b strings.Builder
	rep.Write(&b)
	if !strings.HasPrefix(b.String(), "indexed 3 documents (3 new) with bigram + fake (dim 2, auto) in ") || !strings.HasSuffix(b.String(), "; generation "+rep.Generation+" in "+dir+"\n") {
		t.Errorf("report %q", b.String())
	}
	if !embedded.UpToDate(dir, opts, Fingerprint(src, "", "")) {
		t.Error("not up to date with its own fingerprint")
	}

	bad := writeFile(t, "bad.jsonl", `{"_id":"a"}
{"_id":"b"}
{"_id":"a"}
`)
	src, err = Open(bad, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Build(context.Background(), src, filepath.Join(t.TempDir(), "ix"), nil, Options{Index: embedded.Options{Analyzer: "bigram"}, Batch: 10})
	if err == nil || err.Error() != bad+`:3: document id "a" repeated (first at `+bad+`:1)` {
		t.Errorf("err %v", err)
	}
}

// TestFingerprint changes with the DUR file and the model's files.
func TestFingerprint(t *testing.T) {
	src := &Source{Fingerprint: "jsonl:x"}
	model := t.TempDir()
	a := Fingerprint(src, "", model)
	if a != Fingerprint(src, "", "") || !strings.HasPrefix(a, "jsonl:x||") {
		t.Errorf("%q", a)
	}
	os.WriteFile(filepath.Join(model, "model.safetensors"), []byte("w"), 0o644)
	if b := Fingerprint(src, "", model); b == a || !strings.Contains(b, "|model.safetensors:1@") {
		t.Errorf("%q", b)
	}
	durFile := writeFile(t, "d.json", "[]")
	if c := Fingerprint(src, durFile, ""); !strings.HasPrefix(c, "jsonl:x|"+durFile+"|2@") {
		t.Errorf("%q", c)
	}
}

// TestDrugCorpus maps the shared MFDS table to documents with fields.
func TestDrugCorpus(t *testing.T) {
	data := "../../shared/data/drugs"
	if _, err := os.Stat(data); err != nil {
		t.Skip("no shared drug data")
	}
	src, err := Open(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src.Count != 2268 || !strings.HasPrefix(src.Fingerprint, "drug:") {
		t.Errorf("count %d, fingerprint %q", src.Count, src.Fingerprint)
	}
	var found search.Doc
	var where string
	if err := src.Each(func(w string, d search.Doc) error {
		if d.ID == "196800036" {
			found, where = d, w
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if found.Title != "판콜에이내복액" || strings.Join(found.Fields["class"], "") != "일반" || len(found.Fields["ingredient"]) == 0 ||
		len(found.Fields["type_code"]) != 1 || !strings.Contains(where, ".csv:") {
		t.Errorf("판콜에이내복액 at %s: %+v", where, found)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "other.csv"), nil, nil); err == nil {
		t.Error("opened a missing CSV")
	}
}
