package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/embedfile"
	"github.com/kormed/kormed/model"
)

// readNpy parses a float32 .npy written by embed.
func readNpy(t *testing.T, path string) (rows, dim int, data []float32) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("bad magic %q", b[:8])
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if (10+hl)%64 != 0 {
		t.Fatalf("header not 64-aligned: %d", 10+hl)
	}
	hdr := string(b[10 : 10+hl])
	if _, err := fmt.Sscanf(hdr[strings.Index(hdr, "'shape': ("):], "'shape': (%d, %d)", &rows, &dim); err != nil {
		t.Fatalf("header %q: %v", hdr, err)
	}
	if !strings.Contains(hdr, "'descr': '<f4'") || !strings.HasSuffix(hdr, "\n") {
		t.Fatalf("header %q", hdr)
	}
	body := b[10+hl:]
	if len(body) != rows*dim*4 {
		t.Fatalf("body %d bytes, want %d", len(body), rows*dim*4)
	}
	data = make([]float32, rows*dim)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return
}

func tinyModelDir(name string) string { return filepath.Join("..", "..", "testdata", "models", name) }

func TestEmbedLinesToNpy(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "texts.txt")
	texts := []string{"신경계 감각기관용 의약품", "", "Ibuprofen 200 mg / Caffeine (anhydrous) 50mg", "해열제", "아세트아미노펜  500mg   1일   3회"}
	os.WriteFile(in, []byte(strings.Join(texts, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out.npy")
	ctx := context.Background()
	if err := cmdEmbed.Exec(ctx, []string{"--model", tinyModelDir("tiny-xlmr"), "--input", in, "--output", out, "--batch", "2", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	rows, dim, data := readNpy(t, out)
	m, err := model.Load(tinyModelDir("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.Encode(ctx, texts)
	if rows != len(texts) || dim != m.Dim() {
		t.Fatalf("shape (%d, %d)", rows, dim)
	}
	for i, v := range want {
		for j := range v {
			// --batch 2 pads differently from Encode's single batch.
			if math.Abs(float64(data[i*dim+j]-v[j])) > 1e-5 {
				t.Fatalf("row %d differs", i)
			}
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temporary files left: %v", ents)
	}
	// numpy reads it, when Debian's python with numpy is there.
	if exec.Command("/usr/bin/python3", "-c", "import numpy").Run() == nil {
		py := fmt.Sprintf("import numpy as np; a = np.load(%q); print(a.dtype, a.shape, repr(float(a[2, 3])))", out)
		got, err := exec.Command("/usr/bin/python3", "-c", py).CombinedOutput()
		if err != nil {
			t.Fatalf("numpy.load: %v %s", err, got)
		}
		if w := fmt.Sprintf("float32 (5, 32) %s", pyFloat(data[2*dim+3])); strings.TrimSpace(string(got)) != w {
			t.Fatalf("numpy says %q, want %q", got, w)
		}
	}
}

func pyFloat(f float32) string {
	b, _ := json.Marshal(float64(f))
	s := string(b)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func TestEmbedJSONL(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(in, []byte(`{"_id":"d1","body":"두통에 먹는 약"}`+"\n\n"+`{"_id":7,"body":"혈압약"}`+"\n"+`{"body":"no id"}`), 0o644)
	e5 := filepath.Join(dir, "multilingual-e5-tiny")
	copyTree(t, tinyModelDir("tiny-xlmr"), e5)
	out := filepath.Join(dir, "out.jsonl")
	ctx := context.Background()
	if err := cmdEmbed.Exec(ctx, []string{"--model", e5, "--input", in, "--output", out, "--field", "body", "--as", "query", "--include-text", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	m, _ := model.Load(e5)
	want, _ := m.EncodeQueries(ctx, []string{"두통에 먹는 약", "혈압약", "no id"})
	f, _ := os.Open(out)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var recs []map[string]any
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 || recs[0]["id"] != "d1" || recs[1]["id"] != 7.0 || recs[2]["line"] != 4.0 || recs[1]["text"] != "혈압약" {
		t.Fatalf("records %v", recs)
	}
	// --prefix "query: " gives the same vectors as --as query on an e5 model.
	out2 := filepath.Join(dir, "out2.jsonl")
	if err := cmdEmbed.Exec(ctx, []string{"--model", e5, "--input", in, "--output", out2, "--field", "body", "--prefix", "query: ", "--include-text", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	if a, b := readFile(t, out), readFile(t, out2); a != b {
		t.Fatal("--prefix differs from --as query")
	}
	for i, r := range recs {
		emb := r["embedding"].([]any)
		for j, x := range emb {
			if float32(x.(float64)) != want[i][j] {
				t.Fatalf("record %d value %d: %v want %v", i, j, x, want[i][j])
			}
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEmbedErrors(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cases := []struct{ input, args, want string }{
		{`{"text":"a"}` + "\n" + `{"text": oops}`, "", "in.jsonl:2: bad JSON"},
		{`{"text":"a"}` + "\n\n" + `{"title":"b"}`, "", `in.jsonl:3: no field "text"`},
		{`{"text":3}`, "", `in.jsonl:1: field "text" is not a string`},
		{`{"text":"a"}`, "--as foo", `--as "foo"`},
		{`{"text":"a"}`, "--max-length 999", "exceeds the model's 128 positions"},
	}
	for _, c := range cases {
		in := filepath.Join(dir, "in.jsonl")
		os.WriteFile(in, []byte(c.input), 0o644)
		out := filepath.Join(dir, "out.npy")
		args := []string{"--model", tinyModelDir("tiny-bert"), "--input", in, "--output", out, "--quiet"}
		if c.args != "" {
			args = append(args, strings.Fields(c.args)...)
		}
		err := cmdEmbed.Exec(ctx, args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %q %s: got %v, want %q", c.input, c.args, err, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("output written despite error")
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// TestEmbedChunks streams more texts than one chunk holds.
func TestEmbedChunks(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "many.txt")
	n := embedfile.Chunk*2 + 37
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "약 %d\n", i%50)
	}
	os.WriteFile(in, []byte(sb.String()), 0o644)
	out := filepath.Join(dir, "many.npy")
	if err := cmdEmbed.Exec(context.Background(), []string{"--model", tinyModelDir("tiny-bert"), "--input", in, "--output", out, "--quiet", "--batch", "64"}); err != nil {
		t.Fatal(err)
	}
	rows, dim, data := readNpy(t, out)
	if rows != n || dim != 32 {
		t.Fatalf("shape (%d, %d), want (%d, 32)", rows, dim, n)
	}
	// Row i and row i+50 embed the same text, across chunk boundaries.
	for _, i := range []int{0, embedfile.Chunk - 10, n - 60} {
		for j := 0; j < dim; j++ {
			if math.Abs(float64(data[i*dim+j]-data[(i+50)*dim+j])) > 1e-5 {
				t.Fatalf("rows %d and %d differ", i, i+50)
			}
		}
	}
}

func TestEmbedStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old }()
	go func() {
		w.Write([]byte("두통약\r\n해열제"))
		w.Close()
	}()
	out := filepath.Join(t.TempDir(), "o.jsonl")
	if err := cmdEmbed.Exec(context.Background(), []string{"--model", tinyModelDir("tiny-bert"), "--input", "-", "--output", out, "--include-text", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"line":1,"text":"두통약","embedding":[`) || !strings.HasPrefix(lines[1], `{"line":2,"text":"해열제",`) {
		t.Fatalf("output %q", lines)
	}
}
