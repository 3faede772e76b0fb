package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const drugsDir = "../../shared/data/drugs"

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCSVPairsSmall(t *testing.T) {
	p := writeTemp(t, "pairs.csv", "\ufeffquery,context,label\n"+
		"강심제,\"강심제는 심장의 수축력을 높인다.\",1.0\n"+
		"강심제,\"이뇨제는 소변을 늘린다.\",0.0\n"+
		"\n"+
		"이뇨제란?, 이뇨제는 소변을 늘린다. ,1\n"+
		"이뇨제란?,\"강심제는 심장의 수축력을 높인다.\",0\n"+
		"이뇨제란?,이뇨제는 소변을 늘린다.,1.00\n"+ // duplicate, counted once
		"진해제,\"진해제는 기침을 멎게 한다.\",0.0\n") // negative-only query
	d, rep, err := ReadCSVPairs(p)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "pairs" {
		t.Errorf("name %q", d.Name)
	}
	wantDocs := []Doc{{ID: "d1", Text: "강심제는 심장의 수축력을 높인다."}, {ID: "d2", Text: "이뇨제는 소변을 늘린다."}, {ID: "d3", Text: "진해제는 기침을 멎게 한다."}}
	if len(d.Corpus) != 3 {
		t.Fatalf("corpus %v", d.Corpus)
	}
	for i, w := range wantDocs {
		if d.Corpus[i] != w {
			t.Errorf("doc %d = %+v, want %+v", i, d.Corpus[i], w)
		}
	}
	if len(d.Queries) != 2 || d.Queries[0] != (Query{"q1", "강심제"}) || d.Queries[1] != (Query{"q2", "이뇨제란?"}) {
		t.Errorf("queries %v", d.Queries)
	}
	if len(d.Qrels) != 2 || d.Qrels["q1"]["d1"] != 1 || d.Qrels["q1"]["d2"] != 0 || len(d.Qrels["q1"]) != 2 ||
		d.Qrels["q2"]["d2"] != 1 || d.Qrels["q2"]["d1"] != 0 || len(d.Qrels["q2"]) != 2 {
		t.Errorf("qrels %v", d.Qrels)
	}
	want := LoadReport{Path: p, Rows: 6, Positives: 2, Negatives: 3, DuplicatePairs: 1, NegativeOnlyQueries: 1, Queries: 2, Docs: 3}
	if *rep != want {
		t.Errorf("report %+v, want %+v", *rep, want)
	}
	if s := rep.String(); !strings.Contains(s, "1 duplicate pairs") || !strings.Contains(s, "1 queries with no positive left out") {
		t.Errorf("report string %q", s)
	}
}

func TestReadCSVPairsDURHeader(t *testing.T) {
	p := writeTemp(t, "dur.csv", "dur_type,description,label\n병용금기,함께 쓰면 안 되는 약물,1.0\n임부금기,임산부에게 금지된 약물,1.0\n병용금기,임산부에게 금지된 약물,0.0\n")
	d, rep, err := ReadCSVPairs(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Queries) != 2 || len(d.Corpus) != 2 || rep.Negatives != 1 || d.Qrels["q1"]["d2"] != 0 || d.Qrels["q2"]["d2"] != 1 {
		t.Errorf("got %+v %+v", d, rep)
	}
}

func TestReadCSVPairsErrors(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"header", "a,b,c\nx,y,1\n", "pairs.csv:1: header \"a,b,c\""},
		{"label", "query,context,label\nx,y,1\nx,z,0.5\n", "pairs.csv:3: field label: \"0.5\" is not 1, 0, 1.0 or 0.0"},
		{"label text", "query,context,label\nx,y,yes\n", "pairs.csv:2: field label: \"yes\""},
		{"label empty", "query,context,label\nx,y,\n", "pairs.csv:2: field label: \"\""},
		{"empty query", "query,context,label\nx,y,1\n  ,y,1\n", "pairs.csv:3: field query is empty"},
		{"NULL context", "query,context,label\nx,NULL,1\n", "pairs.csv:2: field context is empty"},
		{"short row", "query,context,label\nx,y,1\nx,y\n", "pairs.csv:3: 2 fields, want at least 3"},
		{"conflict", "query,context,label\nx,y,1\nx,z,1\nx,y,0\n", "pairs.csv:4: label 0 contradicts label 1 for the same query and document at line 2"},
		{"quote", "query,context,label\nx,\"y,1\n", "pairs.csv: parse error on line 2"},
		{"empty file", "", "pairs.csv: empty file"},
		{"no positives", "query,context,label\nx,y,0\n", "no query has a positive document"},
	} {
		p := writeTemp(t, "pairs.csv", c.content)
		_, _, err := ReadCSVPairs(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestParseLabel(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "0": 0, "1.0": 1, "0.0": 0, "1.00": 1, "0.": 0} {
		if got, ok := parseLabel(s); !ok || got != want {
			t.Errorf("parseLabel(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "2", "0.5", "-1", "1e0", ".0", "true", "１"} {
		if _, ok := parseLabel(s); ok {
			t.Errorf("parseLabel(%q) accepted", s)
		}
	}
}

// TestReadCSVPairsRealDrugTypes reads the real stage-1 file (MIT,
// ryukato/fine-tuned-e5-drugmodel, Yoon Y. Yoo 2025) and checks its counts.
func TestReadCSVPairsRealDrugTypes(t *testing.T) {
	p := filepath.Join(drugsDir, "drug_type_similarity_train.csv")
	if _, err := os.Stat(p); err != nil {
		t.Skip("shared drug data not present:", err)
	}
	d, rep, err := ReadCSVPairs(p)
	if err != nil {
		t.Fatal(err)
	}
	want := LoadReport{Path: p, Rows: 1312, Positives: 1148, Negatives: 164, Queries: 1127, Docs: 163}
	if *rep != want {
		t.Errorf("report %+v, want %+v", *rep, want)
	}
	multi := 0
	judgements := 0
	for _, rel := range d.Qrels {
		judgements += len(rel)
		if numPositive(rel) == 2 {
			multi++
		}
	}
	if multi != 21 || judgements != 1312 || len(d.Qrels) != 1127 {
		t.Errorf("queries with 2 positives %d (want 21), judgements %d (want 1312), qrels %d", multi, judgements, len(d.Qrels))
	}
	if d.Queries[0] != (Query{"q1", "진경제"}) || d.Qrels["q1"]["d1"] != 1 || !strings.HasPrefix(d.Corpus[0].Text, "진경제는 위장관") {
		t.Errorf("first row: %v %v %q", d.Queries[0], d.Qrels["q1"], d.Corpus[0].Text)
	}
	// Row 3 is a negative: 생물학적 제제 ↔ the 기타의 비타민제 definition (d3).
	if d.Queries[2].Text != "생물학적 제제" || d.Qrels["q3"]["d3"] != 0 || !strings.HasPrefix(d.Corpus[2].Text, "기타의 비타민제는") {
		t.Errorf("row 3: %v %v", d.Queries[2], d.Qrels["q3"])
	}

	// The real DUR file has an unterminated quote on line 17 (투여기간주의,
	// "장기 복용이 안전한 약,0.0): Python's csv module silently merges it
	// with line 18; we report it.
	_, _, err = ReadCSVPairs(filepath.Join(drugsDir, "drug_dur_type_similarity_train.csv"))
	if err == nil || !strings.Contains(err.Error(), "drug_dur_type_similarity_train.csv: record on line 17") {
		t.Errorf("DUR file: err = %v, want the unterminated quote on line 17", err)
	}
}

// numPositive counts judgements ≥ 1.
func numPositive(rel map[string]int) int {
	n := 0
	for _, v := range rel {
		if v >= 1 {
			n++
		}
	}
	return n
}
