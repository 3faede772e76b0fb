// Command corpora converts public Korean retrieval sets from outside the
// project into the BEIR folder layout that `kormed eval --data DIR` reads
// (corpus.jsonl, queries.jsonl, qrels/<split>.tsv). See README.md in this
// folder for the sources, their licences and how to build each set.
//
//	go run . autorag -src SRC -out DIR [-dev-percent 20]
//	go run . korquad -src SRC -out DIR [-dev-percent 20]
//
// SRC is the source repository: a checkout, a bare git directory (such as
// the one `fetch` leaves under /work/.mirror/OWNER+NAME/repo; files are
// read from -rev, HEAD by default), or, for korquad, the JSON file itself.
// Every set gets three qrels splits: all.tsv (every query, as the source
// publishes it), and a disjoint dev.tsv / test.tsv partition of those
// queries by a hash of the query id (-dev-percent of them in dev), so a
// method can be tuned on dev and reported on test without leakage. The
// folder also gets SOURCE.md: where it came from (commit, file hashes),
// its licence and its counts.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kormed/kormed/dataset"
	"github.com/parquet-go/parquet-go"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	src := fs.String("src", "", "source repository (checkout or bare git dir) or, for korquad, the JSON file")
	rev := fs.String("rev", "HEAD", "revision to read when -src is a git directory")
	out := fs.String("out", "", "output BEIR folder")
	devPct := fs.Int("dev-percent", 20, "percent of queries (by a hash of the query id) put in qrels/dev.tsv; the rest go to qrels/test.tsv")
	fs.Parse(os.Args[2:])
	if *src == "" || *out == "" || *devPct < 0 || *devPct > 100 {
		usage()
	}
	s := &source{path: *src, rev: *rev}
	var (
		d    *dataset.Dataset
		note string
		err  error
	)
	switch cmd {
	case "autorag":
		d, note, err = autorag(s)
	case "korquad":
		d, note, err = korquad(s)
	default:
		usage()
	}
	if err == nil {
		err = write(*out, d, *devPct, s, note)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "corpora %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: corpora autorag|korquad -src REPO_OR_FILE -out DIR [-rev HEAD] [-dev-percent 20]")
	os.Exit(2)
}

// source reads files from a checkout, a bare git directory or a single file,
// remembering what it read for SOURCE.md.
type source struct {
	path, rev string
	commit    string   // resolved commit when path is a git directory
	read      []string // "path sha256" of each file read
}

func (s *source) isGitDir() bool {
	_, err1 := os.Stat(filepath.Join(s.path, "HEAD"))
	_, err2 := os.Stat(filepath.Join(s.path, "objects"))
	return err1 == nil && err2 == nil
}

// file returns the contents of name inside the source repository; when the
// source is a regular file it is returned whatever name is.
func (s *source) file(name string) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if st, serr := os.Stat(s.path); serr == nil && !st.IsDir() {
		b, err = os.ReadFile(s.path)
		name = filepath.Base(s.path)
	} else if s.isGitDir() {
		if s.commit == "" {
			c, cerr := exec.Command("git", "--git-dir", s.path, "rev-parse", s.rev+"^{commit}").Output()
			if cerr != nil {
				return nil, fmt.Errorf("git rev-parse %s in %s: %w", s.rev, s.path, cerr)
			}
			s.commit = strings.TrimSpace(string(c))
		}
		b, err = exec.Command("git", "--git-dir", s.path, "show", s.commit+":"+name).Output()
		if err != nil {
			err = fmt.Errorf("git show %s:%s in %s: %w", s.commit, name, s.path, err)
		}
	} else {
		b, err = os.ReadFile(filepath.Join(s.path, name))
		if c, cerr := exec.Command("git", "-C", s.path, "rev-parse", "HEAD").Output(); cerr == nil && s.commit == "" {
			s.commit = strings.TrimSpace(string(c))
		}
	}
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte("version https://git-lfs")) {
		return nil, fmt.Errorf("%s is a Git LFS pointer, not the data", name)
	}
	sum := sha256.Sum256(b)
	s.read = append(s.read, fmt.Sprintf("%s (%d bytes, sha256 %s)", name, len(b), hex.EncodeToString(sum[:])))
	return b, nil
}

// AutoRAG korean embedding benchmark
// (github.com/Marker-Inc-Korea/AutoRAG-example-korean-embedding-benchmark):
// data/ocr_corpus_v3.parquet (doc_id, contents, metadata) and
// data/qa_v4.parquet (qid, query, retrieval_gt: list of lists of doc_id,
// generation_gt). The benchmark embeds contents only, so title stays empty.
func autorag(s *source) (*dataset.Dataset, string, error) {
	cb, err := s.file("data/ocr_corpus_v3.parquet")
	if err != nil {
		return nil, "", err
	}
	type corpusRow struct {
		DocID    string `parquet:"doc_id"`
		Contents string `parquet:"contents"`
	}
	docs, err := parquet.Read[corpusRow](bytes.NewReader(cb), int64(len(cb)))
	if err != nil {
		return nil, "", fmt.Errorf("ocr_corpus_v3.parquet: %w", err)
	}
	qb, err := s.file("data/qa_v4.parquet")
	if err != nil {
		return nil, "", err
	}
	// retrieval_gt is a LIST of LISTs of strings; read rows generically, as
	// parquet-go maps nested lists onto []any.
	qf, err := parquet.OpenFile(bytes.NewReader(qb), int64(len(qb)))
	if err != nil {
		return nil, "", fmt.Errorf("qa_v4.parquet: %w", err)
	}
	type qaRow struct {
		QID, Query  string
		RetrievalGT [][]string
	}
	var qas []qaRow
	rd := parquet.NewReader(qf)
	for {
		row := map[string]any{}
		if err := rd.Read(&row); err == io.EOF {
			break
		} else if err != nil {
			return nil, "", fmt.Errorf("qa_v4.parquet: %w", err)
		}
		var r qaRow
		r.QID, _ = row["qid"].(string)
		r.Query, _ = row["query"].(string)
		groups, ok := row["retrieval_gt"].([]any)
		if !ok {
			return nil, "", fmt.Errorf("qa %s: retrieval_gt is %T, want a list", r.QID, row["retrieval_gt"])
		}
		for _, g := range groups {
			alts, ok := g.([]any)
			if !ok {
				return nil, "", fmt.Errorf("qa %s: retrieval_gt group is %T, want a list", r.QID, g)
			}
			var ids []string
			for _, a := range alts {
				id, ok := a.(string)
				if !ok {
					return nil, "", fmt.Errorf("qa %s: retrieval_gt element is %T, want a string", r.QID, a)
				}
				ids = append(ids, id)
			}
			r.RetrievalGT = append(r.RetrievalGT, ids)
		}
		qas = append(qas, r)
	}
	d := &dataset.Dataset{Name: "autorag-ko", Qrels: dataset.Qrels{}}
	for _, r := range docs {
		if err := checkID(r.DocID); err != nil {
			return nil, "", fmt.Errorf("corpus doc_id %q: %w", r.DocID, err)
		}
		d.Corpus = append(d.Corpus, dataset.Doc{ID: r.DocID, Text: r.Contents})
	}
	known := map[string]bool{}
	for _, doc := range d.Corpus {
		known[doc.ID] = true
	}
	for _, r := range qas {
		if err := checkID(r.QID); err != nil {
			return nil, "", fmt.Errorf("qa qid %q: %w", r.QID, err)
		}
		rel := map[string]int{}
		// retrieval_gt is AutoRAG's list of groups of alternatives; for
		// graded-free BEIR qrels every listed document is relevant (1).
		for _, group := range r.RetrievalGT {
			for _, id := range group {
				if !known[id] {
					return nil, "", fmt.Errorf("qa %s: retrieval_gt %q is not in the corpus", r.QID, id)
				}
				rel[id] = 1
			}
		}
		if len(rel) == 0 {
			return nil, "", fmt.Errorf("qa %s: empty retrieval_gt", r.QID)
		}
		d.Queries = append(d.Queries, dataset.Query{ID: r.QID, Text: r.Query})
		d.Qrels[r.QID] = rel
	}
	note := "Corpus: data/ocr_corpus_v3.parquet (`doc_id` → `_id`, `contents` → `text`, no title: the benchmark embeds `contents` only).\n" +
		"Queries: data/qa_v4.parquet (`qid` → `_id`, `query` → `text`); qrels: every document in `retrieval_gt` (AutoRAG's list of lists), score 1."
	return d, note, nil
}

// KorQuAD 1.0 dev set (SQuAD v1.1 format): each distinct paragraph is a
// document (title = the Wikipedia article title), each question a query,
// and its qrel the paragraph it was asked on.
func korquad(s *source) (*dataset.Dataset, string, error) {
	b, err := s.file("dataset/KorQuAD_v1.0_dev.json")
	if err != nil {
		return nil, "", err
	}
	var squad struct {
		Version string `json:"version"`
		Data    []struct {
			Title      string `json:"title"`
			Paragraphs []struct {
				Context string `json:"context"`
				QAs     []struct {
					ID       string `json:"id"`
					Question string `json:"question"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &squad); err != nil {
		return nil, "", fmt.Errorf("KorQuAD json: %w", err)
	}
	d := &dataset.Dataset{Name: "korquad-v1-dev", Qrels: dataset.Qrels{}}
	byText := map[string]string{} // title+context → doc id (identical paragraphs become one document)
	dups := 0
	for ai, art := range squad.Data {
		for pi, p := range art.Paragraphs {
			key := art.Title + "\x00" + p.Context
			id, ok := byText[key]
			if !ok {
				id = fmt.Sprintf("kq%03d-%02d", ai, pi)
				byText[key] = id
				d.Corpus = append(d.Corpus, dataset.Doc{ID: id, Title: art.Title, Text: p.Context})
			} else {
				dups++
			}
			for _, qa := range p.QAs {
				if err := checkID(qa.ID); err != nil {
					return nil, "", fmt.Errorf("question id %q: %w", qa.ID, err)
				}
				if _, seen := d.Qrels[qa.ID]; seen {
					return nil, "", fmt.Errorf("duplicate question id %q", qa.ID)
				}
				d.Queries = append(d.Queries, dataset.Query{ID: qa.ID, Text: qa.Question})
				d.Qrels[qa.ID] = map[string]int{id: 1}
			}
		}
	}
	if len(d.Queries) == 0 {
		return nil, "", errors.New("no questions found")
	}
	note := fmt.Sprintf("Version %q. Corpus: every paragraph (`context`, %d identical repeats merged) with its article `title`; ids kqAAA-PP = article and paragraph index.\n"+
		"Queries: every `question` with its KorQuAD `id`; qrels: the paragraph it was asked on, score 1 (other paragraphs that happen to contain the answer are not judged).", squad.Version, dups)
	return d, note, nil
}

// checkID rejects ids that cannot live in a qrels TSV line.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty id")
	}
	if strings.ContainsAny(id, "\t\r\n") {
		return errors.New("id contains a tab or newline")
	}
	return nil
}

// inDev reports whether a query goes to the dev split: a stable hash of its
// id, so the split does not depend on file order or a random seed.
func inDev(qid string, pct int) bool {
	h := fnv.New32a()
	h.Write([]byte(qid))
	return int(h.Sum32()%100) < pct
}

func write(dir string, d *dataset.Dataset, devPct int, s *source, note string) error {
	if err := dataset.WriteBEIR(dir, d, "all"); err != nil {
		return err
	}
	counts := map[string][2]int{} // split → queries, judgements
	countAll := [2]int{len(d.Qrels), 0}
	for _, m := range d.Qrels {
		countAll[1] += len(m)
	}
	counts["all"] = countAll
	for _, split := range []string{"dev", "test"} {
		sub := &dataset.Dataset{Corpus: d.Corpus, Queries: d.Queries, Qrels: dataset.Qrels{}}
		var c [2]int
		for qid, m := range d.Qrels {
			if inDev(qid, devPct) == (split == "dev") {
				sub.Qrels[qid] = m
				c[0]++
				c[1] += len(m)
			}
		}
		if err := dataset.WriteQrels(dir, sub, split); err != nil {
			return err
		}
		counts[split] = c
	}
	// Read it back the way kormed eval does.
	for _, split := range []string{"all", "dev", "test"} {
		if counts[split][0] == 0 {
			continue
		}
		back, err := dataset.ReadBEIR(dir, split)
		if err != nil {
			return fmt.Errorf("reading back %s: %w", split, err)
		}
		if len(back.Queries) != counts[split][0] || len(back.Corpus) != len(d.Corpus) {
			return fmt.Errorf("reading back %s: %d queries, %d docs; wrote %d, %d", split, len(back.Queries), len(back.Corpus), counts[split][0], len(d.Corpus))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nBuilt by kormed bench/corpora (`go run . %s`) from `%s`", filepath.Base(filepath.Clean(dir)), os.Args[1], s.path)
	if s.commit != "" {
		fmt.Fprintf(&b, " at commit %s", s.commit)
	}
	b.WriteString(".\nSee bench/corpora/README.md for the source repository, licence and attribution; do not redistribute this folder.\n\nFiles read:\n")
	sort.Strings(s.read)
	for _, r := range s.read {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	fmt.Fprintf(&b, "\n%s\n\n| split | queries | judgements |\n|---|---:|---:|\n", note)
	for _, split := range []string{"all", "dev", "test"} {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", split, counts[split][0], counts[split][1])
	}
	fmt.Fprintf(&b, "\n%d documents. dev = queries whose FNV-1a-32(id) mod 100 < %d; test = the rest.\n", len(d.Corpus), devPct)
	if err := os.WriteFile(filepath.Join(dir, "SOURCE.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d docs; all %d queries / %d qrels; dev %d / %d; test %d / %d\n", dir, len(d.Corpus),
		counts["all"][0], counts["all"][1], counts["dev"][0], counts["dev"][1], counts["test"][0], counts["test"][1])
	return nil
}
