package hub

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

const (
	dsID      = "kormed-test/ko-retrieval"
	commitC   = "c0ffee0123456789abcdef0123456789abcdef01"
	commitCnv = "fedcba9876543210fedcba9876543210fedcba98"
)

type dsDoc struct {
	ID   string `parquet:"_id"`
	Text string `parquet:"text"`
}

type dsQrel struct {
	QID   string `parquet:"query-id"`
	DID   string `parquet:"corpus-id"`
	Score int64  `parquet:"score"`
}

func pq[T any](t *testing.T, rows []T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := parquet.Write(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mtebReadme is the YAML header of an MTEB retrieval set on the Hub:
// corpus and queries as configs, the qrels in the default config.
const mtebReadme = `---
configs:
- config_name: default
  data_files:
  - split: dev
    path: qrels/dev.jsonl
  - split: test
    path: qrels/test.jsonl
- config_name: corpus
  data_files:
  - split: corpus
    path: corpus/corpus-*.parquet
- config_name: queries
  data_files:
  - split: queries
    path: queries.parquet
---
# ko-retrieval
`

func mtebRepo(t *testing.T) *fakeRepo {
	big := make([]dsDoc, 3000)
	for i := range big {
		big[i] = dsDoc{ID: "d" + string(rune('a'+i%26)) + strings.Repeat("x", i%7), Text: strings.Repeat("고혈압 치료 ", 1+i%13)}
	}
	return &fakeRepo{commit: commitC, refs: map[string]string{"v1.0": commitC}, files: map[string]fakeFile{
		"README.md":                            {data: []byte(mtebReadme)},
		".gitattributes":                       {data: []byte("*.parquet filter=lfs\n")},
		"corpus/corpus-00000-of-00002.parquet": {data: pq(t, big), lfs: true},
		"corpus/corpus-00001-of-00002.parquet": {data: pq(t, []dsDoc{{"z1", "감기"}}), lfs: true},
		"queries.parquet":                      {data: pq(t, []dsDoc{{"q1", "혈압약"}}), lfs: true},
		"qrels/dev.jsonl":                      {data: []byte(`{"query-id":"q1","corpus-id":"z1","score":1}` + "\n")},
		"qrels/test.jsonl":                     {data: []byte(`{"query-id":"q1","corpus-id":"z1","score":2}` + "\n")},
	}}
}

func dsOpts(h *fakeHub, cache string) Options { return opts(h, cache) }

func mustRef(t *testing.T, s string) DatasetRef {
	t.Helper()
	r, err := ParseDatasetRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseDatasetRef(t *testing.T) {
	cases := map[string]DatasetRef{
		"hf://taeminlee/Ko-StrategyQA":                      {ID: "taeminlee/Ko-StrategyQA"},
		"hf://taeminlee/Ko-StrategyQA:corpus":               {ID: "taeminlee/Ko-StrategyQA", Config: "corpus"},
		"hf://o/n:queries@refs/convert/parquet":             {ID: "o/n", Config: "queries", Revision: "refs/convert/parquet"},
		"hf://o/n@d243889a3eb6654029dbd7e7f9319ae31d58f97c": {ID: "o/n", Revision: "d243889a3eb6654029dbd7e7f9319ae31d58f97c"},
	}
	for in, want := range cases {
		got, err := ParseDatasetRef(in)
		if err != nil || got != want {
			t.Errorf("ParseDatasetRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("String() = %q, want %q", got.String(), in)
		}
	}
	for _, bad := range []string{"o/n", "hf://", "hf://o/n/x", "hf://o/n:", "hf://o/n@", "hf://o/n@../x", "hf://o--n/x"} {
		if _, err := ParseDatasetRef(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ParseDatasetRef(%q): %v, want ErrInvalidID", bad, err)
		}
	}
}

func TestDatasetMTEBLayoutAndCache(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := mtebRepo(t)
	h.add("datasets/"+dsID, repo)
	cache := t.TempDir()
	ctx := context.Background()
	o := dsOpts(h, cache)

	corpus, err := DatasetSplit(ctx, mustRef(t, "hf://"+dsID+":corpus"), "", o)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"corpus/corpus-00000-of-00002.parquet", "corpus/corpus-00001-of-00002.parquet"}
	if !reflect.DeepEqual(corpus.Names, wantNames) || corpus.Split != "corpus" || corpus.Config != "corpus" || corpus.Commit != commitC {
		t.Fatalf("corpus %+v", corpus)
	}
	storage := filepath.Join(cache, "datasets--kormed-test--ko-retrieval")
	if DatasetFolder(cache, dsID) != storage {
		t.Fatalf("DatasetFolder %s", DatasetFolder(cache, dsID))
	}
	for i, p := range corpus.Paths {
		if p != filepath.Join(storage, "snapshots", commitC, wantNames[i]) {
			t.Errorf("path %s", p)
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, repo.files[wantNames[i]].data) {
			t.Errorf("%s: content differs (%v)", p, err)
		}
		target, _ := os.Readlink(p)
		if target != "../../../blobs/"+repo.files[wantNames[i]].etag() {
			t.Errorf("%s links to %s", p, target)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(storage, "refs", "main")); string(b) != commitC {
		t.Errorf("refs/main = %q", b)
	}
	var sawAPI, sawResolve bool
	for _, r := range h.requests() {
		sawAPI = sawAPI || r == "GET /api/datasets/"+dsID+"/revision/main"
		sawResolve = sawResolve || strings.HasPrefix(r, "HEAD /datasets/"+dsID+"/resolve/"+commitC+"/corpus/")
	}
	if !sawAPI || !sawResolve {
		t.Errorf("requests %v", h.requests())
	}

	// The qrels in the default config, by split; dev is found as dev.
	for split, want := range map[string]string{"test": "qrels/test.jsonl", "dev": "qrels/dev.jsonl"} {
		f, err := DatasetSplit(ctx, mustRef(t, "hf://"+dsID), split, o)
		if err != nil || !reflect.DeepEqual(f.Names, []string{want}) || f.Config != "default" {
			t.Fatalf("split %s: %+v %v", split, f, err)
		}
	}
	_, err = DatasetSplit(ctx, mustRef(t, "hf://"+dsID), "train", o)
	if !errors.Is(err, ErrNoData) || errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "dev, test") {
		t.Fatalf("missing split: %v", err)
	}
	_, err = DatasetSplit(ctx, mustRef(t, "hf://"+dsID+":nope"), "", o)
	if !errors.Is(err, ErrNoConfig) || !strings.HasSuffix(err.Error(), "default, corpus, queries: no data files") {
		t.Fatalf("missing config: %v", err)
	}

	// A tag resolves to its commit and gets its own ref.
	q, err := DatasetSplit(ctx, mustRef(t, "hf://"+dsID+":queries@v1.0"), "", o)
	if err != nil || q.Commit != commitC {
		t.Fatalf("tag: %+v %v", q, err)
	}
	if b, _ := os.ReadFile(filepath.Join(storage, "refs", "v1.0")); string(b) != commitC {
		t.Errorf("refs/v1.0 = %q", b)
	}

	// Offline with the cache: no request, same files.
	h.resetRequests()
	t.Setenv("HF_HUB_OFFLINE", "1")
	off, err := DatasetSplit(ctx, mustRef(t, "hf://"+dsID+":corpus"), "", dsOpts(h, cache))
	if err != nil || !reflect.DeepEqual(off.Paths, corpus.Paths) {
		t.Fatalf("offline: %+v %v", off, err)
	}
	if len(h.requests()) != 0 {
		t.Errorf("offline made requests %v", h.requests())
	}
}

func TestDatasetOfflineNothingCached(t *testing.T) {
	noEnv(t)
	t.Setenv("HF_HUB_OFFLINE", "1")
	cache := t.TempDir()
	_, err := DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID+":corpus"), "", Options{CacheDir: cache})
	if !errors.Is(err, ErrNotCached) {
		t.Fatalf("err %v, want ErrNotCached", err)
	}
	for _, want := range []string{"HF_HUB_OFFLINE=1", "huggingface-cli download --repo-type dataset " + dsID,
		filepath.Join(cache, "datasets--kormed-test--ko-retrieval"), "--revision refs/convert/parquet"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// With a revision, the command names it.
	_, err = DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID+"@v1.0"), "", Options{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "--repo-type dataset "+dsID+" --revision v1.0") {
		t.Fatalf("revision: %v", err)
	}
}

func TestDatasetPrivateNeedsToken(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := mtebRepo(t)
	repo.private = true
	h.add("datasets/"+dsID, repo)
	ctx := context.Background()
	_, err := DatasetSplit(ctx, mustRef(t, "hf://"+dsID+":queries"), "", dsOpts(h, t.TempDir()))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "dataset "+dsID) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
	t.Setenv("HF_TOKEN", "hf_good")
	f, err := DatasetSplit(ctx, mustRef(t, "hf://"+dsID+":queries"), "", dsOpts(h, t.TempDir()))
	if err != nil || len(f.Paths) != 1 {
		t.Fatalf("with token: %+v %v", f, err)
	}
}

func TestDatasetResumeInterruptedDownload(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := mtebRepo(t)
	h.add("datasets/"+dsID, repo)
	big := repo.files["corpus/corpus-00000-of-00002.parquet"]
	h.cutOnce[big.etag()] = len(big.data) / 3
	f, err := DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID+":corpus"), "", dsOpts(h, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Paths[0])
	if !bytes.Equal(b, big.data) {
		t.Fatal("resumed file differs")
	}
	resumed := false
	for _, r := range h.requests() {
		resumed = resumed || strings.HasSuffix(r, "bytes="+strconv.Itoa(len(big.data)/3)+"-")
	}
	if !resumed {
		t.Errorf("no Range request resuming at %d: %v", len(big.data)/3, h.requests())
	}
	if s := h.sent(); s > int64(len(big.data))+int64(len(repo.files["corpus/corpus-00001-of-00002.parquet"].data))+1000 {
		t.Errorf("CDN sent %d bytes: the download restarted instead of resuming", s)
	}
}

func TestDatasetParquetConversion(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	// A repo with a loading script and raw text: nothing kormed reads.
	h.add("datasets/"+dsID, &fakeRepo{commit: commitC, files: map[string]fakeFile{
		"ko-retrieval.py": {data: []byte("import datasets\n")},
		"data/raw.txt":    {data: []byte("x\n")},
	}})
	h.add("datasets/"+dsID+"@refs/convert/parquet", &fakeRepo{commit: commitCnv, files: map[string]fakeFile{
		"default/train/0000.parquet":    {data: pq(t, []dsDoc{{"1", "a"}}), lfs: true},
		"default/train/0001.parquet":    {data: pq(t, []dsDoc{{"2", "b"}}), lfs: true},
		"default/test/0000.parquet":     {data: pq(t, []dsDoc{{"3", "c"}}), lfs: true},
		"ko/partial-train/0000.parquet": {data: pq(t, []dsDoc{{"4", "d"}}), lfs: true},
	}})
	cache := t.TempDir()
	var log bytes.Buffer
	o := dsOpts(h, cache)
	o.Log = &log
	f, err := DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID), "train", o)
	if err != nil {
		t.Fatal(err)
	}
	if f.Revision != ConvertedRevision || f.Commit != commitCnv || !reflect.DeepEqual(f.Names, []string{"default/train/0000.parquet", "default/train/0001.parquet"}) {
		t.Fatalf("conversion: %+v", f)
	}
	if !strings.Contains(log.String(), ConvertedRevision) {
		t.Errorf("no notice of the conversion: %q", log.String())
	}
	storage := filepath.Join(cache, "datasets--kormed-test--ko-retrieval")
	if b, _ := os.ReadFile(filepath.Join(storage, "refs", "refs", "convert", "parquet")); string(b) != commitCnv {
		t.Errorf("refs/refs/convert/parquet = %q", b)
	}
	g, err := DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID+":ko"), "", o)
	if err != nil || !reflect.DeepEqual(g.Names, []string{"ko/partial-train/0000.parquet"}) {
		t.Fatalf("partial conversion: %+v %v", g, err)
	}
	// Offline, the cached conversion is used by naming the revision.
	t.Setenv("HF_HUB_OFFLINE", "1")
	f2, err := DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID+"@refs/convert/parquet"), "train", dsOpts(h, cache))
	if err != nil || !reflect.DeepEqual(f2.Paths, f.Paths) {
		t.Fatalf("offline conversion: %+v %v", f2, err)
	}
}

func TestSelectFilesDefaultLayout(t *testing.T) {
	ref := DatasetRef{ID: "o/n"}
	files := []string{"README.md", "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet",
		"data/validation-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"}
	for split, want := range map[string][]string{
		"":           {"data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"},
		"dev":        {"data/validation-00000-of-00001.parquet"},
		"validation": {"data/validation-00000-of-00001.parquet"},
		"test":       {"data/test-00000-of-00001.parquet"},
	} {
		got, _, _, err := selectFiles(files, nil, ref, split)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("split %q: %v %v, want %v", split, got, err, want)
		}
	}
	// BEIR files: corpus and queries by file name, qrels by split.
	beir := []string{"corpus.jsonl.gz", "queries.jsonl", "qrels/dev.tsv", "qrels/test.tsv"}
	check := func(config, split string, want ...string) {
		t.Helper()
		got, _, _, err := selectFiles(beir, nil, ref.WithConfig(config), split)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("config %q split %q: %v %v, want %v", config, split, got, err, want)
		}
	}
	check("corpus", "", "corpus.jsonl.gz")
	check("queries", "", "queries.jsonl")
	check("", "test", "qrels/test.tsv")
	check("qrels", "dev", "qrels/dev.tsv")
	// Split folders.
	got, _, _, err := selectFiles([]string{"train/a.csv", "test/b.csv", "test/c.csv"}, nil, ref, "test")
	if err != nil || !reflect.DeepEqual(got, []string{"test/b.csv", "test/c.csv"}) {
		t.Errorf("split folders: %v %v", got, err)
	}
	// No readable file → errNoReadable (the conversion is tried).
	if _, _, _, err := selectFiles([]string{"x.py", "y.arrow", "dataset_infos.json", ".github/x.json"}, nil, ref, ""); !errors.Is(err, errNoReadable) {
		t.Errorf("script repo: %v", err)
	}
}

func TestReadmeConfigForms(t *testing.T) {
	cfgs, err := parseReadmeConfigs([]byte("---\nlicense: mit\nconfigs:\n- config_name: a\n  default: true\n  data_files: a/*.csv\n" +
		"- config_name: b\n  data_files:\n    train: b/tr*.jsonl\n    test: [b/te.jsonl]\n- config_name: c\n  data_files:\n  - split: test\n    path:\n    - c/**\n---\nbody\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 3 || !cfgs[0].Default || cfgs[0].Files["train"][0] != "a/*.csv" || cfgs[1].Files["test"][0] != "b/te.jsonl" || cfgs[2].Files["test"][0] != "c/**" {
		t.Fatalf("%+v", cfgs)
	}
	files := []string{"a/1.csv", "a/x/2.csv", "b/train.jsonl", "b/te.jsonl", "c/d/e.parquet"}
	for _, c := range []struct {
		config, split string
		want          []string
	}{{"", "", []string{"a/1.csv"}}, {"b", "test", []string{"b/te.jsonl"}}, {"c", "test", []string{"c/d/e.parquet"}}} {
		got, _, _, err := selectFiles(files, cfgs, DatasetRef{ID: "o/n", Config: c.config}, c.split)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s/%s: %v %v, want %v", c.config, c.split, got, err, c.want)
		}
	}
}

// TestDatasetEndpointEnvAndUnreachableHub takes the Hub from HF_ENDPOINT,
// and uses the cached snapshot when the Hub cannot be reached.
func TestDatasetEndpointEnvAndUnreachableHub(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	h.add("datasets/"+dsID, mtebRepo(t))
	t.Setenv("HF_ENDPOINT", h.srv.URL)
	cache := t.TempDir()
	o := Options{CacheDir: cache, Client: h.srv.Client()}
	f, err := DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID+":queries"), "", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.requests()) == 0 {
		t.Fatal("HF_ENDPOINT not used")
	}
	h.srv.Close()
	var log bytes.Buffer
	o.Log = &log
	g, err := DatasetSplit(context.Background(), mustRef(t, "hf://"+dsID+":queries"), "", o)
	if err != nil || !reflect.DeepEqual(g.Paths, f.Paths) || !strings.Contains(log.String(), "using the cached snapshot") {
		t.Fatalf("unreachable hub: %+v %v (log %q)", g, err, log.String())
	}
}
