package serve

import (
	"reflect"
	"strings"
	"testing"
)

// TestCaseVariantKeys: a key that differs from a field only in case is a
// 400 naming it, on every endpoint that reads JSON, nested objects
// included; map keys (filters, fields) stay free.
func TestCaseVariantKeys(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{APIKey: "k", Generator: &fakeGen{tokens: []string{"답"}}, GeneratorModel: "fake", PublicGeneration: true})
	for _, c := range []struct{ path, body, want string }{
		{"/v1/search", `{"query":"해열제","QUERY":"zzz"}`, `key "QUERY" in the request body: JSON keys are case-sensitive; did you mean "query"?`},
		{"/v1/search", `{"Query":"x"}`, `key "Query" in the request body: JSON keys are case-sensitive; did you mean "query"?`},
		{"/v1/search", `{"query":"x","\u212a":3}`, "key \"\u212a\" in the request body"}, // the Kelvin sign folds to k
		{"/v1/search", `{"query":"x","Filters":{"type":["a"]}}`, `key "Filters"`},
		{"/v1/embed", `{"Texts":["두통"]}`, `key "Texts"`},
		{"/v1/documents", `{"documents":[{"id":"1","text":"x"},{"id":"2","ID":"3","text":"y"}]}`, `key "ID" in documents[1]: JSON keys are case-sensitive; did you mean "id"?`},
		{"/v1/documents", `{"documents":[{"id":"1","text":"x","dur":[{"type":"임부금기","matched_by":"x","TYPE":"y"}]}]}`, `key "TYPE" in documents[0].dur[0]`},
		{"/v1/documents", `{"DOCUMENTS":[]}`, `key "DOCUMENTS"`},
		{"/v1/ask", `{"question":"두통","Question":"x"}`, `key "Question"`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"?"}],"MODEL":"gpt-4"}`, `key "MODEL" in the request body: JSON keys are case-sensitive; did you mean "model"?`},
		{"/v1/chat/completions", `{"messages":[{"ROLE":"user","content":"?"}]}`, `key "ROLE" in messages[0]`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"?"}],"Max_Tokens":5}`, `key "Max_Tokens"`},
	} {
		r := call(t, ts, "POST", c.path, c.body, "X-API-Key", "k")
		var msg string
		if c.path == "/v1/chat/completions" {
			msg = openAIErr(t, r).Message
		} else {
			msg = r.errMsg(t)
		}
		if r.status != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s %s: %d %s", c.path, c.body, r.status, r.body)
		}
	}
	// Map keys are data (the search refuses an unknown filter field, not
	// this check), and decodeLoose still ignores unknown fields.
	if r := call(t, ts, "POST", "/v1/search", `{"query":"두통","filters":{"TYPE":["a"]}}`); r.status != 400 || strings.Contains(r.errMsg(t), "case-sensitive") {
		t.Errorf("filters: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ path, body string }{
		{"/v1/documents", `{"documents":[{"id":"9","text":"x","fields":{"Type":["a"],"type":["b"]}}]}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"?"}],"user":"u","N":1}`},
	} {
		if r := call(t, ts, "POST", c.path, c.body, "X-API-Key", "k"); r.status != 200 {
			t.Errorf("%s %s: %d %s", c.path, c.body, r.status, r.body)
		}
	}
}

func TestCheckKeysStruct(t *testing.T) {
	type inner struct {
		Name string
	}
	type outer struct {
		inner
		ID     string           `json:"id"`
		Skip   string           `json:"-"`
		Items  []*inner         `json:"items"`
		ByName map[string]inner `json:"by_name"`
		hidden string
	}
	typ := reflect.TypeFor[*outer]()
	for body, want := range map[string]string{
		`{"id":"1","Name":"a","items":[{"Name":"b"}],"by_name":{"X":{"Name":"c"}}}`: "",
		`{"NAME":"a"}`:                        `key "NAME" in the request body`,
		`{"Id":"1"}`:                          `key "Id"`,
		`{"skip":"x","Hidden":"y"}`:           "", // not fields: unknown, left to the decoder
		`{"items":[{"name":"b"}]}`:            `key "name" in items[0]`,
		`{"by_name":{"X":{"nAME":"c"}}}`:      `key "nAME" in by_name.X`,
		`{"items":"not an array"}`:            "", // the decoder's to report
		`not JSON`:                            "",
		`{"id":"1","ſkip":1,"ıd":2}`:          "",         // no field folds to these
		`{"ID":"1","Id":"2"}`:                 `key "ID"`, // the first in document order
		`{"items":[{"Name":"b"},{"NaMe":1}]}`: `key "NaMe" in items[1]`,
	} {
		err := checkKeys([]byte(body), typ, "")
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}
