package embedfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/npy"
	"github.com/kormed/kormed/progress"
)

// Chunk is how many texts are read, embedded and written at a time, so
// memory stays flat however long the input is.
const Chunk = 2048

// Encoder embeds texts with a prefix; *model.Model is one.
type Encoder interface {
	EncodePrefixed(ctx context.Context, texts []string, prefix string) ([][]float32, error)
	Dim() int
	Name() string
}

// Job is one input file embedded into one output file.
type Job struct {
	Input, Output string
	Stdin         io.Reader         // read when Input is "-"
	Hub           *hub.DatasetFiles // hf:// input, downloaded (Input is then its reference)
	Columns       dataset.Columns   // its column mapping
	// JSONL reads Input as JSON lines taking the string field Field (a
	// Hub input: the column Field, "" for the document role).
	JSONL    bool
	Field    string
	NPY      bool   // write .npy (else JSONL)
	Prefix   string // added to every text
	WithText bool   // JSONL output: also write each text
	Progress bool   // show the progress bar
	Log      io.Writer
}

// record is one input text with what identifies it in the output.
type record struct {
	text string
	id   json.RawMessage // the JSONL "_id"/"id" value, or nil
	line int
}

// hubRecords reads the texts of a Hub dataset's files: the column --field
// names, else the document role (text, document, …, or --columns
// document=COL); the id from _id/id (or --columns id=COL) when present.
func hubRecords(job Job, push func(record) error) error {
	n := 0
	for _, p := range job.Hub.Paths {
		t, err := dataset.OpenTable(p)
		if err != nil {
			return err
		}
		cols := job.Columns
		if job.Field != "" {
			cols = dataset.Columns{dataset.RoleDocument: job.Field}
			for k, v := range job.Columns {
				if k != dataset.RoleDocument {
					cols[k] = v
				}
			}
		}
		b, err := t.Bind(job.Input, cols, dataset.Want{Role: dataset.RoleDocument, Required: true}, dataset.Want{Role: dataset.RoleID})
		if err == nil {
			err = t.Each(func(row map[string]any) error {
				n++
				text, err := dataset.Text(row[b[dataset.RoleDocument]])
				if err != nil {
					return fmt.Errorf("%s row %d: column %s: %w", t.Path, t.Row, b[dataset.RoleDocument], err)
				}
				r := record{text: text, line: n}
				if c, ok := b[dataset.RoleID]; ok {
					id, err := json.Marshal(row[c])
					if err != nil {
						return fmt.Errorf("%s row %d: column %s: %w", t.Path, t.Row, c, err)
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

// Run streams the job's input through enc into its output, chunk by
// chunk, writing to a temporary file renamed over the output at the end,
// and reports what it wrote to job.Log.
func Run(ctx context.Context, enc Encoder, job Job) error {
	var in io.Reader
	var total int64 = -1
	if job.Input == "-" {
		in = job.Stdin
	} else if job.Hub != nil {
		in = strings.NewReader("")
	} else {
		fi, err := os.Open(job.Input)
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

	tmp, err := atomicfile.Create(job.Output)
	if err != nil {
		return err
	}
	defer tmp.Abort() // no-op after Commit
	w := bufio.NewWriterSize(tmp, 1<<20)
	D := enc.Dim()
	if job.NPY {
		// Placeholder header, patched with the row count at the end.
		if _, err := w.Write(npy.Header(0, D)); err != nil {
			return err
		}
	}
	bar := progress.New(job.Log, "embed", max(total, 0))
	if !job.Progress {
		bar.Force(false)
	}

	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	lineNo := 0
	var rows int64
	recs := make([]record, 0, Chunk)
	texts := make([]string, 0, Chunk)
	var buf []byte
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		texts = texts[:0]
		for _, r := range recs {
			texts = append(texts, r.text)
		}
		vecs, err := enc.EncodePrefixed(ctx, texts, job.Prefix)
		if err != nil {
			return err
		}
		for i, v := range vecs {
			buf = buf[:0]
			if job.NPY {
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
				if job.WithText {
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
	if job.Hub != nil {
		err := hubRecords(job, func(r record) error {
			recs = append(recs, r)
			if len(recs) == Chunk {
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
		if job.JSONL {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				return fmt.Errorf("%s:%d: bad JSON: %w", job.Input, lineNo, err)
			}
			raw, ok := obj[job.Field]
			if !ok {
				return fmt.Errorf("%s:%d: no field %q", job.Input, lineNo, job.Field)
			}
			if err := json.Unmarshal(raw, &r.text); err != nil {
				return fmt.Errorf("%s:%d: field %q is not a string", job.Input, lineNo, job.Field)
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
		if len(recs) == Chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", job.Input, lineNo+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	bar.Finish()
	if err := w.Flush(); err != nil {
		return err
	}
	if job.NPY {
		if _, err := tmp.WriteAt(npy.Header(rows, D), 0); err != nil {
			return err
		}
	}
	if err := tmp.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(job.Log, "embedded %d texts with %s (dim %d) into %s\n", rows, enc.Name(), D, job.Output)
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
