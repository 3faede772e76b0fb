package dataset

import (
	"strings"
	"testing"
)

func TestReadTriplets(t *testing.T) {
	p := writeTemp(t, "train.jsonl", `{"query": "강심제란?", "document": "강심제는 심장을 돕는다.", "hard_negative": "이뇨제는 소변을 늘린다."}

{"query": "이뇨제란?", "positive": "이뇨제는 소변을 늘린다.", "negative": ["강심제는 심장을 돕는다.", "진해제는 기침을 멎게 한다."]}
{"query": "강심제란?", "pos": "강심제는 심근 수축력을 높인다.", "neg": null, "extra": 1}
{"query": "강심제란?", "document": "강심제는 심장을 돕는다.", "hard_negative": "이뇨제는 소변을 늘린다."}
`)
	d, rep, err := ReadTriplets(p)
	if err != nil {
		t.Fatal(err)
	}
	want := LoadReport{Path: p, Rows: 4, Positives: 3, Negatives: 3, DuplicatePairs: 2, Queries: 2, Docs: 4}
	if *rep != want {
		t.Errorf("report %+v, want %+v", *rep, want)
	}
	if d.Name != "train" || len(d.Corpus) != 4 || d.Corpus[1] != (Doc{ID: "d2", Text: "이뇨제는 소변을 늘린다."}) || d.Corpus[3].Text != "강심제는 심근 수축력을 높인다." {
		t.Errorf("corpus %v", d.Corpus)
	}
	q1, q2 := d.Qrels["q1"], d.Qrels["q2"]
	if len(q1) != 3 || q1["d1"] != 1 || q1["d4"] != 1 || q1["d2"] != 0 || len(q2) != 3 || q2["d2"] != 1 || q2["d1"] != 0 || q2["d3"] != 0 {
		t.Errorf("qrels %v", d.Qrels)
	}
}

func TestReadTripletsErrors(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"json", "{\"query\": \"a\", \"document\": \"b\"}\n{\"query\": \"a\",\n", "t.jsonl:2: unexpected end of JSON input"},
		{"no query", "{\"document\": \"b\"}\n", "t.jsonl:1: field query missing"},
		{"empty query", "{\"query\": \" \", \"document\": \"b\"}\n", "t.jsonl:1: field query is empty"},
		{"no doc", "{\"query\": \"a\", \"hard_negative\": \"b\"}\n", "t.jsonl:1: field document missing"},
		{"empty neg", "{\"query\": \"a\", \"document\": \"b\", \"negative\": [\"c\", \"\"]}\n", "t.jsonl:1: field negative[1] is empty"},
		{"neg type", "{\"query\": \"a\", \"document\": \"b\", \"negative\": 3}\n", "t.jsonl:1: field negative: want a string or a list of strings"},
		{"doc type", "{\"query\": \"a\", \"document\": [\"b\"]}\n", "t.jsonl:1: field document: want a string"},
		{"disagree", "{\"query\": \"a\", \"document\": \"b\", \"positive\": \"c\"}\n", "t.jsonl:1: fields document and positive disagree"},
		{"neg = doc", "{\"query\": \"a\", \"document\": \"b\", \"hard_negative\": \" b\"}\n", "t.jsonl:1: field hard_negative equals field document"},
		{"conflict", "{\"query\": \"a\", \"document\": \"b\"}\n{\"query\": \"a\", \"document\": \"c\", \"hard_negative\": \"b\"}\n", "t.jsonl:2: label 0 contradicts label 1 for the same query and document at line 1"},
		{"empty", "\n\n", "t.jsonl: no triplets"},
	} {
		_, _, err := ReadTriplets(writeTemp(t, "t.jsonl", c.content))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}
