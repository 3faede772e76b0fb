package dataset

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type pqCorpus struct {
	ID    string `parquet:"_id"`
	Title string `parquet:"title"`
	Text  string `parquet:"text"`
}

type pqQuery struct {
	ID   string `parquet:"_id"`
	Text string `parquet:"text"`
}

type pqQrel struct {
	QID   string `parquet:"query-id"`
	DID   string `parquet:"corpus-id"`
	Score int64  `parquet:"score"`
}

type pqTriplet struct {
	Query     string   `parquet:"Q"`
	Positive  string   `parquet:"positive"`
	Negatives []string `parquet:"negatives,list"`
}

func writeParquet[T any](t testing.TB, path string, rows []T, perGroup int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows, parquet.MaxRowsPerRowGroup(perGroup)); err != nil {
		t.Fatal(err)
	}
	if path != "" {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func readAll(t *testing.T, path string) (*Table, []map[string]any) {
	t.Helper()
	tb, err := OpenTable(path)
	if err != nil {
		t.Fatalf("OpenTable(%s): %v", path, err)
	}
	defer tb.Close()
	var rows []map[string]any
	if err := tb.Each(func(r map[string]any) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return tb, rows
}

func TestParquetTableRowGroups(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "corpus.parquet")
	var docs []pqCorpus
	for i := 0; i < 7; i++ {
		docs = append(docs, pqCorpus{ID: string(rune('a' + i)), Title: "t", Text: strings.Repeat("고혈압 ", i)})
	}
	writeParquet(t, p, docs, 2) // 4 row groups
	f, _ := os.Open(p)
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pf.RowGroups()); n != 4 {
		t.Fatalf("%d row groups, want 4", n)
	}
	f.Close()
	tb, rows := readAll(t, p)
	if !reflect.DeepEqual(tb.Columns, []string{"_id", "title", "text"}) {
		t.Errorf("columns %v", tb.Columns)
	}
	if len(rows) != 7 || rows[6]["_id"] != "g" || rows[3]["text"] != docs[3].Text {
		t.Fatalf("rows %v", rows)
	}
	if tb.Row != 7 {
		t.Errorf("Row %d, want 7", tb.Row)
	}
}

func TestParquetListColumnAndBind(t *testing.T) {
	p := filepath.Join(t.TempDir(), "train-00000-of-00001.parquet")
	writeParquet(t, p, []pqTriplet{{"q1", "p1", []string{"n1", "n2"}}}, 10)
	tb, err := OpenTable(p)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	// Defaults find positive and negatives; query needs the mapping.
	_, err = tb.Bind("hf://o/n", nil, Want{Role: RoleQuery, Required: true})
	if err == nil || !strings.Contains(err.Error(), "hf://o/n") || !strings.Contains(err.Error(), p) ||
		!strings.Contains(err.Error(), "Q, positive, negatives") {
		t.Fatalf("missing column error %v: want the dataset, the file and its columns", err)
	}
	cols, err := tb.Bind("hf://o/n", Columns{RoleQuery: "q"}, Want{Role: RoleQuery, Required: true},
		Want{Role: RoleDocument, Required: true}, Want{Role: RoleNegative}, Want{Role: RoleLabel})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{RoleQuery: "Q", RoleDocument: "positive", RoleNegative: "negatives"}
	if !reflect.DeepEqual(cols, want) {
		t.Fatalf("bind %v, want %v", cols, want)
	}
	_, err = tb.Bind("hf://o/n", Columns{RoleQuery: "nope"}, Want{Role: RoleQuery, Required: true})
	if err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Fatalf("explicit missing column: %v", err)
	}
	row, err := tb.Next()
	if err != nil {
		t.Fatal(err)
	}
	negs, err := Texts(row["negatives"])
	if err != nil || !reflect.DeepEqual(negs, []string{"n1", "n2"}) {
		t.Fatalf("negatives %v %v (%T)", negs, err, row["negatives"])
	}
}

func TestTextTables(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string, gz bool) string {
		p := filepath.Join(dir, name)
		b := []byte(s)
		if gz {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(b)
			w.Close()
			b = buf.Bytes()
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path string
		ids  []string
	}{
		{write("a.jsonl", "{\"_id\": 1, \"text\": \"x\"}\n\n{\"_id\": \"2\", \"text\": \"y\"}\n", false), []string{"1", "2"}},
		{write("a.jsonl.gz", "\ufeff{\"_id\": \"1\", \"text\": \"x\"}\n{\"_id\": \"2\", \"text\": \"y\"}", true), []string{"1", "2"}},
		{write("a.json", ` [{"_id": "1", "text": "x"}, {"_id": "2", "text": "y"}]`, false), []string{"1", "2"}},
		{write("b.json", `{"data": [{"_id": "1", "text": "x"}]}`, false), []string{"1"}},
		{write("c.json", "{\"_id\": \"1\", \"text\": \"x\"}\n{\"_id\": \"2\", \"text\": \"y\"}\n", false), []string{"1", "2"}},
		{write("a.csv", "\ufeff_id,text\n1,\"x, with comma\"\n\n2,y\n", false), []string{"1", "2"}},
		{write("a.tsv.gz", "_id\ttext\n1\tsays \"hi\n2\ty\n", true), []string{"1", "2"}},
	}
	for _, c := range cases {
		tb, rows := readAll(t, c.path)
		var ids []string
		for _, r := range rows {
			s, err := Text(r["_id"])
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s)
		}
		if !reflect.DeepEqual(ids, c.ids) {
			t.Errorf("%s: ids %v, want %v (columns %v)", c.path, ids, c.ids, tb.Columns)
		}
		if !reflect.DeepEqual(tb.Columns, []string{"_id", "text"}) {
			t.Errorf("%s: columns %v", c.path, tb.Columns)
		}
	}
	// A malformed line names file and line.
	p := write("bad.jsonl", "{\"_id\": \"1\"}\n{oops\n", false)
	tb, err := OpenTable(p)
	if err != nil {
		t.Fatal(err)
	}
	err = tb.Each(func(map[string]any) error { return nil })
	if err == nil || !strings.Contains(err.Error(), p+":2") {
		t.Fatalf("bad line: %v", err)
	}
	if _, err := OpenTable(write("x.txt", "hi", false)); err == nil {
		t.Fatal("unknown extension accepted")
	}
	if _, err := OpenTable(write("notgz.csv.gz", "a,b\n", false)); err == nil || !strings.Contains(err.Error(), "notgz.csv.gz") {
		t.Fatalf("bad gzip: %v", err)
	}
}

func TestCorruptParquetNamesFile(t *testing.T) {
	dir := t.TempDir()
	good := writeParquet(t, "", []pqCorpus{{"1", "t", strings.Repeat("x", 500)}, {"2", "t", "y"}}, 10)
	for name, b := range map[string][]byte{
		"truncated.parquet": good[:len(good)/2],
		"empty.parquet":     nil,
		"junk.parquet":      []byte("PAR1 this is not parquet PAR1"),
		"flipped.parquet":   flip(good, 40),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		err := readTableErr(p)
		if name == "flipped.parquet" && err == nil {
			continue // a flipped byte inside a value may still decode
		}
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err %v, want one naming the file", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

func readTableErr(p string) error {
	tb, err := OpenTable(p)
	if err != nil {
		return err
	}
	defer tb.Close()
	for {
		_, err := tb.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestReadBEIRTables(t *testing.T) {
	dir := t.TempDir()
	c1, c2 := filepath.Join(dir, "corpus-0.parquet"), filepath.Join(dir, "corpus-1.parquet")
	writeParquet(t, c1, []pqCorpus{{"d1", "T1", "고혈압 약"}, {"d2", "", "당뇨"}}, 1)
	writeParquet(t, c2, []pqCorpus{{"d3", "", "감기"}}, 1)
	q := filepath.Join(dir, "queries.jsonl")
	os.WriteFile(q, []byte("{\"_id\":\"q1\",\"text\":\"혈압\"}\n{\"_id\":\"q2\",\"text\":\"감기\"}\n{\"_id\":\"q3\",\"text\":\"none\"}\n"), 0o644)
	qr := filepath.Join(dir, "test.parquet")
	writeParquet(t, qr, []pqQrel{{"q1", "d1", 1}, {"q2", "d3", 2}}, 10)
	d, err := ReadBEIRTables(BEIRTables{Name: "hf://o/n", Corpus: []string{c1, c2}, Queries: []string{q}, Qrels: []string{qr}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Corpus) != 3 || d.Corpus[0].Title != "T1" || len(d.Queries) != 2 || d.Qrels["q2"]["d3"] != 2 {
		t.Fatalf("dataset %+v", d)
	}
	bad := filepath.Join(dir, "bad.parquet")
	writeParquet(t, bad, []pqQrel{{"q1", "dX", 1}, {"q1", "d1", 1}, {"q1", "d1", 1}}, 10)
	_, err = ReadBEIRTables(BEIRTables{Name: "hf://o/n", Corpus: []string{c1}, Queries: []string{q}, Qrels: []string{bad}})
	if err == nil || !strings.Contains(err.Error(), "corpus-id not in the corpus") || !strings.Contains(err.Error(), "duplicate judgement") {
		t.Fatalf("bad qrels: %v", err)
	}
	_, err = ReadBEIRTables(BEIRTables{Name: "hf://o/n", Corpus: []string{q}, Queries: []string{q}, Qrels: []string{qr}, Columns: Columns{RoleDocument: "body"}})
	if err == nil || !strings.Contains(err.Error(), `no column "body"`) || !strings.Contains(err.Error(), "_id, text") {
		t.Fatalf("mapped missing column: %v", err)
	}
}

func TestParseColumns(t *testing.T) {
	c, err := ParseColumns("query=QUESTION, document=CONTEXTS")
	if err != nil || c[RoleQuery] != "QUESTION" || c[RoleDocument] != "CONTEXTS" {
		t.Fatalf("%v %v", c, err)
	}
	for _, bad := range []string{"query", "query=", "foo=bar"} {
		if _, err := ParseColumns(bad); err == nil {
			t.Errorf("ParseColumns(%q) accepted", bad)
		}
	}
}

// FuzzOpenTable feeds arbitrary bytes to the reader of each format: it
// must return rows or an error, never panic or hang. `go test` runs the
// seeds only; `go test -fuzz FuzzOpenTable ./dataset/` explores.
func FuzzOpenTable(f *testing.F) {
	good := writeParquet(f, "", []pqTriplet{{"q", "p", []string{"n"}}, {"q2", "p2", nil}}, 1)
	f.Add("parquet", good)
	f.Add("parquet", good[:len(good)-10])
	f.Add("parquet", good[len(good)/3:])
	f.Add("parquet", []byte("PAR1"))
	f.Add("jsonl", []byte("{\"a\":1}\n{\"a\":[1,2]}\n"))
	f.Add("json", []byte(`[{"a":1},{"a":"x"}]`))
	f.Add("json", []byte(`{"data":[{"a":1}]}`))
	f.Add("csv", []byte("a,b\n1,\"2\n"))
	f.Add("tsv", []byte("a\tb\n1\t2\t3\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		switch format {
		case "parquet", "jsonl", "json", "csv", "tsv":
		default:
			return
		}
		p := filepath.Join(dir, "fuzz."+format)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := readTableErr(p)
		if err != nil && !strings.Contains(err.Error(), p) {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

type pqPubMedQA struct {
	Question string   `parquet:"QUESTION"`
	Contexts []string `parquet:"CONTEXTS,list"`
	Answer   string   `parquet:"LONG_ANSWER"`
}

func TestReadExampleTables(t *testing.T) {
	dir := t.TempDir()
	// PubMedQA-Ko's columns: QUESTION, CONTEXTS (a list), LONG_ANSWER.
	p := filepath.Join(dir, "test-00000-of-00001.parquet")
	writeParquet(t, p, []pqPubMedQA{{"당뇨 치료?", []string{"맥락 1", "맥락 2"}, "네"}, {"고혈압?", []string{"c"}, "아니오"}}, 1)
	_, err := ReadExampleTables("hf://ChuGyouk/PubMedQA-test-Ko", []string{p}, nil)
	if err == nil || !strings.Contains(err.Error(), "hf://ChuGyouk/PubMedQA-test-Ko") || !strings.Contains(err.Error(), "QUESTION, CONTEXTS, LONG_ANSWER") {
		t.Fatalf("defaults: %v", err)
	}
	ex, err := ReadExampleTables("hf://ChuGyouk/PubMedQA-test-Ko", []string{p}, Columns{RoleDocument: "CONTEXTS"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Format != FormatPairs || ex.HasLabels || len(ex.Rows) != 2 || ex.Rows[0].Texts[1] != "맥락 1\n맥락 2" || ex.Rows[1].Line != 2 {
		t.Fatalf("examples %+v", ex)
	}
	// Triplets with a list of hard negatives; all rows need as many.
	tp := filepath.Join(dir, "train.parquet")
	writeParquet(t, tp, []pqTriplet{{"q", "p", []string{"n1", "n2"}}, {"q2", "p2", []string{"n3", "n4"}}}, 1)
	ex, err = ReadExampleTables("hf://o/n", []string{tp}, Columns{RoleQuery: "Q"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Format != FormatTriplets || !reflect.DeepEqual(ex.Columns, []string{"query", "document", "hard_negative_1", "hard_negative_2"}) || ex.Rows[1].Texts[3] != "n4" {
		t.Fatalf("triplets %+v", ex)
	}
	bad := filepath.Join(dir, "bad.parquet")
	writeParquet(t, bad, []pqTriplet{{"q", "p", []string{"n1", "n2"}}, {"q2", "p2", []string{"n3"}}}, 1)
	if _, err := ReadExampleTables("hf://o/n", []string{bad}, Columns{RoleQuery: "Q"}); err == nil || !strings.Contains(err.Error(), bad+" row 2") {
		t.Fatalf("uneven negatives: %v", err)
	}
	// Labelled pairs from CSV.
	c := filepath.Join(dir, "pairs.csv")
	os.WriteFile(c, []byte("question,context,label\n고혈압,혈압약,1\n고혈압,감기약,0\n"), 0o644)
	ex, err = ReadExampleTables("hf://o/n", []string{c}, nil)
	if err != nil || !ex.HasLabels || ex.Rows[1].Label != 0 || ex.Rows[0].Label != 1 {
		t.Fatalf("labelled pairs %+v %v", ex, err)
	}
}
