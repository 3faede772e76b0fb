package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() *Dataset {
	return &Dataset{
		Name: "sample",
		Corpus: []Doc{
			{ID: "d2", Title: "판콜에이내복액", Text: "해열·진통 <감기> & \"기침\"\n둘째 줄\t탭"},
			{ID: "d1", Title: "", Text: "Acetaminophen 300mg"},
			{ID: "d3", Title: "타이레놀", Text: strings.Repeat("가", 200000)}, // a 600 KB line
		},
		Queries: []Query{
			{ID: "q-b", Text: "열을 내리는 약 알려줘"},
			{ID: "q-a", Text: "디오스민 성분이 들어간 약은?"},
			{ID: "q-unjudged", Text: "not in this split"},
		},
		Qrels: Qrels{
			"q-a": {"d3": 1, "d2": 2},
			"q-b": {"d1": 1},
		},
	}
}

func TestBEIRRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sample")
	d := sample()
	if err := WriteBEIR(dir, d, "test"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "sample" {
		t.Errorf("Name = %q", got.Name)
	}
	if !reflect.DeepEqual(got.Corpus, d.Corpus) {
		t.Errorf("corpus differs after round trip")
	}
	// Only judged queries are kept, in file order.
	want := []Query{d.Queries[0], d.Queries[1]}
	if !reflect.DeepEqual(got.Queries, want) {
		t.Errorf("queries = %v, want %v", got.Queries, want)
	}
	if !reflect.DeepEqual(got.Qrels, d.Qrels) {
		t.Errorf("qrels = %v, want %v", got.Qrels, d.Qrels)
	}

	// Exact bytes: no HTML escaping, Korean kept as UTF-8, qrels in query
	// order then corpus order.
	q, _ := os.ReadFile(filepath.Join(dir, "qrels", "test.tsv"))
	wantQrels := "query-id\tcorpus-id\tscore\nq-b\td1\t1\nq-a\td2\t2\nq-a\td3\t1\n"
	if string(q) != wantQrels {
		t.Errorf("qrels file:\n%s\nwant:\n%s", q, wantQrels)
	}
	c, _ := os.ReadFile(filepath.Join(dir, "corpus.jsonl"))
	first := strings.SplitN(string(c), "\n", 2)[0]
	wantFirst := `{"_id":"d2","title":"판콜에이내복액","text":"해열·진통 <감기> & \"기침\"\n둘째 줄\t탭"}`
	if first != wantFirst {
		t.Errorf("first corpus line = %s\nwant %s", first, wantFirst)
	}

	// Writing again gives identical bytes and leaves no temp files.
	if err := WriteBEIR(dir, d, "test"); err != nil {
		t.Fatal(err)
	}
	c2, _ := os.ReadFile(filepath.Join(dir, "corpus.jsonl"))
	if string(c) != string(c2) {
		t.Error("second write differs")
	}
	for _, sub := range []string{dir, filepath.Join(dir, "qrels")} {
		ents, _ := os.ReadDir(sub)
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("temp file left: %s", e.Name())
			}
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadBEIRLenient(t *testing.T) {
	// BOM, CRLF, blank lines, numeric ids, extra fields, float scores.
	dir := writeFiles(t, map[string]string{
		"corpus.jsonl":   "\ufeff{\"_id\": 7, \"title\": \"t\", \"text\": \"x\", \"metadata\": {}}\r\n\r\n{\"_id\":\"a\",\"text\":\"y\"}\n",
		"queries.jsonl":  "{\"_id\":\"q1\",\"text\":\"질문\",\"metadata\":{\"type\":\"name\"}}\n",
		"qrels/dev.tsv":  "query-id\tcorpus-id\tscore\r\nq1\t7\t1.0\r\nq1\ta\t0\r\n",
		"qrels/test.tsv": "query-id\tcorpus-id\tscore\n",
	})
	d, err := ReadBEIR(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	want := Qrels{"q1": {"7": 1, "a": 0}}
	if !reflect.DeepEqual(d.Qrels, want) || len(d.Corpus) != 2 || d.Corpus[0].ID != "7" || len(d.Queries) != 1 {
		t.Errorf("got %+v", d)
	}
	d, err = ReadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Queries) != 0 {
		t.Errorf("queries without judgements kept: %v", d.Queries)
	}
}

func TestReadBEIRErrors(t *testing.T) {
	okCorpus := "{\"_id\":\"d1\",\"text\":\"a\"}\n{\"_id\":\"d2\",\"text\":\"b\"}\n"
	okQueries := "{\"_id\":\"q1\",\"text\":\"a\"}\n"
	okQrels := "query-id\tcorpus-id\tscore\nq1\td1\t1\n"
	cases := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"bad json", map[string]string{"corpus.jsonl": okCorpus + "{oops\n", "queries.jsonl": okQueries, "qrels/test.tsv": okQrels},
			[]string{"corpus.jsonl:3", "invalid JSON"}},
		{"wrong type", map[string]string{"corpus.jsonl": "{\"_id\":\"d1\",\"text\":5}\n", "queries.jsonl": okQueries, "qrels/test.tsv": okQrels},
			[]string{"corpus.jsonl:1", "field text"}},
		{"bad id type", map[string]string{"corpus.jsonl": "{\"_id\":[1],\"text\":\"a\"}\n", "queries.jsonl": okQueries, "qrels/test.tsv": okQrels},
			[]string{"corpus.jsonl:1", "field _id"}},
		{"duplicate and empty doc ids", map[string]string{
			"corpus.jsonl":  okCorpus + "{\"_id\":\"d1\",\"text\":\"c\"}\n{\"_id\":\"\",\"text\":\"c\"}\n{\"_id\":\"d2\"}\n",
			"queries.jsonl": okQueries, "qrels/test.tsv": okQrels},
			[]string{"2× duplicate document _id", `corpus.jsonl:3 "d1" (first at line 1)`, "1× empty _id", "corpus.jsonl:4"}},
		{"query missing text", map[string]string{"corpus.jsonl": okCorpus, "queries.jsonl": "{\"_id\":\"q1\"}\n", "qrels/test.tsv": okQrels},
			[]string{"queries.jsonl:1", "missing field text"}},
		{"unknown ids in qrels", map[string]string{"corpus.jsonl": okCorpus, "queries.jsonl": okQueries,
			"qrels/test.tsv": okQrels + "q9\td1\t1\nq1\tzz\t1\nq1\tyy\t1\nq1\td1\t1\n"},
			[]string{"1× qrels query-id not in queries.jsonl", `test.tsv:3 "q9"`, "2× qrels corpus-id not in corpus.jsonl", `test.tsv:4 "zz"`, "1× duplicate judgement", "first at line 2"}},
		{"bad header", map[string]string{"corpus.jsonl": okCorpus, "queries.jsonl": okQueries, "qrels/test.tsv": "q1\td1\t1\n"},
			[]string{"test.tsv:1", "want header"}},
		{"bad score", map[string]string{"corpus.jsonl": okCorpus, "queries.jsonl": okQueries, "qrels/test.tsv": okQrels + "q1\td2\thigh\n"},
			[]string{"test.tsv:3", "field score"}},
		{"field count", map[string]string{"corpus.jsonl": okCorpus, "queries.jsonl": okQueries, "qrels/test.tsv": okQrels + "q1 d2 1\n"},
			[]string{"test.tsv:3", "3 tab-separated"}},
		{"missing split", map[string]string{"corpus.jsonl": okCorpus, "queries.jsonl": okQueries},
			[]string{"test.tsv", "no such file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadBEIR(writeFiles(t, c.files), "test")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestWriteBEIRRejects(t *testing.T) {
	d := sample()
	d.Qrels["q-x"] = map[string]int{"d1": 1}
	d.Qrels["q-a"]["nope"] = 1
	d.Corpus = append(d.Corpus, Doc{ID: "d1"})
	dir := t.TempDir()
	err := WriteBEIR(dir, d, "test")
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"duplicate document id", "Corpus[3]", `"q-x"`, `"q-a"→"nope"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "corpus.jsonl")); !os.IsNotExist(err) {
		t.Error("corpus written despite invalid dataset")
	}
	if err := WriteBEIR(dir, sample(), "../x"); err == nil {
		t.Error("split with a slash accepted")
	}
}

func TestWriteQrelsAddsSplit(t *testing.T) {
	dir := t.TempDir()
	d := sample()
	if err := WriteBEIR(dir, d, "test"); err != nil {
		t.Fatal(err)
	}
	dev := *d
	dev.Qrels = Qrels{"q-unjudged": {"d1": 3}}
	if err := WriteQrels(dir, &dev, "dev"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBEIR(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Queries) != 1 || got.Queries[0].ID != "q-unjudged" || got.Qrels["q-unjudged"]["d1"] != 3 {
		t.Errorf("dev split: %+v %v", got.Queries, got.Qrels)
	}
	if got, err := ReadBEIR(dir, "test"); err != nil || !reflect.DeepEqual(got.Qrels, d.Qrels) {
		t.Errorf("test split changed: %v %v", got, err)
	}
	dev.Qrels = Qrels{"q-none": {"d1": 1}}
	if err := WriteQrels(dir, &dev, "bad"); err == nil || !strings.Contains(err.Error(), `"q-none"`) {
		t.Errorf("unknown query accepted: %v", err)
	}
}

func TestReadCorpus(t *testing.T) {
	p := filepath.Join(t.TempDir(), "corpus.jsonl")
	os.WriteFile(p, []byte("\ufeff{\"_id\": \"a\", \"title\": \"판콜에이\", \"text\": \"감기약\"}\r\n\n{\"_id\": 7, \"text\": \"두통\"}\n{\"text\": \"x\"}"), 0o644)
	type rec struct {
		Line int
		Doc  Doc
	}
	var got []rec
	if err := ReadCorpus(p, func(line int, d Doc) error { got = append(got, rec{line, d}); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []rec{{1, Doc{ID: "a", Title: "판콜에이", Text: "감기약"}}, {3, Doc{ID: "7", Text: "두통"}}, {4, Doc{Text: "x"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	for body, msg := range map[string]string{
		"{\"_id\": [1]}":                "corpus.jsonl:1: field _id: want a string or number",
		"{\"_id\": \"a\"}\n{oops\n":     "corpus.jsonl:2: invalid JSON",
		"{\"_id\": \"a\", \"text\": 3}": "corpus.jsonl:1: field text: want string",
	} {
		os.WriteFile(p, []byte(body), 0o644)
		err := ReadCorpus(p, func(int, Doc) error { return nil })
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: err = %v, want %q", body, err, msg)
		}
	}
}

// TestReadCorpusWith decodes each line's extra fields beside its
// document, numbers keeping their text.
func TestReadCorpusWith(t *testing.T) {
	p := filepath.Join(t.TempDir(), CorpusFile)
	os.WriteFile(p, []byte(`{"_id":7,"text":"a","meta":{"n":200806432}}`+"\n"+`{"_id":"x","meta":3}`+"\n"), 0o644)
	type extra struct {
		Meta map[string]any `json:"meta"`
	}
	var got []string
	err := ReadCorpusWith(p, func(line int, d Doc, x *extra) error {
		got = append(got, fmt.Sprintf("%d %s %s %v", line, d.ID, d.Text, x.Meta["n"]))
		return nil
	})
	if len(got) != 1 || got[0] != "1 7 a 200806432" {
		t.Errorf("read %q", got)
	}
	if err == nil || !strings.Contains(err.Error(), p+":2: field meta: want map[string]interface {}, got JSON number") {
		t.Errorf("err %v", err)
	}
}
