package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadExamplesPairs(t *testing.T) {
	p := writeTemp(t, "pairs.csv", "\ufeffid,Label, Context ,QUERY\r\n"+
		"1,1.0,\"강심제는 심장의 수축력을 높인다.\",강심제\r\n"+
		"\r\n"+
		"   \r\n"+
		"2,0, 이뇨제는 소변을 늘린다. ,강심제\r\n"+
		"3,4.5,\"여러 줄\n설명\",\"진해제, 기침\"\r\n"+
		"4,-0.25,x,y\r\n")
	ex, err := ReadExamples(p, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Examples{Path: p, Format: FormatPairs, Columns: []string{"query", "context"}, HasLabels: true, Rows: []Example{
		{Texts: []string{"강심제", "강심제는 심장의 수축력을 높인다."}, Label: 1, Line: 2},
		{Texts: []string{"강심제", "이뇨제는 소변을 늘린다."}, Label: 0, Line: 5},
		{Texts: []string{"진해제, 기침", "여러 줄\n설명"}, Label: 4.5, Line: 6},
		{Texts: []string{"y", "x"}, Label: -0.25, Line: 8},
	}}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("got  %+v\nwant %+v", ex, want)
	}
	if s := ex.String(); s != "pairs.csv (pairs): 4 rows [query context], labels -0.25–4.5 (mean 1.31)" {
		t.Errorf("String() = %q", s)
	}
}

func TestReadExamplesPairForms(t *testing.T) {
	for _, c := range []struct {
		name, content string
		cols          []string
		labels        bool
		row0          Example
	}{
		{"dur", "dur_type,description,label\n병용금기,함께 쓰면 안 되는 약물,1.0\n", []string{"dur_type", "description"}, true,
			Example{Texts: []string{"병용금기", "함께 쓰면 안 되는 약물"}, Label: 1, Line: 2}},
		{"sts", "sentence1,sentence2,score\n고혈압,Hypertension,5\n", []string{"sentence1", "sentence2"}, true,
			Example{Texts: []string{"고혈압", "Hypertension"}, Label: 5, Line: 2}},
		{"anchor pairs", "anchor,positive\n고혈압,Hypertension\n", []string{"anchor", "positive"}, false,
			Example{Texts: []string{"고혈압", "Hypertension"}, Line: 2}},
		{"anchor triplets", "negative,positive,anchor\n당뇨병,Hypertension,고혈압\n", []string{"anchor", "positive", "negative"}, false,
			Example{Texts: []string{"고혈압", "Hypertension", "당뇨병"}, Line: 2}},
		{"query without label", "query,context\n강심제란?,강심제는 …\n", []string{"query", "context"}, false,
			Example{Texts: []string{"강심제란?", "강심제는 …"}, Line: 2}},
		{"query wins", "anchor,positive,query,context,score\na,b,q,c,0.5\n", []string{"query", "context"}, true,
			Example{Texts: []string{"q", "c"}, Label: 0.5, Line: 2}},
	} {
		ex, err := ReadExamples(writeTemp(t, "p.csv", c.content), FormatPairs)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(ex.Columns, c.cols) || ex.HasLabels != c.labels || len(ex.Rows) != 1 || !reflect.DeepEqual(ex.Rows[0], c.row0) {
			t.Errorf("%s: got %+v", c.name, ex)
		}
	}
}

func TestReadExamplesPairErrors(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"empty", "", "p.csv: empty file"},
		{"header only", "query,context,label\n", "p.csv: no rows after the header"},
		{"header", "a,b,label\nx,y,1\n", "p.csv:1: header \"a,b,label\": want columns"},
		{"label and negative", "anchor,positive,negative,label\na,b,c,1\n", "p.csv:1: header has both label and negative"},
		{"NaN", "query,context,label\nx,y,1\nx,z,NaN\n", "p.csv:3: field label: \"NaN\" is not a finite number"},
		{"Inf", "sentence1,sentence2,score\nx,y,-Inf\n", "p.csv:2: field score: \"-Inf\" is not a finite number"},
		{"float32 overflow", "query,context,label\nx,y,1e39\n", "p.csv:2: field label: \"1e39\" is not a finite number"},
		{"empty label", "query,context,label\nx,y, \n", "p.csv:2: field label: \"\" is not a finite number"},
		{"word label", "query,context,label\nx,y,yes\n", "p.csv:2: field label: \"yes\""},
		{"empty query", "query,context,label\nx,y,1\n  ,y,1\n", "p.csv:3: field query is empty"},
		{"NULL context", "dur_type,description,label\nx,NULL,1\n", "p.csv:2: field description is empty"},
		{"empty negative", "anchor,positive,negative\na,b,\n", "p.csv:2: field negative is empty"},
		{"negative = positive", "anchor,positive,hard_negative\na,b, b\n", "p.csv:2: field hard_negative equals field positive"},
		{"short row", "query,context,label\nx,y\n", "p.csv:2: 2 fields, want at least 3"},
		{"unterminated quote", "query,context,label\nx,\"y,1\nz,\"w\",0\n", "p.csv:2: extraneous or missing \" in quoted-field (the record starting on this line runs on to line 3"},
		{"bare quote", "query,context,label\nx,y\"z,1\n", "p.csv:2: column 4: bare \" in non-quoted-field"},
	} {
		_, err := ReadExamples(writeTemp(t, "p.csv", c.content), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestReadExamplesTriplets(t *testing.T) {
	one := writeTemp(t, "one.jsonl", "\ufeff{\"query\": \" 강심제란? \", \"document\": \"강심제는 심장을 돕는다.\", \"hard_negative\": \"이뇨제는 소변을 늘린다.\"}\r\n"+
		"\n"+
		"{\"query\": \"이뇨제란?\", \"pos\": \"이뇨제는 소변을 늘린다.\", \"neg\": [\"강심제는 심장을 돕는다.\"], \"extra\": 1}\n")
	ex, err := ReadExamples(one, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Examples{Path: one, Format: FormatTriplets, Columns: []string{"query", "document", "hard_negative"}, Rows: []Example{
		{Texts: []string{"강심제란?", "강심제는 심장을 돕는다.", "이뇨제는 소변을 늘린다."}, Line: 1},
		{Texts: []string{"이뇨제란?", "이뇨제는 소변을 늘린다.", "강심제는 심장을 돕는다."}, Line: 3},
	}}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("got  %+v\nwant %+v", ex, want)
	}
	if s := ex.String(); s != "one.jsonl (triplets): 2 rows [query document hard_negative], no labels" {
		t.Errorf("String() = %q", s)
	}

	two := writeTemp(t, "two.json", `{"query": "q1", "positive": "p1", "negative": ["n1", "n2"]}
{"query": "q2", "document": "p2", "hard_negative": "n3", "neg": "n4"}
`)
	ex, err = ReadExamples(two, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ex.Columns, []string{"query", "document", "hard_negative_1", "hard_negative_2"}) ||
		len(ex.Rows) != 2 || !reflect.DeepEqual(ex.Rows[1].Texts, []string{"q2", "p2", "n3", "n4"}) {
		t.Errorf("two negatives: %+v", ex)
	}

	none := writeTemp(t, "none.jsonl", "{\"query\": \"q\", \"document\": \"d\"}\n{\"query\": \"q2\", \"document\": \"d2\", \"neg\": null}\n")
	ex, err = ReadExamples(none, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ex.Columns, []string{"query", "document"}) || len(ex.Rows) != 2 || ex.Rows[1].Line != 2 {
		t.Errorf("no negatives: %+v", ex)
	}
}

func TestReadExamplesTripletErrors(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"mismatch", "{\"query\": \"a\", \"document\": \"b\", \"neg\": \"c\"}\n\n{\"query\": \"a\", \"document\": \"b\", \"neg\": [\"c\", \"d\"]}\n",
			"t.jsonl:3: 2 hard negatives, but line 1 has 1"},
		{"mismatch none", "{\"query\": \"a\", \"document\": \"b\"}\n{\"query\": \"a\", \"document\": \"b\", \"neg\": \"c\"}\n",
			"t.jsonl:2: 1 hard negatives, but line 1 has 0"},
		{"neg = doc", "{\"query\": \"a\", \"document\": \"b\", \"hard_negative\": \" b\"}\n", "t.jsonl:1: field hard_negative equals field document"},
		{"json", "{\"query\": \"a\", \"document\": \"b\"}\n{\"query\": \"a\",\n", "t.jsonl:2: unexpected end of JSON input"},
		{"no doc", "{\"query\": \"a\", \"hard_negative\": \"b\"}\n", "t.jsonl:1: field document missing"},
		{"empty", "\n \n", "t.jsonl: no triplets"},
	} {
		_, err := ReadExamples(writeTemp(t, "t.jsonl", c.content), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestReadExamplesFormatChoice(t *testing.T) {
	for _, c := range []struct{ name, content, format, want string }{
		{"syn.csv", "Term,CODE\n고혈압,D1\n", "", FormatSynonyms},
		{"cui.csv", "cui,term\nC1,고혈압\n", "", FormatSynonyms},
		{"pairs.CSV", "query,context,label\nq,c,1\n", "", FormatPairs},
		{"syn.txt", "D1 || 고혈압\n", "", FormatSynonyms},
		{"syn.tsv", "D1 || 고혈압\n", "", FormatSynonyms},
		{"t.json", "{\"query\": \"q\", \"document\": \"d\"}\n", "", FormatTriplets},
		{"t.data", "{\"query\": \"q\", \"document\": \"d\"}\n", FormatTriplets, FormatTriplets},
		{"p.txt", "anchor,positive\na,b\n", FormatPairs, FormatPairs},
	} {
		ex, err := ReadExamples(writeTemp(t, c.name, c.content), c.format)
		if err != nil || ex.Format != c.want {
			t.Errorf("%s: %v, %v; want format %s", c.name, ex, err, c.want)
		}
	}
	if _, err := ReadExamples(writeTemp(t, "x.parquet", "x"), ""); err == nil || !strings.Contains(err.Error(), "x.parquet: cannot tell the training data format") {
		t.Errorf("unknown extension: %v", err)
	}
	if _, err := ReadExamples(writeTemp(t, "x.csv", "a,b\n"), "sts"); err == nil || !strings.Contains(err.Error(), "unknown training data format \"sts\"") {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := ReadExamples(filepath.Join(t.TempDir(), "missing.csv"), ""); err == nil {
		t.Error("missing file accepted")
	}
}

// TestReadExamplesDrugFiles reads the seed project's real training files.
func TestReadExamplesDrugFiles(t *testing.T) {
	if _, err := os.Stat(drugsDir); err != nil {
		t.Skip("no", drugsDir)
	}
	// Line 17 opens a quote that is never closed.
	_, err := ReadExamples(filepath.Join(drugsDir, "drug_dur_type_similarity_train.csv"), "")
	if err == nil || !strings.Contains(err.Error(), "drug_dur_type_similarity_train.csv:17: ") {
		t.Errorf("broken DUR file: %v", err)
	}
	ex, err := ReadExamples(filepath.Join(drugsDir, "drug_dur_type_similarity_train.fixed.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	// 17 lines: the header and 16 judgements, the last two repaired.
	last := Example{Texts: []string{"특정연령대금기", "성인에게 사용하는 약"}, Label: 0, Line: 17}
	if ex.Format != FormatPairs || !reflect.DeepEqual(ex.Columns, []string{"dur_type", "description"}) || !ex.HasLabels ||
		len(ex.Rows) != 16 || !reflect.DeepEqual(ex.Rows[15], last) || ex.Rows[0].Texts[0] != "병용금기" || ex.Rows[0].Label != 1 {
		t.Errorf("fixed DUR file: %v, last row %+v", ex, ex.Rows[len(ex.Rows)-1])
	}

	path := filepath.Join(drugsDir, "drug_type_similarity_train.csv")
	ex, err = ReadExamples(path, "")
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := ReadCSVPairs(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Rows) != rep.Rows || rep.Rows != rep.Positives+rep.Negatives+rep.DuplicatePairs {
		t.Errorf("%d examples, ReadCSVPairs %+v", len(ex.Rows), rep)
	}
	pos := 0
	for _, r := range ex.Rows {
		if r.Label != 0 && r.Label != 1 {
			t.Fatalf("line %d: label %g", r.Line, r.Label)
		}
		pos += int(r.Label)
	}
	if pos != rep.Positives || ex.Rows[0].Texts[0] != "진경제" || ex.Rows[0].Line != 2 {
		t.Errorf("%d positives, ReadCSVPairs %d; first row %+v", pos, rep.Positives, ex.Rows[0])
	}
}

// FuzzReadExamplesPairs: no CSV input panics, and every accepted row has
// the header's columns, non-empty texts and a finite label.
func FuzzReadExamplesPairs(f *testing.F) {
	f.Add("query,context,label\n강심제,\"심장, 수축\",1.0\n\n x ,y,0\n")
	f.Add("\ufeffsentence1,sentence2,score\na,b,4.5\n")
	f.Add("anchor,positive,negative\na,b,c\n")
	f.Add("dur_type,description,label\nx,\"y,1\nz,\"w\",0\n")
	f.Add("query,context,label\nx,NULL,NaN\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		ex, err := ReadExamples(p, FormatPairs)
		if err != nil {
			return
		}
		checkExamples(t, ex)
	})
}

// FuzzReadExamplesTriplets: no JSONL input panics, and accepted files
// have uniform columns.
func FuzzReadExamplesTriplets(f *testing.F) {
	f.Add("{\"query\": \"a\", \"document\": \"b\", \"hard_negative\": \"c\"}\n")
	f.Add("{\"query\": \"a\", \"pos\": \"b\", \"neg\": [\"c\", \"d\"]}\n{\"query\": \"a\", \"pos\": \"b\", \"neg\": [\"e\", \"d\"]}\n")
	f.Add("\ufeff{\"query\": \"a\", \"document\": \"b\"}\r\n\n")
	f.Add("{\"query\": 1}")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "f.jsonl")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		ex, err := ReadExamples(p, "")
		if err != nil {
			return
		}
		checkExamples(t, ex)
	})
}

// checkExamples asserts the invariants every accepted file must meet.
func checkExamples(t *testing.T, ex *Examples) {
	t.Helper()
	if len(ex.Rows) == 0 {
		t.Fatal("accepted with no rows")
	}
	prev := 0
	for _, r := range ex.Rows {
		if len(r.Texts) != len(ex.Columns) {
			t.Fatalf("line %d: %d texts for columns %v", r.Line, len(r.Texts), ex.Columns)
		}
		for _, s := range r.Texts {
			if s == "" || strings.TrimSpace(s) != s {
				t.Fatalf("line %d: text %q", r.Line, s)
			}
		}
		if r.Label != r.Label || r.Label-r.Label != 0 {
			t.Fatalf("line %d: label %g", r.Line, r.Label)
		}
		if r.Line < 1 || r.Line < prev {
			t.Fatalf("line %d after %d", r.Line, prev)
		}
		prev = r.Line
	}
	_ = ex.String()
}
