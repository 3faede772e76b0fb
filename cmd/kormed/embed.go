package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/npy"
	"github.com/kormed/kormed/progress"
)

// embedChunk is how many texts are read, embedded and written at a time,
// so memory stays flat however long the input is.
const embedChunk = 2048

func runEmbed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: kormed embed --model M --input FILE --output FILE [flags]\n\n"+
			"Embeds each input text with the model's sentence-embedding recipe. Input: one text per line,\n"+
			"or JSONL (a .jsonl/.json file, or when --field is given) taking the string field --field;\n"+
			"an \"_id\" or \"id\" field is carried to JSONL output. Output by extension: .npy (float32 [N,D],\n"+
			"row i = text i) or JSONL ({\"id\"|\"line\", \"embedding\": [...]} per text). --input - reads stdin.\n\n")
		fs.PrintDefaults()
	}
	modelArg := fs.String("model", "", "model folder or Hugging Face id (required)")
	input := fs.String("input", "", "input file: text lines or JSONL (required; - for stdin), or a Hub dataset hf://OWNER/NAME[:CONFIG][@REV]")
	split := fs.String("split", "", "hf:// input: the split (default: the only one, else train)")
	columnsFlag := fs.String("columns", "", "hf:// input: map roles to columns, e.g. document=contents,id=doc_id")
	output := fs.String("output", "", "output file, .npy or .jsonl (required)")
	field := fs.String("field", "", `JSONL field holding the text (default "text"; setting it implies JSONL input)`)
	as := fs.String("as", "none", "prefix to add: query, passage (the model's prompts, \"query: \"/\"passage: \" for e5) or none")
	custom := fs.String("prefix", "", "custom prefix added to every text (overrides --as)")
	batch := fs.Int("batch", 32, "texts per forward pass")
	maxLen := fs.Int("max-length", 0, "truncate texts to this many tokens (default: the model's max_seq_length)")
	format := fs.String("format", "", "output format jsonl or npy (default: from the output extension)")
	withText := fs.Bool("include-text", false, "JSONL output: also write each text")
	quiet := fs.Bool("quiet", false, "no progress bar")
	applyEngine := base.EngineFlags(fs)
	hubOpts := base.HubFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := applyEngine(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *modelArg == "" || *input == "" || *output == "" {
		fs.Usage()
		return errors.New("--model, --input and --output are required")
	}
	f := *format
	if f == "" {
		if strings.EqualFold(filepath.Ext(*output), ".npy") {
			f = "npy"
		} else {
			f = "jsonl"
		}
	}
	if f != "npy" && f != "jsonl" {
		return fmt.Errorf("--format %q: want jsonl or npy", f)
	}
	jsonl := *field != "" || strings.EqualFold(filepath.Ext(*input), ".jsonl") || strings.EqualFold(filepath.Ext(*input), ".json")
	hubField := *field // hf:// input: "" = the document column by its default names
	if *field == "" {
		*field = "text"
	}
	if *batch <= 0 {
		return fmt.Errorf("--batch %d: want a positive count", *batch)
	}

	dir, err := hub.Resolve(ctx, *modelArg, hubOpts())
	if err != nil {
		return err
	}
	m, err := loadEmbedModel(dir, *as)
	if err != nil {
		return err
	}
	m.BatchSize = *batch
	if *maxLen > 0 {
		if *maxLen > m.Enc.Cfg.MaxTokens() {
			return fmt.Errorf("--max-length %d exceeds the model's %d positions", *maxLen, m.Enc.Cfg.MaxTokens())
		}
		m.MaxLength = *maxLen
	}
	var prefix string
	switch *as {
	case "query":
		prefix = m.QueryPrefix
	case "passage":
		prefix = m.PassagePrefix
	case "none":
		if *custom == "" && (m.QueryPrefix != "" || m.PassagePrefix != "") {
			fmt.Fprintf(os.Stderr, "note: %s expects prefixes (%q / %q); pass --as query or --as passage to add them\n", m.Name(), m.QueryPrefix, m.PassagePrefix)
		}
	default:
		return fmt.Errorf("--as %q: want query, passage or none", *as)
	}
	if *custom != "" {
		prefix = *custom
	}
	job := embedJob{input: *input, output: *output, jsonl: jsonl, field: *field,
		npy: f == "npy", prefix: prefix, withText: *withText, progress: !*quiet}
	if hubdata.IsRef(*input) {
		cols, err := dataset.ParseColumns(*columnsFlag)
		if err != nil {
			return err
		}
		files, err := hubdata.Files(ctx, *input, *split, hubOpts())
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "input: %s: %s\n", files.Describe(), strings.Join(files.Names, ", "))
		job.hub, job.columns, job.jsonl = files, cols, false
		job.field = hubField
	}
	return embedFile(ctx, m, job)
}

// loadEmbedModel loads the model of folder dir; for a bi-encoder (DPR
// pair) folder, the encoder of the side --as names.
func loadEmbedModel(dir, as string) (*model.Model, error) {
	if !model.IsPair(dir) {
		return model.Load(dir)
	}
	p, err := model.LoadPair(dir)
	if err != nil {
		return nil, err
	}
	switch as {
	case "query":
		return p.Query, nil
	case "passage":
		return p.Passage, nil
	}
	return nil, fmt.Errorf("%s is a bi-encoder (question and context encoders): pass --as query or --as passage", dir)
}

type embedJob struct {
	hub           *hub.DatasetFiles // hf:// input, downloaded
	columns       dataset.Columns   // its column mapping
	input, output string
	jsonl         bool
	field         string
	npy           bool
	prefix        string
	withText      bool
	progress      bool
}

// hubRecords reads the texts of a Hub dataset's files: the column --field
// names, else the document role (text, document, …, or --columns
// document=COL); the id from _id/id (or --columns id=COL) when present.
func hubRecords(job embedJob, push func(record) error) error {
	n := 0
	for _, p := range job.hub.Paths {
		t, err := dataset.OpenTable(p)
		if err != nil {
			return err
		}
		cols := job.columns
		if job.field != "" {
			cols = dataset.Columns{dataset.RoleDocument: job.field}
			for k, v := range job.columns {
				if k != dataset.RoleDocument {
					cols[k] = v
				}
			}
		}
		b, err := t.Bind(job.input, cols, dataset.Want{Role: dataset.RoleDocument, Required: true}, dataset.Want{Role: dataset.RoleID})
		if err == nil {
			err = t.Each(func(row map[string]any) error {
				n++
				text, err := dataset.Text(row[b[dataset.RoleDocument]])
				if err != nil {
					return fmt.Errorf("%s row %d: column %s: %v", t.Path, t.Row, b[dataset.RoleDocument], err)
				}
				r := record{text: text, line: n}
				if c, ok := b[dataset.RoleID]; ok {
					id, err := json.Marshal(row[c])
					if err != nil {
						return fmt.Errorf("%s row %d: column %s: %v", t.Path, t.Row, c, err)
					}
					r.id = id
				}
				return push(r)
			})
		}
		t.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// record is one input text with what identifies it in the output.
type record struct {
	text string
	id   json.RawMessage // the JSONL "_id"/"id" value, or nil
	line int
}

// embedFile streams the input through the model into the output, chunk by
// chunk, writing to a temporary file renamed over the output at the end.
func embedFile(ctx context.Context, m *model.Model, job embedJob) error {
	var in io.Reader
	var total int64 = -1
	if job.input == "-" {
		in = os.Stdin
	} else if job.hub != nil {
		in = strings.NewReader("")
	} else {
		fi, err := os.Open(job.input)
		if err != nil {
			return err
		}
		defer fi.Close()
		if n, err := countRecords(fi); err == nil {
			total = n
		}
		if _, err := fi.Seek(0, io.SeekStart); err != nil {
			return err
		}
		in = fi
	}

	tmp, err := atomicfile.Create(job.output)
	if err != nil {
		return err
	}
	defer tmp.Abort() // no-op after Commit
	w := bufio.NewWriterSize(tmp, 1<<20)
	D := m.Dim()
	if job.npy {
		// Placeholder header, patched with the row count at the end.
		if _, err := w.Write(npy.Header(0, D)); err != nil {
			return err
		}
	}
	bar := progress.New(os.Stderr, "embed", max(total, 0))
	if !job.progress {
		bar.Force(false)
	}

	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	lineNo := 0
	var rows int64
	recs := make([]record, 0, embedChunk)
	texts := make([]string, 0, embedChunk)
	var buf []byte
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		texts = texts[:0]
		for _, r := range recs {
			texts = append(texts, r.text)
		}
		vecs, err := m.EncodePrefixed(ctx, texts, job.prefix)
		if err != nil {
			return err
		}
		for i, v := range vecs {
			buf = buf[:0]
			if job.npy {
				buf = npy.AppendRow(buf, v)
			} else {
				buf = append(buf, '{')
				if recs[i].id != nil {
					buf = append(buf, `"id":`...)
					buf = append(buf, recs[i].id...)
				} else {
					buf = append(buf, `"line":`...)
					buf = strconv.AppendInt(buf, int64(recs[i].line), 10)
				}
				if job.withText {
					buf = append(buf, `,"text":`...)
					tb, _ := json.Marshal(recs[i].text)
					buf = append(buf, tb...)
				}
				buf = append(buf, `,"embedding":[`...)
				for j, x := range v {
					if j > 0 {
						buf = append(buf, ',')
					}
					buf = strconv.AppendFloat(buf, float64(x), 'g', -1, 32)
				}
				buf = append(buf, "]}\n"...)
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		rows += int64(len(recs))
		bar.Add(int64(len(recs)))
		recs = recs[:0]
		return nil
	}
	if job.hub != nil {
		err := hubRecords(job, func(r record) error {
			recs = append(recs, r)
			if len(recs) == embedChunk {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		r := record{line: lineNo}
		if job.jsonl {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				return fmt.Errorf("%s:%d: bad JSON: %v", job.input, lineNo, err)
			}
			raw, ok := obj[job.field]
			if !ok {
				return fmt.Errorf("%s:%d: no field %q", job.input, lineNo, job.field)
			}
			if err := json.Unmarshal(raw, &r.text); err != nil {
				return fmt.Errorf("%s:%d: field %q is not a string", job.input, lineNo, job.field)
			}
			for _, k := range []string{"_id", "id"} {
				if v, ok := obj[k]; ok {
					r.id = v
					break
				}
			}
		} else {
			r.text = strings.TrimSuffix(line, "\r")
		}
		recs = append(recs, r)
		if len(recs) == embedChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %v", job.input, lineNo+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	bar.Finish()
	if err := w.Flush(); err != nil {
		return err
	}
	if job.npy {
		if _, err := tmp.WriteAt(npy.Header(rows, D), 0); err != nil {
			return err
		}
	}
	if err := tmp.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "embedded %d texts with %s (dim %d) into %s\n", rows, m.Name(), D, job.output)
	return nil
}

// countRecords counts the lines of r (a last line without a newline
// counts), for the progress bar.
func countRecords(r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	last := byte('\n')
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}
