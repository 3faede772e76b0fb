package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// --- fixtures

// drugDocs are ten real-looking Korean drug products; 부루펜 carries an
// 임부금기 flag.
func drugDocs() []search.Doc {
	d := func(id, title, text, typ, class, company string, ingr []string, flags ...dur.Flag) search.Doc {
		return search.Doc{ID: id, Title: title, Text: text, DUR: flags, Fields: map[string][]string{
			"type": {typ}, "class": {class}, "company": {company}, "ingredient": ingr}}
	}
	return []search.Doc{
		d("200000001", "타이레놀정500밀리그램", "열을 내리고 통증을 줄이는 해열진통제. 효능·효과: 감기로 인한 발열 및 동통, 두통, 치통, 근육통, 월경통의 완화.",
			"해열진통제", "일반", "한국존슨앤드존슨", []string{"아세트아미노펜"}),
		d("200000002", "판콜에이내복액", "마시는 감기약. 감기의 여러 증상(콧물, 코막힘, 재채기, 인후통, 기침, 가래, 오한, 발열, 두통, 근육통)의 완화.",
			"종합감기약", "일반", "동화약품", []string{"아세트아미노펜", "클로르페니라민말레산염", "dl-메틸에페드린염산염", "카페인무수물"}),
		d("200000003", "부루펜정200밀리그램", "두통, 치통, 생리통, 요통, 관절염의 통증과 염증, 발열을 줄이는 진통소염제.",
			"해열진통소염제", "일반", "삼일제약", []string{"이부프로펜"},
			dur.Flag{Type: "임부금기", Ingredient: "이부프로펜", Content: "임신 30주 이상의 임부에게 투여하지 말 것 (태아 동맥관 조기 폐쇄)", MatchedBy: "ingredient_code"}),
		d("200000004", "게보린정", "두통, 치통, 생리통, 발열에 빠르게 작용하는 진통제.",
			"해열진통제", "일반", "삼진제약", []string{"아세트아미노펜", "이소프로필안티피린", "카페인무수물"},
			dur.Flag{Type: "특정연령대금기", Ingredient: "이소프로필안티피린", Content: "15세 미만 소아에게 투여하지 말 것", MatchedBy: "ingredient_name"}),
		d("200000005", "아모디핀정5밀리그램", "고혈압, 협심증 치료제. 혈관을 넓혀 혈압을 낮춘다.",
			"혈압강하제", "전문", "한미약품", []string{"암로디핀캄실산염"}),
		d("200000006", "자누비아정100밀리그램", "제2형 당뇨병 환자의 혈당 조절을 개선하는 약.",
			"당뇨병용제", "전문", "한국엠에스디", []string{"시타글립틴인산염수화물"}),
		d("200000007", "겔포스엠현탁액", "위산과다, 속쓰림, 위부불쾌감, 위통의 완화.",
			"제산제", "일반", "보령", []string{"인산알루미늄겔", "시메티콘"}),
		d("200000008", "베아제정", "소화불량, 식욕감퇴, 과식, 체함, 복부팽만감의 완화.",
			"소화제", "일반", "대웅제약", []string{"판크레아틴", "비오디아스타제"}),
		d("200000009", "지르텍정", "알레르기성 비염, 두드러기, 피부 가려움의 완화.",
			"항히스타민제", "일반", "한국유씨비제약", []string{"세티리진염산염"}),
		d("200000010", "쎄레브렉스캡슐200밀리그램", "골관절염, 류마티스관절염의 통증 완화, 급성 통증, 월경통에 쓰는 진통소염제.",
			"해열진통소염제", "전문", "한국화이자제약", []string{"세레콕시브"},
			dur.Flag{Type: "노인주의", Ingredient: "세레콕시브", Content: "고령자는 위장관 출혈 위험", MatchedBy: "ingredient_code"}),
	}
}

// hashEncoder is a deterministic stand-in for a model: hashed characters
// and character bigrams, L2-normalised.
type hashEncoder struct{ dim int }

func (e hashEncoder) vec(s string) []float32 {
	v := make([]float32, e.dim)
	rs := []rune(strings.ToLower(s))
	add := func(feat string) {
		h := fnv.New32a()
		h.Write([]byte(feat))
		x := h.Sum32()
		sign := float32(1)
		if x&(1<<31) != 0 {
			sign = -1
		}
		v[int(x%uint32(e.dim))] += sign
	}
	for i, r := range rs {
		if r == ' ' {
			continue
		}
		add(string(r))
		if i+1 < len(rs) && rs[i+1] != ' ' {
			add(string(rs[i : i+2]))
		}
	}
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss > 0 {
		inv := float32(1 / math.Sqrt(ss))
		for i := range v {
			v[i] *= inv
		}
	}
	return v
}

func (e hashEncoder) encode(texts []string) [][]float32 {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = e.vec(t)
	}
	return out
}

func (e hashEncoder) EncodeQueries(_ context.Context, texts []string) ([][]float32, error) {
	return e.encode(texts), nil
}

func (e hashEncoder) EncodePassages(_ context.Context, texts []string) ([][]float32, error) {
	return e.encode(texts), nil
}

var testModel = search.ModelInfo{Name: "test/hash-64", Dim: 64, Pooling: "mean"}

// newService builds an in-memory index of drugDocs, dense (hash encoder)
// or BM25 only, wrapped by wrap when given.
func newService(t testing.TB, dense bool, wrap func(search.Backend) search.Backend) *search.Service {
	t.Helper()
	opts := embedded.Options{Analyzer: "bigram"}
	var enc search.Encoder
	if dense {
		opts.Model = testModel
		enc = hashEncoder{dim: testModel.Dim}
	}
	ix, err := embedded.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var b search.Backend = ix
	if wrap != nil {
		b = wrap(b)
	}
	ctx := context.Background()
	svc, err := search.NewService(ctx, b, enc, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Upsert(ctx, drugDocs()); err != nil {
		t.Fatal(err)
	}
	return svc
}

func newTestServer(t testing.TB, svc *search.Service, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(svc, opts)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
}

func (r reply) errMsg(t testing.TB) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("want a JSON error body, got %q (%v)", r.body, err)
	}
	return e.Error
}

// call makes one request; hdr are header name/value pairs. A body is sent
// as application/json unless hdr sets Content-Type.
func call(t testing.TB, ts *httptest.Server, method, path string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{res.StatusCode, res.Header, data}
}

func search_(t testing.TB, ts *httptest.Server, req search.Request) search.Response {
	t.Helper()
	r := call(t, ts, "POST", "/v1/search", req)
	if r.status != 200 {
		t.Fatalf("search %+v: %d %s", req, r.status, r.body)
	}
	var resp search.Response
	r.json(t, &resp)
	return resp
}

func titles(hits []search.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Title)
	}
	return out
}

// --- endpoints

func TestSearchPost(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{})
	resp := search_(t, ts, search.Request{Query: "열을 내리는 약", Mode: "bm25"})
	if len(resp.Hits) == 0 || resp.Hits[0].Title != "타이레놀정500밀리그램" {
		t.Fatalf("bm25 hits %v, want 타이레놀 first", titles(resp.Hits))
	}
	h := resp.Hits[0]
	if resp.Mode != "bm25" || h.BM25 == nil || h.BM25.Rank != 1 || h.Dense != nil {
		t.Errorf("mode %s, parts %+v %+v", resp.Mode, h.BM25, h.Dense)
	}
	if !strings.Contains(h.SnippetHTML, "<mark>") || h.Fields["class"][0] != "일반" {
		t.Errorf("snippet %q fields %v", h.SnippetHTML, h.Fields)
	}
	// Hybrid (the default with a model) fuses both retrievers.
	resp = search_(t, ts, search.Request{Query: "타이레놀정500밀리그램"})
	if resp.Mode != "hybrid" || resp.Fusion == "" || resp.Hits[0].Title != "타이레놀정500밀리그램" ||
		resp.Hits[0].BM25 == nil || resp.Hits[0].Dense == nil {
		t.Fatalf("hybrid: mode %s fusion %s hits %v first %+v", resp.Mode, resp.Fusion, titles(resp.Hits), resp.Hits[0])
	}
	resp = search_(t, ts, search.Request{Query: "타이레놀정500밀리그램", Mode: "dense", K: 3})
	if len(resp.Hits) != 3 || resp.Hits[0].Dense == nil || resp.Hits[0].BM25 != nil {
		t.Fatalf("dense: %v %+v", titles(resp.Hits), resp.Hits[0])
	}
}

func TestSearchGet(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{})
	r := call(t, ts, "GET", "/v1/search?q="+urlq("두통")+"&mode=bm25&k=5&filter.class="+urlq("일반")+"&exclude_dur="+urlq("임부금기,노인주의"), nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var resp search.Response
	r.json(t, &resp)
	if len(resp.Hits) == 0 || len(resp.Hits) > 5 {
		t.Fatalf("hits %v", titles(resp.Hits))
	}
	for _, h := range resp.Hits {
		if h.Fields["class"][0] != "일반" || h.Title == "부루펜정200밀리그램" {
			t.Errorf("hit %s (%v) passed the filters", h.Title, h.Fields["class"])
		}
	}
	// alpha, fusion, safety, flag_dur and repeated filter values.
	r = call(t, ts, "GET", "/v1/search?q="+urlq("통증")+"&mode=hybrid&alpha=0.3&fusion=relative&safety=off&flag_dur="+urlq("노인주의")+
		"&filter.type="+urlq("해열진통소염제")+"&filter.type="+urlq("해열진통제"), nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r.json(t, &resp)
	if resp.Alpha != 0.3 || resp.Fusion != "relative" {
		t.Errorf("alpha %v fusion %s", resp.Alpha, resp.Fusion)
	}
	flagged := false
	for _, h := range resp.Hits {
		if typ := h.Fields["type"][0]; typ != "해열진통소염제" && typ != "해열진통제" {
			t.Errorf("hit %s of type %s", h.Title, typ)
		}
		flagged = flagged || slices.Contains(h.Warnings, "노인주의")
	}
	if !flagged {
		t.Errorf("flag_dur=노인주의 flagged nothing: %+v", resp.Hits)
	}
	for _, bad := range []string{"/v1/search", "/v1/search?q=a&k=x", "/v1/search?q=a&k=0", "/v1/search?q=a&bogus=1",
		"/v1/search?q=a&q=b", "/v1/search?q=a&alpha=high", "/v1/search?q=%ff%fe", "/v1/search?q=a&filter.=x",
		"/v1/search?q=a&mode=fuzzy", "/v1/search?q=a&filter.nosuch=x"} {
		r := call(t, ts, "GET", bad, nil)
		if r.status != 400 {
			t.Errorf("GET %s: %d %s, want 400", bad, r.status, r.body)
		}
		t.Logf("GET %s: %s", bad, r.errMsg(t))
	}
}

func urlq(s string) string      { return url.QueryEscape(s) }
func urlEscape(s string) string { return url.PathEscape(s) }

func TestSafetyRules(t *testing.T) {
	_, ts := newTestServer(t, newService(t, false, nil), Options{})
	resp := search_(t, ts, search.Request{Query: "임산부 두통약"})
	if resp.Mode != "bm25" || len(resp.Notes) == 0 {
		t.Errorf("BM25-only service: mode %s notes %v", resp.Mode, resp.Notes)
	}
	if len(resp.Rules) != 1 || resp.Rules[0].Word != "임산부" || !slices.Contains(resp.Rules[0].Types, "임부금기") || resp.Rules[0].Action != "flag" {
		t.Fatalf("rules %+v", resp.Rules)
	}
	found := false
	for _, h := range resp.Hits {
		if h.Title == "부루펜정200밀리그램" {
			found = true
			if !slices.Equal(h.Warnings, []string{"임부금기"}) {
				t.Errorf("부루펜 warnings %v", h.Warnings)
			}
		} else if len(h.Warnings) > 0 {
			t.Errorf("%s warnings %v", h.Title, h.Warnings)
		}
	}
	if !found {
		t.Fatalf("부루펜 not among %v", titles(resp.Hits))
	}
	resp = search_(t, ts, search.Request{Query: "임산부 두통약", Safety: "strict"})
	if slices.Contains(titles(resp.Hits), "부루펜정200밀리그램") || resp.Rules[0].Action != "exclude" {
		t.Errorf("strict: %v rules %+v", titles(resp.Hits), resp.Rules)
	}
	// A BM25-only service refuses dense modes with 400.
	r := call(t, ts, "POST", "/v1/search", search.Request{Query: "두통", Mode: "dense"})
	if r.status != 400 || !strings.Contains(r.errMsg(t), "dense model") {
		t.Errorf("dense on BM25 only: %d %s", r.status, r.body)
	}
}

func TestEmbed(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{})
	r := call(t, ts, "POST", "/v1/embed", map[string]any{"texts": []string{"두통", "열을 내리는 약"}, "as": "query"})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var er EmbedResponse
	r.json(t, &er)
	if len(er.Vectors) != 2 || er.Dim != 64 || len(er.Vectors[1]) != 64 || er.Model != testModel.Name {
		t.Fatalf("%d vectors, dim %d, model %q", len(er.Vectors), er.Dim, er.Model)
	}
	if want := (hashEncoder{64}).vec("두통"); !slices.Equal(er.Vectors[0], want) {
		t.Errorf("vector differs from the encoder's")
	}
	for _, body := range []string{`{"texts":[]}`, `{"texts":["a"],"as":"doc"}`, `{"text":["a"]}`} {
		if r := call(t, ts, "POST", "/v1/embed", body); r.status != 400 {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	_, ts2 := newTestServer(t, newService(t, false, nil), Options{})
	if r := call(t, ts2, "POST", "/v1/embed", `{"texts":["a"]}`); r.status != 400 || !strings.Contains(r.errMsg(t), "no dense model") {
		t.Errorf("BM25 only: %d %s", r.status, r.body)
	}
}

func TestDocuments(t *testing.T) {
	const key = "s3cret-key"
	newDoc := map[string]any{"documents": []search.Doc{{ID: "300000001", Title: "어린이부루펜시럽",
		Text: "어린이 해열제. 감기로 인한 발열과 통증.", Fields: map[string][]string{"class": {"일반"}, "type": {"해열진통소염제"}},
		DUR: []dur.Flag{{Type: "임부금기", MatchedBy: "ingredient_code"}}}}}

	// No key configured: writes refused with 403 and the way to enable them.
	_, ro := newTestServer(t, newService(t, false, nil), Options{})
	r := call(t, ro, "POST", "/v1/documents", newDoc, "Authorization", "Bearer anything")
	if r.status != 403 || !strings.Contains(r.errMsg(t), "--api-key") || !strings.Contains(r.errMsg(t), "KORMED_API_KEY") {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
	if r := call(t, ro, "DELETE", "/v1/documents/200000001", nil); r.status != 403 {
		t.Errorf("delete without a key: %d %s", r.status, r.body)
	}

	_, ts := newTestServer(t, newService(t, true, nil), Options{APIKey: key})
	for _, hdr := range [][]string{{}, {"Authorization", "Bearer wrong"}, {"X-API-Key", key + "x"}, {"Authorization", "Basic " + key}, {"Authorization", "Bearer"}} {
		r := call(t, ts, "POST", "/v1/documents", newDoc, hdr...)
		if r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("auth %v: %d %s", hdr, r.status, r.body)
		}
	}
	r = call(t, ts, "POST", "/v1/documents", newDoc, "Authorization", "Bearer "+key)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"upserted":1}` {
		t.Fatalf("upsert: %d %s", r.status, r.body)
	}
	resp := search_(t, ts, search.Request{Query: "어린이부루펜시럽", Mode: "bm25"})
	if resp.Hits[0].ID != "300000001" {
		t.Errorf("new document not found: %v", titles(resp.Hits))
	}
	r = call(t, ts, "GET", "/v1/documents/300000001", nil)
	var d search.Doc
	r.json(t, &d)
	if r.status != 200 || d.Title != "어린이부루펜시럽" || d.DUR[0].Type != "임부금기" {
		t.Errorf("get: %d %+v", r.status, d)
	}
	// Bad documents are the caller's fault.
	for _, body := range []string{`{"documents":[]}`, `{"documents":[{"id":"","text":"x"}]}`, `{"documents":[{"id":"a","text":"x"},{"id":"a","text":"y"}]}`, `{"docs":[]}`} {
		if r := call(t, ts, "POST", "/v1/documents", body, "X-API-Key", key); r.status != 400 {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	if r := call(t, ts, "DELETE", "/v1/documents/300000001", nil); r.status != 401 {
		t.Errorf("delete without the key: %d", r.status)
	}
	r = call(t, ts, "DELETE", "/v1/documents/300000001", nil, "X-API-Key", key)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"deleted":1}` {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "DELETE", "/v1/documents/300000001", nil, "X-API-Key", key); r.status != 404 {
		t.Errorf("delete again: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "GET", "/v1/documents/300000001", nil); r.status != 404 || !strings.Contains(r.errMsg(t), "300000001") {
		t.Errorf("get deleted: %d %s", r.status, r.body)
	}
	// Ids with escaped slashes and Korean survive the path.
	if r := call(t, ts, "GET", "/v1/documents/"+urlEscape("없는/문서"), nil); r.status != 404 || !strings.Contains(r.errMsg(t), "없는/문서") {
		t.Errorf("escaped id: %d %s", r.status, r.body)
	}
}

func TestHealthzAndFacets(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{Version: "1.2.3"})
	r := call(t, ts, "GET", "/healthz", nil)
	var h Health
	r.json(t, &h)
	if r.status != 200 || h.Status != "ok" || h.Docs != 10 || h.Backend != "embedded" || h.Model != testModel.Name || !h.Dense ||
		!slices.Equal(h.Fields, []string{"class", "company", "ingredient", "type"}) || h.Writable || h.Version != "1.2.3" ||
		h.Alpha != search.DefaultAlpha || h.Fusion != search.DefaultFusion || h.Safety != "flag" {
		t.Errorf("healthz %d %+v", r.status, h)
	}
	_, ts2 := newTestServer(t, newService(t, false, nil), Options{APIKey: "k"})
	call(t, ts2, "GET", "/healthz", nil).json(t, &h)
	if h.Dense || h.Model != "" || !h.Writable {
		t.Errorf("BM25-only healthz %+v", h)
	}

	// The index counts (Facets); a backend that only lists its documents
	// is counted by the server, with the same answer.
	_, listed := newTestServer(t, newService(t, true, func(b search.Backend) search.Backend { return docsOnly{b} }), Options{})
	for _, srv := range []*httptest.Server{ts, listed} {
		r = call(t, srv, "GET", "/v1/facets?field=class,type&n=3", nil)
		var f FacetsResponse
		r.json(t, &f)
		if r.status != 200 || len(f.Fields) != 2 {
			t.Fatalf("facets %d %s", r.status, r.body)
		}
		if want := []search.Facet{{Value: "일반", Count: 7}, {Value: "전문", Count: 3}}; !slices.Equal(f.Fields["class"], want) {
			t.Errorf("class facets %v, want %v", f.Fields["class"], want)
		}
		if want := []search.Facet{{Value: "해열진통소염제", Count: 2}, {Value: "해열진통제", Count: 2}, {Value: "당뇨병용제", Count: 1}}; !slices.Equal(f.Fields["type"], want) {
			t.Errorf("type facets %v, want %v", f.Fields["type"], want)
		}
		call(t, srv, "GET", "/v1/facets", nil).json(t, &f)
		if len(f.Fields) != 4 || len(f.Fields["ingredient"]) != 14 || f.Fields["ingredient"][0] != (search.Facet{Value: "아세트아미노펜", Count: 3}) {
			t.Errorf("all facets: %v", f.Fields)
		}
	}
	for _, bad := range []string{"?field=nosuch", "?n=0", "?n=x", "?bogus=1"} {
		if r := call(t, ts, "GET", "/v1/facets"+bad, nil); r.status != 400 {
			t.Errorf("facets%s: %d %s", bad, r.status, r.body)
		}
	}
	// A backend that can neither count nor list documents: 501.
	_, ts3 := newTestServer(t, newService(t, false, func(b search.Backend) search.Backend { return opaque{b} }), Options{})
	if r := call(t, ts3, "GET", "/v1/facets", nil); r.status != 501 {
		t.Errorf("opaque backend facets: %d %s", r.status, r.body)
	}
}

// opaque hides the index's extra methods.
type opaque struct{ search.Backend }

// docsOnly has the index's Docs but not its Facets.
type docsOnly struct{ search.Backend }

func (d docsOnly) Docs(fn func(search.Doc, []float32) error) error {
	return d.Backend.(*embedded.Index).Docs(fn)
}

func TestWebStatic(t *testing.T) {
	_, ts := newTestServer(t, newService(t, false, nil), Options{})
	for path, want := range map[string]string{"/": "text/html", "/app.js": "text/javascript", "/style.css": "text/css", "/openapi.json": "application/json"} {
		r := call(t, ts, "GET", path, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), want) || len(r.body) < 100 {
			t.Errorf("%s: %d %s", path, r.status, r.header.Get("Content-Type"))
		}
	}
	r := call(t, ts, "GET", "/", nil)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(string(r.body), `placeholder="예: 열을 내리는 약은?"`) {
		t.Errorf("index: CSP %q", csp)
	}
	if r := call(t, ts, "HEAD", "/", nil); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD /: %d %d bytes", r.status, len(r.body))
	}
	if r := call(t, ts, "GET", "/nosuch.html", nil); r.status != 404 {
		t.Errorf("unknown file: %d", r.status)
	}
}

// --- errors, methods, CORS, request ids

func TestMethodsAndNotFound(t *testing.T) {
	_, ts := newTestServer(t, newService(t, false, nil), Options{})
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/v1/search", "GET, HEAD, POST"},
		{"DELETE", "/v1/search", "GET, HEAD, POST"},
		{"GET", "/v1/embed", "POST"},
		{"GET", "/v1/documents", "POST"},
		{"POST", "/v1/documents/x", "GET, HEAD, DELETE"},
		{"POST", "/healthz", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
		{"OPTIONS", "/v1/search", "GET, HEAD, POST"},
		{"POST", "/", "GET, HEAD"},
	} {
		r := call(t, ts, c.method, c.path, nil)
		if r.status != 405 || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 %q", c.method, c.path, r.status, r.header.Get("Allow"), c.allow)
		}
		r.errMsg(t)
	}
	for _, p := range []string{"/v1/nosuch", "/v1/", "/v1/documents/", "/v2/search"} {
		r := call(t, ts, "GET", p, nil)
		if r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d %s", p, r.status, r.header.Get("Content-Type"))
		}
		r.errMsg(t)
	}
}

func TestMalformedRequests(t *testing.T) {
	var logs bytes.Buffer
	_, ts := newTestServer(t, newService(t, true, nil), Options{APIKey: "k", MaxSearchBytes: 64 << 10,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepObj := `{"query":"두통","filters":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "}"
	cases := []struct {
		name, path, body string
		hdr              []string
		status           int
		msg              string // in the error
	}{
		{"bad JSON", "/v1/search", `{"query": "두통",`, nil, 400, "invalid JSON"},
		{"not an object", "/v1/search", `["두통"]`, nil, 400, "want an object"},
		{"trailing data", "/v1/search", `{"query":"두통"} {"query":"x"}`, nil, 400, "after the object"},
		{"unknown field", "/v1/search", `{"query":"두통","top_k":5}`, nil, 400, `unknown field "top_k"`},
		{"wrong type", "/v1/search", `{"query":"두통","k":"5"}`, nil, 400, "k: got JSON string, want an integer"},
		{"huge k", "/v1/search", `{"query":"두통","k":1000000000}`, nil, 400, "k: 1000000000"},
		{"k overflow", "/v1/search", `{"query":"두통","k":1e40}`, nil, 400, "k"},
		{"negative k", "/v1/search", `{"query":"두통","k":-1}`, nil, 400, "k: -1"},
		{"alpha", "/v1/search", `{"query":"두통","alpha":2}`, nil, 400, "alpha"},
		{"mode", "/v1/search", `{"query":"두통","mode":"fuzzy"}`, nil, 400, "mode"},
		{"fusion", "/v1/search", `{"query":"두통","fusion":"max"}`, nil, 400, "fusion"},
		{"safety", "/v1/search", `{"query":"두통","safety":"lax"}`, nil, 400, "safety"},
		{"empty query", "/v1/search", `{"query":"   "}`, nil, 400, "query"},
		{"long query", "/v1/search", `{"query":"` + strings.Repeat("두", 2000) + `"}`, nil, 400, "query"},
		{"empty filter", "/v1/search", `{"query":"두통","filters":{"class":[]}}`, nil, 400, "filters"},
		{"unknown filter field", "/v1/search", `{"query":"두통","filters":{"nosuch":["x"]}}`, nil, 400, "nosuch"},
		{"invalid UTF-8", "/v1/search", "{\"query\":\"\xff\xfe두통\"}", nil, 400, "UTF-8"},
		{"empty body", "/v1/search", "", nil, 400, "empty"},
		{"whitespace body", "/v1/search", " \n ", nil, 400, "empty"},
		{"null body", "/v1/search", "null", nil, 400, "query"},
		{"huge body", "/v1/search", `{"query":"` + strings.Repeat("a", 100<<10) + `"}`, nil, 413, "over 65536 bytes"},
		{"wrong content type", "/v1/search", `{"query":"두통"}`, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"form content type", "/v1/search", `query=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"bad charset", "/v1/search", `{"query":"두통"}`, []string{"Content-Type", "application/json; charset=euc-kr"}, 415, "UTF-8"},
		{"deep array", "/v1/search", deep, nil, 400, "JSON"},
		{"deep object", "/v1/search", deepObj, nil, 400, ""},
		{"embed unknown field", "/v1/embed", `{"texts":["a"],"model":"x"}`, nil, 400, `unknown field "model"`},
		{"documents bad JSON", "/v1/documents", `{"documents":[{]}`, []string{"X-API-Key", "k"}, 400, "invalid JSON"},
		{"documents unknown field", "/v1/documents", `{"documents":[{"id":"a","text":"b","vector":[1]}]}`, []string{"X-API-Key", "k"}, 400, `unknown field "vector"`},
	}
	for _, c := range cases {
		r := call(t, ts, "POST", c.path, c.body, c.hdr...)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, trunc(r.body), c.status)
			continue
		}
		if msg := r.errMsg(t); !strings.Contains(msg, c.msg) {
			t.Errorf("%s: error %q, want it to mention %q", c.name, msg, c.msg)
		}
		// The server keeps serving.
		if resp := search_(t, ts, search.Request{Query: "두통", K: 3}); len(resp.Hits) != 3 {
			t.Fatalf("after %s: %d hits", c.name, len(resp.Hits))
		}
	}
	// A body that never ends is cut at the limit without reading it all.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"query":"`))
		chunk := bytes.Repeat([]byte("a"), 32<<10)
		for i := 0; i < 64; i++ {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", ts.URL+"/v1/search", pr)
	req.Header.Set("Content-Type", "application/json")
	res, err := ts.Client().Do(req)
	if err == nil {
		if res.StatusCode != 413 {
			t.Errorf("streamed body: %d", res.StatusCode)
		}
		res.Body.Close()
	}
	pr.Close()
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("a malformed request was logged as a server error:\n%s", logs.String())
	}
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func TestCORS(t *testing.T) {
	svc := newService(t, false, nil)
	_, off := newTestServer(t, svc, Options{})
	r := call(t, off, "POST", "/v1/search", `{"query":"두통"}`, "Origin", "https://example.org")
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("CORS off: header %s sent", k)
		}
	}
	r = call(t, off, "OPTIONS", "/v1/search", nil, "Origin", "https://example.org", "Access-Control-Request-Method", "POST")
	if r.status != 405 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off preflight: %d %v", r.status, r.header)
	}

	_, on := newTestServer(t, svc, Options{CORSOrigins: []string{"https://example.org/", "http://localhost:3000"}})
	r = call(t, on, "POST", "/v1/search", `{"query":"두통"}`, "Origin", "https://example.org")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://example.org" || !slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Errorf("CORS on: %d %v", r.status, r.header)
	}
	r = call(t, on, "OPTIONS", "/v1/documents", nil, "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization, content-type")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	r = call(t, on, "POST", "/v1/search", `{"query":"두통"}`, "Origin", "https://evil.example")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %v", r.header)
	}
	_, any := newTestServer(t, svc, Options{CORSOrigins: []string{"*"}})
	if r := call(t, any, "GET", "/healthz", nil, "Origin", "https://a.example"); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("wildcard: %v", r.header)
	}
}

func TestRequestIDAndPanics(t *testing.T) {
	var logs syncBuffer
	svc := newService(t, false, func(b search.Backend) search.Backend { return &panicky{Backend: b} })
	_, ts := newTestServer(t, svc, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	r := call(t, ts, "GET", "/healthz", nil, "X-Request-Id", "abc-123")
	if r.header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id %q", r.header.Get("X-Request-Id"))
	}
	r = call(t, ts, "GET", "/healthz", nil, "X-Request-Id", "bad id\twith spaces")
	if id := r.header.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Errorf("generated request id %q", id)
	}
	r = call(t, ts, "POST", "/v1/search", `{"query":"패닉"}`, "X-Request-Id", "boom-1")
	if r.status != 500 || string(r.body) != `{"error":"internal error","request_id":"boom-1"}`+"\n" {
		t.Errorf("panic: %d %s", r.status, r.body)
	}
	if resp := search_(t, ts, search.Request{Query: "두통"}); len(resp.Hits) == 0 {
		t.Error("no hits after a panic")
	}
	if !strings.Contains(logs.String(), `"msg":"panic"`) || !strings.Contains(logs.String(), "stack") {
		t.Errorf("panic not logged:\n%s", logs.String())
	}
}

// panicky panics on the query 패닉.
type panicky struct{ search.Backend }

func (p *panicky) Search(ctx context.Context, q search.Query) ([]search.Hit, error) {
	if q.Query == "패닉" {
		panic("test panic")
	}
	return p.Backend.Search(ctx, q)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogging(t *testing.T) {
	var info, debug syncBuffer
	svc := newService(t, false, nil)
	_, ts := newTestServer(t, svc, Options{Logger: slog.New(slog.NewJSONHandler(&info, nil))})
	search_(t, ts, search.Request{Query: "비밀스러운질문"})
	call(t, ts, "GET", "/v1/search?q="+urlq("비밀스러운질문"), nil)
	lines := strings.Split(strings.TrimSpace(info.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines:\n%s", len(lines), info.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		for _, k := range []string{"method", "path", "status", "duration_ms", "bytes", "request_id"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line without %s: %s", k, l)
			}
		}
		if m["path"] != "/v1/search" || m["status"] != float64(200) || m["level"] != "INFO" {
			t.Errorf("log line %s", l)
		}
	}
	if strings.Contains(info.String(), "비밀") {
		t.Errorf("the query was logged at info level:\n%s", info.String())
	}
	_, ts2 := newTestServer(t, svc, Options{Logger: slog.New(slog.NewJSONHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	search_(t, ts2, search.Request{Query: "비밀스러운질문"})
	if !strings.Contains(debug.String(), `"query":"비밀스러운질문"`) {
		t.Errorf("the query was not logged at debug level:\n%s", debug.String())
	}
}

// --- metrics

func TestMetrics(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{Version: "9.9.9"})
	search_(t, ts, search.Request{Query: "두통", Mode: "bm25"})
	search_(t, ts, search.Request{Query: "두통", Mode: "bm25"})
	search_(t, ts, search.Request{Query: "두통"})
	call(t, ts, "POST", "/v1/search", `{"query":"두통","k":0.5}`)
	call(t, ts, "GET", "/v1/documents/"+urlEscape(`a"b\c`), nil)
	call(t, ts, "GET", "/v1/nosuch", nil)
	r := call(t, ts, "GET", "/metrics", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("%d %s", r.status, r.header.Get("Content-Type"))
	}
	text := string(r.body)
	for _, want := range []string{
		`kormed_http_requests_total{path="/v1/search",status="200"} 3`,
		`kormed_http_requests_total{path="/v1/search",status="400"} 1`,
		`kormed_http_requests_total{path="/v1/documents/{id}",status="404"} 1`,
		`kormed_http_requests_total{path="other",status="404"} 1`,
		`kormed_http_request_duration_seconds_bucket{path="/v1/search",le="+Inf"} 4`,
		`kormed_http_request_duration_seconds_count{path="/v1/search"} 4`,
		`kormed_searches_total{mode="bm25"} 2`,
		`kormed_searches_total{mode="hybrid"} 1`,
		`kormed_documents 10`,
		`kormed_dense_enabled 1`,
		`kormed_build_info{version="9.9.9",goversion="go`,
		`model="test/hash-64"} 1`,
		"\ngo_goroutines ",
		"\nprocess_resident_memory_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	checkExposition(t, text)
}

// checkExposition checks the text format: every sample belongs to a
// family declared once with HELP and TYPE before its samples, label
// values are quoted and escaped, values parse, histogram buckets are
// cumulative and end with +Inf equal to _count.
func checkExposition(t *testing.T, text string) {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Error("no final line feed")
	}
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,|))*\})? (\S+)$`)
	types := map[string]string{}
	helps := map[string]bool{}
	seen := map[string]bool{}
	var lastBucket = map[string]float64{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ := strings.Cut(rest, " ")
			if helps[name] {
				t.Errorf("HELP %s twice", name)
			}
			helps[name] = true
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if _, dup := types[name]; dup || seen[name] {
				t.Errorf("TYPE %s twice or after its samples", name)
			}
			if !slices.Contains([]string{"counter", "gauge", "histogram", "summary", "untyped"}, typ) {
				t.Errorf("TYPE %s %s", name, typ)
			}
			types[name] = typ
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("bad sample line %q", line)
			continue
		}
		name, val := m[1], m[3]
		family := name
		if _, ok := types[name]; !ok {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := strings.CutSuffix(name, suf); ok && types[f] == "histogram" {
					family = f
				}
			}
		}
		if _, ok := types[family]; !ok || !helps[family] {
			t.Errorf("sample %s without HELP/TYPE", name)
		}
		seen[family] = true
		var v float64
		if _, err := fmt.Sscan(val, &v); err != nil && val != "+Inf" {
			t.Errorf("value %q of %s", val, name)
		}
		if strings.HasSuffix(name, "_bucket") {
			key := strings.Split(m[2], ",le=")[0]
			if v < lastBucket[key] {
				t.Errorf("bucket not cumulative: %s", line)
			}
			lastBucket[key] = v
		}
	}
}

func TestLabelEscaping(t *testing.T) {
	if got := label("a\"b\\c\nd"); got != `"a\"b\\c\nd"` {
		t.Errorf("label %s", got)
	}
	m := newMetrics()
	m.observe("/x\"y", 200, 3*time.Millisecond, "")
	m.observe("/x\"y", 200, 20*time.Second, "")
	var b bytes.Buffer
	m.write(&b, gauges{docs: 1, rss: -1, start: time.Unix(1700000000, 500e6)})
	text := b.String()
	checkExposition(t, text)
	for _, want := range []string{
		`kormed_http_request_duration_seconds_bucket{path="/x\"y",le="0.0025"} 0`,
		`kormed_http_request_duration_seconds_bucket{path="/x\"y",le="0.005"} 1`,
		`kormed_http_request_duration_seconds_bucket{path="/x\"y",le="10"} 1`,
		`kormed_http_request_duration_seconds_bucket{path="/x\"y",le="+Inf"} 2`,
		`process_start_time_seconds 1.7000000005e+09`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q in\n%s", want, text)
		}
	}
	if strings.Contains(text, "process_resident_memory_bytes") {
		t.Error("unknown RSS written")
	}
}

// --- shutdown and reload

func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	svc := newService(t, false, func(b search.Backend) search.Backend {
		return &blocking{Backend: b, started: started, release: release}
	})
	s := New(svc, Options{ShutdownTimeout: 10 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Post(url+"/v1/search", "application/json", strings.NewReader(`{"query":"느린질문"}`))
		if err != nil {
			got <- result{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{status: res.StatusCode, body: string(b)}
	}()
	<-started
	cancel() // as SIGTERM does
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New connections are refused while the old request finishes.
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("a new connection was accepted during shutdown")
	}
	close(release)
	r := <-got
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"hits"`) {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last request")
	}
}

// blocking holds the query 느린질문 until release is closed.
type blocking struct {
	search.Backend
	started, release chan struct{}
}

func (b *blocking) Search(ctx context.Context, q search.Query) ([]search.Hit, error) {
	if q.Query == "느린질문" {
		close(b.started)
		<-b.release
	}
	return b.Backend.Search(ctx, q)
}

func TestReload(t *testing.T) {
	var logs syncBuffer
	var calls atomic.Int64
	s := New(newService(t, false, nil), Options{
		Logger:         slog.New(slog.NewJSONHandler(&logs, nil)),
		ReloadInterval: 5 * time.Millisecond,
		Reload: func() (bool, error) {
			switch calls.Add(1) {
			case 2:
				return true, nil
			case 3:
				return false, errors.New("manifest unreadable")
			}
			return false, nil
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"index reloaded"`) || !strings.Contains(out, "manifest unreadable") || s.reloads.Load() != 1 {
		t.Errorf("reloads %d, logs:\n%s", s.reloads.Load(), out)
	}
}

// --- the OpenAPI document

func TestOpenAPI(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comp    struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
				Required   []string                   `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	// Every route the server answers is documented, with the same methods,
	// and nothing else is.
	s := New(newService(t, false, nil), Options{})
	served := map[string][]string{}
	for _, rt := range s.routes {
		if !rt.api {
			continue
		}
		p := strings.TrimSuffix(rt.pattern, "{$}")
		for m := range rt.methods {
			served[p] = append(served[p], strings.ToLower(m))
		}
		sort.Strings(served[p])
	}
	documented := map[string][]string{}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" && m != "summary" && m != "description" {
				documented[p] = append(documented[p], m)
			}
		}
		sort.Strings(documented[p])
	}
	if !reflect.DeepEqual(served, documented) {
		t.Errorf("routes served %v\ndocumented %v", served, documented)
	}
	// The schemas have the JSON fields of the Go types.
	for name, typ := range map[string]reflect.Type{
		"Request":       reflect.TypeFor[search.Request](),
		"Response":      reflect.TypeFor[search.Response](),
		"Hit":           reflect.TypeFor[search.Hit](),
		"Part":          reflect.TypeFor[search.Part](),
		"Rule":          reflect.TypeFor[search.Rule](),
		"Doc":           reflect.TypeFor[search.Doc](),
		"Flag":          reflect.TypeFor[dur.Flag](),
		"Error":         reflect.TypeFor[errorBody](),
		"EmbedRequest":  reflect.TypeFor[EmbedRequest](),
		"EmbedResponse": reflect.TypeFor[EmbedResponse](),
		"UpsertRequest": reflect.TypeFor[UpsertRequest](),
		"Facet":         reflect.TypeFor[search.Facet](),
		"Facets":        reflect.TypeFor[FacetsResponse](),
		"Health":        reflect.TypeFor[Health](),
		"Job":           reflect.TypeFor[Job](),
	} {
		sc, ok := doc.Comp.Schemas[name]
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		var want, got []string
		for i := 0; i < typ.NumField(); i++ {
			tag := typ.Field(i).Tag.Get("json")
			n, _, _ := strings.Cut(tag, ",")
			if n != "-" && typ.Field(i).IsExported() {
				want = append(want, n)
			}
		}
		for p := range sc.Properties {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(want, got) {
			t.Errorf("schema %s has properties %v, the Go type %s has %v", name, got, typ, want)
		}
		for _, r := range sc.Required {
			if !slices.Contains(want, r) {
				t.Errorf("schema %s requires unknown %s", name, r)
			}
		}
	}
	// Every $ref resolves.
	for _, m := range regexp.MustCompile(`"\$ref": "#/components/(schemas|responses)/(\w+)"`).FindAllStringSubmatch(string(openAPI), -1) {
		if !strings.Contains(string(openAPI), `"`+m[2]+`": {`) {
			t.Errorf("dangling $ref %s", m[0])
		}
	}
}
