package hub

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	commitB = "89abcdef0123456789abcdef0123456789abcdef"
	// git hash-object of the config below, computed with git itself.
	configJSON     = "{\"hidden_size\": 8}\n"
	configGitSHA1  = "bc77bf8f7cdcf1bc3b843a77809edf1d1367b78e"
	configSHA256   = "6102b7b977af452ba2973005c4d51e7c9cf9b788557fcf7dab3585b98cda16fe"
	tinyID         = "kormed-test/tiny-e5"
	tinyModulesSTR = `[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
 {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]`
)

func tinyRepo() *fakeRepo {
	return &fakeRepo{commit: commitA, files: map[string]fakeFile{
		"config.json":                       {data: []byte(configJSON)},
		"tokenizer.json":                    {data: []byte(`{"model":{"type":"Unigram"}}`)},
		"tokenizer_config.json":             {data: []byte(`{"model_max_length":512}`)},
		"special_tokens_map.json":           {data: []byte(`{"cls_token":"<s>"}`)},
		"modules.json":                      {data: []byte(tinyModulesSTR)},
		"sentence_bert_config.json":         {data: []byte(`{"max_seq_length":512}`)},
		"config_sentence_transformers.json": {data: []byte(`{"prompts":{}}`)},
		"1_Pooling/config.json":             {data: []byte(`{"pooling_mode_mean_tokens":true}`)},
		"model.safetensors":                 {data: randBytes(1, 300_000), lfs: true},
		"pytorch_model.bin":                 {data: randBytes(2, 1000), lfs: true},
		"onnx/model.onnx":                   {data: randBytes(3, 1000), lfs: true},
		"README.md":                         {data: []byte("# tiny\n")},
	}}
}

var tinyWanted = []string{"1_Pooling/config.json", "config.json", "config_sentence_transformers.json", "model.safetensors",
	"modules.json", "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"}

func opts(h *fakeHub, cache string) Options {
	return Options{CacheDir: cache, Endpoint: h.srv.URL, Client: h.srv.Client()}
}

// noEnv clears the HF variables so the machine's settings cannot leak in.
func noEnv(t *testing.T) {
	for _, k := range []string{"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
		"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "XDG_CACHE_HOME", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT"} {
		t.Setenv(k, "")
	}
	t.Setenv("HF_TOKEN_PATH", filepath.Join(t.TempDir(), "no-token"))
}

func resolveOK(t *testing.T, id string, o Options) string {
	t.Helper()
	dir, err := Resolve(context.Background(), id, o)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", id, err)
	}
	return dir
}

// snapshotFiles lists the regular files (through symlinks) under dir.
func snapshotFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode()&os.ModeSymlink != 0 || info.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestResolveCacheLayout(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	h.add(tinyID, tinyRepo())
	cache := t.TempDir()
	o := opts(h, cache)
	o.Token = ""
	dir := resolveOK(t, tinyID, o)

	storage := filepath.Join(cache, "models--kormed-test--tiny-e5")
	if want := filepath.Join(storage, "snapshots", commitA); dir != want {
		t.Fatalf("dir = %s, want %s", dir, want)
	}
	if b, err := os.ReadFile(filepath.Join(storage, "refs", "main")); err != nil || string(b) != commitA {
		t.Fatalf("refs/main = %q, %v; want the bare commit %s", b, err, commitA)
	}
	if got := snapshotFiles(t, dir); strings.Join(got, ",") != strings.Join(tinyWanted, ",") {
		t.Fatalf("snapshot files\n got %v\nwant %v", got, tinyWanted)
	}
	repo := tinyRepo()
	for _, f := range tinyWanted {
		p := filepath.Join(dir, filepath.FromSlash(f))
		link, err := os.Readlink(p)
		if err != nil {
			t.Fatalf("%s is not a symlink: %v", f, err)
		}
		up := strings.Repeat("../", 2+strings.Count(f, "/"))
		if want := up + "blobs/" + repo.files[f].etag(); link != want {
			t.Errorf("%s -> %s, want %s", f, link, want)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, repo.files[f].data) {
			t.Errorf("%s: content differs", f)
		}
	}
	// Hand-checked blob names: the git blob sha1 for a regular file (not
	// its sha256), the sha256 for an LFS file.
	if link, _ := os.Readlink(filepath.Join(dir, "config.json")); link != "../../blobs/"+configGitSHA1 {
		t.Errorf("config.json -> %s, want ../../blobs/%s (git hash-object)", link, configGitSHA1)
	}
	if _, err := os.Stat(filepath.Join(storage, "blobs", configSHA256)); err == nil {
		t.Error("regular file stored under its sha256")
	}
	if link, _ := os.Readlink(filepath.Join(dir, "model.safetensors")); link != "../../blobs/"+sha256hex(repo.files["model.safetensors"].data) {
		t.Errorf("model.safetensors -> %s", link)
	}
	blobs, _ := os.ReadDir(filepath.Join(storage, "blobs"))
	if len(blobs) != len(tinyWanted) {
		t.Errorf("%d blobs, want %d", len(blobs), len(tinyWanted))
	}
	for _, b := range blobs {
		if strings.HasSuffix(b.Name(), ".incomplete") {
			t.Errorf("left %s", b.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(cache, ".locks", "models--kormed-test--tiny-e5", sha256hex(repo.files["model.safetensors"].data)+".lock")); err != nil {
		t.Errorf("no lock file in .locks: %v", err)
	}
	for _, r := range h.requests() {
		if strings.Contains(r, "pytorch_model.bin") || strings.Contains(r, "onnx") || strings.Contains(r, "README") {
			t.Errorf("fetched an unneeded file: %s", r)
		}
	}
	if h.authedCDN() != 0 {
		t.Errorf("Authorization sent to the CDN host %d times", h.authedCDN())
	}

	// A second online resolve costs one API call and no file request.
	h.resetRequests()
	if dir2 := resolveOK(t, tinyID, o); dir2 != dir {
		t.Fatalf("second resolve %s != %s", dir2, dir)
	}
	if r := h.requests(); len(r) != 1 || !strings.HasPrefix(r[0], "GET /api/models/kormed-test/tiny-e5/revision/main") {
		t.Errorf("warm resolve made requests %v, want only the API listing", r)
	}
}

func TestResolveTokenIsSent(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	r := tinyRepo()
	r.private = true
	h.add("kormed-test/private", r)
	o := opts(h, t.TempDir())
	o.Token = "hf_good"
	resolveOK(t, "kormed-test/private", o)
	if h.authedCDN() != 0 {
		t.Errorf("token leaked to the CDN host")
	}
}

func TestAuthErrors(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	priv := tinyRepo()
	priv.private = true
	h.add("kormed-test/private", priv)
	gated := tinyRepo()
	gated.gated = true
	h.add("kormed-test/gated", gated)
	h.add(tinyID, tinyRepo())
	cases := []struct {
		id, token, rev string
		kind           error
		want           string
	}{
		{"kormed-test/nope", "", "", ErrNotFound, "model kormed-test/nope not found at " + h.srv.URL + ": check the id; if it is private, set HF_TOKEN"},
		{"kormed-test/private", "", "", ErrNotFound, "if it is private, set HF_TOKEN"},
		{"kormed-test/private", "hf_bad", "", ErrUnauthorized, "the Hugging Face token was rejected by " + h.srv.URL + " (HTTP 401: Invalid credentials in Authorization header)"},
		{"kormed-test/gated", "", "", ErrGated, "model kormed-test/gated is gated: log in at " + h.srv.URL + "/kormed-test/gated, accept its conditions, then set HF_TOKEN"},
		{"kormed-test/gated", "hf_good", "", ErrGated, "this token has no access to it (HTTP 403"},
		{tinyID, "", "v9", ErrNotFound, `revision "v9" not found in model kormed-test/tiny-e5`},
	}
	for _, c := range cases {
		o := opts(h, t.TempDir())
		o.Token, o.Revision = c.token, c.rev
		_, err := Resolve(context.Background(), c.id, o)
		if err == nil || !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s token %q: err = %v\nwant %v containing %q", c.id, c.token, err, c.kind, c.want)
		}
	}
	o := opts(h, t.TempDir())
	o.Token = "hf_access"
	resolveOK(t, "kormed-test/gated", o)
}

func TestShardedWeightsAndDense(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	idx := `{"metadata":{"total_size":3},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}`
	h.add("kormed-test/sharded", &fakeRepo{commit: commitB, files: map[string]fakeFile{
		"config.json":                      {data: []byte(configJSON)},
		"tokenizer.json":                   {data: []byte(`{}`)},
		"model.safetensors.index.json":     {data: []byte(idx)},
		"model-00001-of-00002.safetensors": {data: randBytes(4, 5000), lfs: true},
		"model-00002-of-00002.safetensors": {data: randBytes(5, 6000), lfs: true},
		"model-00003-of-00003.safetensors": {data: randBytes(6, 10), lfs: true}, // not in the index
		"modules.json":                     {data: []byte(`[{"idx":0,"path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"path":"2_Dense","type":"sentence_transformers.models.Dense"}]`)},
		"1_Pooling/config.json":            {data: []byte(`{}`)},
		"2_Dense/config.json":              {data: []byte(`{"in_features":8}`)},
		"2_Dense/model.safetensors":        {data: randBytes(7, 700), lfs: true},
		"2_Dense/pytorch_model.bin":        {data: randBytes(8, 700), lfs: true},
	}})
	dir := resolveOK(t, "kormed-test/sharded", opts(h, t.TempDir()))
	want := []string{"1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "config.json",
		"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "modules.json", "tokenizer.json"}
	if got := snapshotFiles(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if link, _ := os.Readlink(filepath.Join(dir, "2_Dense", "model.safetensors")); link != "../../../blobs/"+sha256hex(randBytes(7, 700)) {
		t.Errorf("2_Dense/model.safetensors -> %s", link)
	}
	// Offline, the index tells which shards must be there.
	o := opts(h, filepath.Dir(filepath.Dir(filepath.Dir(dir))))
	o.Offline = true
	os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
	_, err := Resolve(context.Background(), "kormed-test/sharded", o)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "is only partly in the Hugging Face cache") || !strings.Contains(err.Error(), "missing model-00002-of-00002.safetensors") {
		t.Errorf("offline with a shard missing: %v", err)
	}
}

// TestSlowTokenizerFiles: a repo's sentencepiece model and other
// tokenizer files are fetched with tokenizer.json (a fine-tune saved from
// the model copies them); other files are not.
func TestSlowTokenizerFiles(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := tinyRepo()
	repo.files["sentencepiece.bpe.model"] = fakeFile{data: randBytes(10, 5000), lfs: true}
	repo.files["added_tokens.json"] = fakeFile{data: []byte(`{}`)}
	repo.files["notes.txt"] = fakeFile{data: []byte("no")}
	h.add(tinyID, repo)
	dir := resolveOK(t, tinyID, opts(h, t.TempDir()))
	want := append([]string{"added_tokens.json"}, tinyWanted...)
	want = append(want, "sentencepiece.bpe.model")
	sort.Strings(want)
	if got := snapshotFiles(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("snapshot files\n got %v\nwant %v", got, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sentencepiece.bpe.model")); !bytes.Equal(got, randBytes(10, 5000)) {
		t.Error("sentencepiece.bpe.model: content differs")
	}
	// Offline, a cache without them still resolves.
	o := opts(h, filepath.Dir(filepath.Dir(filepath.Dir(dir))))
	o.Offline = true
	os.Remove(filepath.Join(dir, "sentencepiece.bpe.model"))
	if _, err := Resolve(context.Background(), tinyID, o); err != nil {
		t.Errorf("offline without the optional files: %v", err)
	}
}

func TestOnlyPytorchBin(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	h.add("kormed-test/bin-only", &fakeRepo{commit: commitA, files: map[string]fakeFile{
		"config.json":       {data: []byte(configJSON)},
		"tokenizer.json":    {data: []byte(`{}`)},
		"pytorch_model.bin": {data: randBytes(9, 100), lfs: true},
	}})
	_, err := Resolve(context.Background(), "kormed-test/bin-only", opts(h, t.TempDir()))
	if !errors.Is(err, ErrNoSafetensors) || !strings.Contains(err.Error(), "has pytorch_model.bin but no model.safetensors; kormed reads safetensors only") {
		t.Fatalf("err = %v", err)
	}
	for _, r := range h.requests() {
		if strings.Contains(r, "pytorch_model.bin") {
			t.Errorf("downloaded %s", r)
		}
	}
}

func TestResumeAfterInterruptedTransfer(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add(tinyID, repo)
	w := repo.files["model.safetensors"]
	h.cutOnce[w.etag()] = 100_000
	var log bytes.Buffer
	o := opts(h, t.TempDir())
	o.Log = &log
	dir := resolveOK(t, tinyID, o)
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, w.data) {
		t.Fatal("resumed file differs")
	}
	var ranges []string
	for _, r := range h.requests() {
		if strings.HasPrefix(r, "GET /cdn/") {
			ranges = append(ranges, strings.TrimPrefix(r, "GET /cdn/"+w.etag()))
		}
	}
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != " bytes=100000-" {
		t.Errorf("CDN requests %q, want a full GET then Range bytes=100000-", ranges)
	}
	if h.sent() != int64(len(w.data)) {
		t.Errorf("CDN sent %d bytes for a %d byte file", h.sent(), len(w.data))
	}
	if !strings.Contains(log.String(), "interrupted at 100000 bytes") {
		t.Errorf("log %q", log.String())
	}
}

func TestStalledTransferIsResumed(t *testing.T) {
	noEnv(t)
	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.2")
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add(tinyID, repo)
	w := repo.files["model.safetensors"]
	h.hangOnce[w.etag()] = 50_000
	var log bytes.Buffer
	o := opts(h, t.TempDir())
	o.Log = &log
	dir := resolveOK(t, tinyID, o)
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, w.data) {
		t.Fatal("resumed file differs")
	}
	if !strings.Contains(log.String(), "interrupted at 50000 bytes (no data for 200ms); resuming") {
		t.Errorf("log %q", log.String())
	}
	if n := h.sent(); n != int64(len(w.data)) {
		t.Errorf("CDN sent %d bytes, want %d", n, len(w.data))
	}
}

func TestResumeIncompleteFileFromEarlierRun(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add(tinyID, repo)
	w := repo.files["model.safetensors"]
	cache := t.TempDir()
	blobs := filepath.Join(cache, "models--kormed-test--tiny-e5", "blobs")
	os.MkdirAll(blobs, 0o755)
	os.WriteFile(filepath.Join(blobs, w.etag()+".incomplete"), w.data[:123_456], 0o644)
	dir := resolveOK(t, tinyID, opts(h, cache))
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, w.data) {
		t.Fatal("resumed file differs")
	}
	if h.sent() != int64(len(w.data)-123_456) {
		t.Errorf("CDN sent %d bytes, want only the missing %d", h.sent(), len(w.data)-123_456)
	}
}

func TestChecksumMismatchDeletes(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add(tinyID, repo)
	w := repo.files["model.safetensors"]
	h.corrupt[w.etag()] = true
	cache := t.TempDir()
	_, err := Resolve(context.Background(), tinyID, opts(h, cache))
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "model.safetensors of kormed-test/tiny-e5") ||
		!strings.Contains(err.Error(), "want "+w.etag()) || !strings.Contains(err.Error(), "the download was deleted") {
		t.Fatalf("err = %v", err)
	}
	storage := filepath.Join(cache, "models--kormed-test--tiny-e5")
	for _, p := range []string{"blobs/" + w.etag(), "blobs/" + w.etag() + ".incomplete", "snapshots/" + commitA + "/model.safetensors"} {
		if _, err := os.Lstat(filepath.Join(storage, p)); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	// A good server afterwards: it downloads cleanly.
	h.corrupt = map[string]bool{}
	resolveOK(t, tinyID, opts(h, cache))
}

func TestOffline(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	h.add(tinyID, tinyRepo())
	cache := t.TempDir()
	online := resolveOK(t, tinyID, opts(h, cache))
	h.resetRequests()

	o := opts(h, cache)
	o.Offline = true
	if dir := resolveOK(t, tinyID, o); dir != online {
		t.Errorf("offline %s != online %s", dir, online)
	}
	o.Revision = commitA // a commit needs no ref
	if dir := resolveOK(t, tinyID, o); dir != online {
		t.Errorf("offline by commit %s", dir)
	}
	// HF_HUB_OFFLINE=1 in the environment does the same.
	t.Setenv("HF_HUB_OFFLINE", "1")
	if dir := resolveOK(t, tinyID, opts(h, cache)); dir != online {
		t.Errorf("HF_HUB_OFFLINE: %s", dir)
	}
	if r := h.requests(); len(r) != 0 {
		t.Errorf("offline made requests %v", r)
	}

	// Nothing cached: one error saying what to do.
	_, err := Resolve(context.Background(), "intfloat/multilingual-e5-small", Options{CacheDir: "/root/.cache/huggingface/hub"})
	want := "model intfloat/multilingual-e5-small is not in the Hugging Face cache at /root/.cache/huggingface/hub and HF_HUB_OFFLINE=1; " +
		"download it on a connected machine with `huggingface-cli download intfloat/multilingual-e5-small` " +
		"(or `kormed download --model intfloat/multilingual-e5-small`) and copy the cache folder here, or pass --model /path/to/folder"
	if err == nil || err.Error() != want || !errors.Is(err, ErrNotCached) {
		t.Errorf("offline miss:\n got %v\nwant %s", err, want)
	}
	t.Setenv("HF_HUB_OFFLINE", "")

	// Partly cached (only config.json, as AutoConfig leaves it): say what is missing.
	os.Remove(filepath.Join(online, "model.safetensors"))
	o = opts(h, cache)
	o.Offline = true
	_, err = Resolve(context.Background(), tinyID, o)
	if err == nil || !strings.Contains(err.Error(), "is only partly in the Hugging Face cache at "+cache+" (missing model.safetensors) and offline mode is on") {
		t.Errorf("partial cache: %v", err)
	}
}

func TestUnreachableHubFallsBackToCache(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	h.add(tinyID, tinyRepo())
	cache := t.TempDir()
	online := resolveOK(t, tinyID, opts(h, cache))

	var log bytes.Buffer
	o := opts(h, cache)
	o.Log = &log
	h.failAll = true // 503 everywhere
	if dir := resolveOK(t, tinyID, o); dir != online {
		t.Errorf("503 fallback dir %s", dir)
	}
	if !strings.Contains(log.String(), "answered HTTP 503") || !strings.Contains(log.String(), "using the cached snapshot") {
		t.Errorf("log %q", log.String())
	}
	h.srv.Close() // connection refused
	o.Log = nil
	if dir := resolveOK(t, tinyID, o); dir != online {
		t.Errorf("refused fallback dir %s", dir)
	}
	_, err := Resolve(context.Background(), "kormed-test/other", o)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "model kormed-test/other is not in the Hugging Face cache at "+cache+" and cannot reach "+h.srv.URL) ||
		!strings.Contains(err.Error(), "huggingface-cli download kormed-test/other") {
		t.Errorf("unreachable miss: %v", err)
	}
	// Download never falls back.
	if _, err := Download(context.Background(), tinyID, o); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("Download with the hub down: %v", err)
	}
}

func TestRenamedRepoRelativeRedirect(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	h.add(tinyID, tinyRepo())
	h.renamed["old-org/tiny"] = tinyID
	cache := t.TempDir()
	dir := resolveOK(t, "old-org/tiny", opts(h, cache))
	if want := filepath.Join(cache, "models--old-org--tiny", "snapshots", commitA); dir != want {
		t.Errorf("dir %s, want %s", dir, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(got) != configJSON {
		t.Errorf("config %q", got)
	}
}

func TestConcurrentResolveSameCache(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add(tinyID, repo)
	cache := t.TempDir()
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	errs := make([]error, 4)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = Resolve(context.Background(), tinyID, opts(h, cache))
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("resolver %d: %s %v", i, dirs[i], errs[i])
		}
	}
	w := repo.files["model.safetensors"]
	if got, _ := os.ReadFile(filepath.Join(dirs[0], "model.safetensors")); !bytes.Equal(got, w.data) {
		t.Fatal("content differs")
	}
	if h.sent() != int64(len(w.data)) {
		t.Errorf("the blob was transferred %d bytes for %d: the lock did not hold", h.sent(), len(w.data))
	}
}

func TestLocalFolderAndIDs(t *testing.T) {
	noEnv(t)
	dir := t.TempDir()
	if got, err := Resolve(context.Background(), dir, Options{Offline: true}); err != nil || got != dir {
		t.Errorf("folder: %s %v", got, err)
	}
	f := filepath.Join(dir, "model.safetensors")
	os.WriteFile(f, nil, 0o644)
	if _, err := Resolve(context.Background(), f, Options{}); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("file: %v", err)
	}
	if _, err := Resolve(context.Background(), "./no/such/dir", Options{}); err == nil || !strings.Contains(err.Error(), "model folder ./no/such/dir does not exist") {
		t.Errorf("missing folder: %v", err)
	}
	for _, id := range []string{"intfloat/multilingual-e5-small", "bert-base-uncased", "a/b", "Org_1/x.y-z"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"a//b", "-a/b", "a/b-", "a--b/c", "a/b..c", "a/b.git", "a/b c", "https://huggingface.co/a/b", "a/" + strings.Repeat("x", 97), "a/b/c/"} {
		_, err := Resolve(context.Background(), id, Options{Offline: true})
		if !errors.Is(err, ErrInvalidID) && !(strings.Count(id, "/") > 1 && err != nil) {
			t.Errorf("Resolve(%q) = %v, want an invalid-id error", id, err)
		}
	}
	if err := ValidateID("a/b c"); err == nil || !strings.Contains(err.Error(), `invalid model id "a/b c"`) {
		t.Errorf("message: %v", err)
	}
	if _, err := Resolve(context.Background(), "a/b", Options{Revision: "../../etc", Offline: true}); err == nil || !strings.Contains(err.Error(), "invalid revision") {
		t.Errorf("revision escape: %v", err)
	}
}

func TestEnvDefaults(t *testing.T) {
	noEnv(t)
	home, _ := os.UserHomeDir()
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if got := defaultCacheDir(get); got != filepath.Join(home, ".cache", "huggingface", "hub") {
		t.Errorf("default cache %s", got)
	}
	env["XDG_CACHE_HOME"] = "/xdg"
	if got := defaultCacheDir(get); got != "/xdg/huggingface/hub" {
		t.Errorf("XDG cache %s", got)
	}
	env["HF_HOME"] = "/hf"
	if got := defaultCacheDir(get); got != "/hf/hub" {
		t.Errorf("HF_HOME cache %s", got)
	}
	env["HUGGINGFACE_HUB_CACHE"] = "/legacy"
	if got := defaultCacheDir(get); got != "/legacy" {
		t.Errorf("legacy cache %s", got)
	}
	env["HF_HUB_CACHE"] = "/new"
	if got := defaultCacheDir(get); got != "/new" {
		t.Errorf("HF_HUB_CACHE %s", got)
	}
	for v, want := range map[string]bool{"1": true, "true": true, "YES": true, "on": true, "0": false, "": false, "no": false} {
		env["HF_HUB_OFFLINE"] = v
		if defaultOffline(get) != want {
			t.Errorf("HF_HUB_OFFLINE=%q", v)
		}
	}
	env["HF_HUB_OFFLINE"] = ""
	env["TRANSFORMERS_OFFLINE"] = "1"
	if !defaultOffline(get) {
		t.Error("TRANSFORMERS_OFFLINE=1 ignored")
	}
	hfHomeDir := t.TempDir()
	env["HF_HOME"] = hfHomeDir
	os.WriteFile(filepath.Join(hfHomeDir, "token"), []byte("hf_fromfile\n"), 0o600)
	if got := defaultToken(get); got != "hf_fromfile" {
		t.Errorf("token file: %q", got)
	}
	env["HUGGING_FACE_HUB_TOKEN"] = "hf_legacy"
	if got := defaultToken(get); got != "hf_legacy" {
		t.Errorf("legacy token: %q", got)
	}
	env["HF_TOKEN"] = "hf_new"
	if got := defaultToken(get); got != "hf_new" {
		t.Errorf("HF_TOKEN: %q", got)
	}
	if got := defaultEndpoint(get); got != DefaultEndpoint {
		t.Errorf("endpoint %s", got)
	}
	env["HF_ENDPOINT"] = "https://hf-mirror.example/"
	if got := defaultEndpoint(get); got != "https://hf-mirror.example" {
		t.Errorf("HF_ENDPOINT %s", got)
	}
}

func TestVerifyBlobGitSHA1(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b")
	os.WriteFile(p, []byte(configJSON), 0o644)
	if err := verifyBlob(p, &fileMeta{etag: configGitSHA1, size: int64(len(configJSON))}); err != nil {
		t.Errorf("git sha1 of the config: %v", err)
	}
	if err := verifyBlob(p, &fileMeta{etag: configSHA256, size: -1}); err != nil {
		t.Errorf("sha256 of the config: %v", err)
	}
	err := verifyBlob(p, &fileMeta{etag: strings.Repeat("0", 40), size: -1})
	if err == nil || !strings.Contains(err.Error(), "git blob sha1 "+configGitSHA1) {
		t.Errorf("bad sha1: %v", err)
	}
	if err := verifyBlob(p, &fileMeta{etag: configGitSHA1, size: 5}); err == nil || !strings.Contains(err.Error(), "size 19, want 5") {
		t.Errorf("size: %v", err)
	}
}

func TestDownloadOffline(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	h.add(tinyID, tinyRepo())
	cache := t.TempDir()
	dir, err := Download(context.Background(), tinyID, opts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	if got, err := Download(context.Background(), tinyID, opts(h, cache)); err != nil || got != dir {
		t.Errorf("offline Download of a cached model: %s %v", got, err)
	}
	_, err = Download(context.Background(), "kormed-test/other", opts(h, cache))
	if want := "model kormed-test/other is not (completely) in the Hugging Face cache at " + cache + " and HF_HUB_OFFLINE=1: unset it to download"; err == nil || err.Error() != want {
		t.Errorf("offline Download miss: %v", err)
	}
	if _, err := Download(context.Background(), "./folder", opts(h, cache)); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Download of a path: %v", err)
	}
}

func TestRevisionWithSlash(t *testing.T) {
	noEnv(t)
	h := newFakeHub(t)
	r := tinyRepo()
	r.refs = map[string]string{"refs/pr/1": commitA}
	h.add(tinyID, r)
	cache := t.TempDir()
	o := opts(h, cache)
	o.Revision = "refs/pr/1"
	dir := resolveOK(t, tinyID, o)
	storage := filepath.Join(cache, "models--kormed-test--tiny-e5")
	if b, err := os.ReadFile(filepath.Join(storage, "refs", "refs", "pr", "1")); err != nil || string(b) != commitA {
		t.Errorf("refs/refs/pr/1 = %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(storage, "refs", "main")); err == nil {
		t.Error("wrote refs/main for another revision")
	}
	if r := h.requests(); !strings.HasPrefix(r[0], "GET /api/models/kormed-test/tiny-e5/revision/refs%2Fpr%2F1") {
		t.Errorf("first request %s", r[0])
	}
	o.Offline = true
	if got := resolveOK(t, tinyID, o); got != dir {
		t.Errorf("offline refs/pr/1: %s", got)
	}
	o.Revision = "v2"
	_, err := Resolve(context.Background(), tinyID, o)
	if err == nil || !strings.Contains(err.Error(), "`huggingface-cli download kormed-test/tiny-e5 --revision v2` (or `kormed download --model kormed-test/tiny-e5 --revision v2`)") {
		t.Errorf("offline miss for a tag: %v", err)
	}
}
