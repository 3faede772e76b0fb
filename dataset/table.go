package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Table is a data file read row by row as named columns, whatever its
// format: Parquet (read one row group at a time from the file, so a file
// larger than memory is never held whole), JSON Lines, a JSON array,
// CSV or TSV with a header row, each of the text formats optionally
// gzip-compressed (.gz). Values are strings, json.Number or Go numbers,
// bools, nil, or []any for lists.
type Table struct {
	Path    string   // the file, as named in errors
	Format  string   // "parquet", "jsonl", "json", "csv" or "tsv"
	Columns []string // the columns it has (JSON: the keys of the first row)
	Row     int      // 1-based number of the row Next returned last (for JSON Lines, CSV and TSV: its line)

	next    func() (map[string]any, error)
	closer  []io.Closer
	line    int // set by next for line-based formats; 0 = count rows
	pending map[string]any
	pendLn  int
	hasPend bool
}

// TableFormat returns the format of a data file by its name ("" when it
// is none of them), ignoring a .gz suffix.
func TableFormat(path string) string {
	n := strings.ToLower(strings.TrimSuffix(strings.ToLower(path), ".gz"))
	switch strings.ToLower(filepath.Ext(n)) {
	case ".parquet":
		return "parquet"
	case ".jsonl", ".ndjson":
		return "jsonl"
	case ".json":
		return "json"
	case ".csv":
		return "csv"
	case ".tsv":
		return "tsv"
	}
	return ""
}

// OpenTable opens a data file by its extension. A corrupt or truncated
// file is an error naming it, here or from Next.
func OpenTable(path string) (*Table, error) {
	format := TableFormat(path)
	if format == "" {
		return nil, fmt.Errorf("%s: unknown data file type (want .parquet, .jsonl, .json, .csv or .tsv, optionally .gz)", path)
	}
	t := &Table{Path: path, Format: format}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	t.closer = append(t.closer, f)
	gz := strings.HasSuffix(strings.ToLower(path), ".gz")
	if format == "parquet" {
		if gz {
			t.Close()
			return nil, fmt.Errorf("%s: gzip-compressed parquet is not supported (parquet compresses its pages itself); decompress it", path)
		}
		if err := t.openParquet(f); err != nil {
			t.Close()
			return nil, err
		}
		return t, nil
	}
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("%s: not a gzip file: %v", path, err)
		}
		t.closer = append(t.closer, zr)
		r = zr
	}
	switch format {
	case "jsonl", "json":
		if err = t.openJSON(r); err == nil {
			err = t.peek()
		}
	default:
		err = t.openCSV(r, format == "tsv")
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Next returns the next row; io.EOF at the end.
func (t *Table) Next() (map[string]any, error) {
	if t.hasPend {
		t.hasPend = false
		t.setRow(t.pendLn)
		return t.pending, nil
	}
	t.line = 0
	row, err := t.next()
	if err == nil {
		t.setRow(t.line)
	}
	return row, err
}

func (t *Table) setRow(line int) {
	if line > 0 {
		t.Row = line
	} else {
		t.Row++
	}
}

// peek reads the first row ahead, so that the columns of a JSON file are
// known when it is opened.
func (t *Table) peek() error {
	t.line = 0
	row, err := t.next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	t.pending, t.pendLn, t.hasPend = row, t.line, true
	return nil
}

// Close closes the file.
func (t *Table) Close() error {
	var first error
	for i := len(t.closer) - 1; i >= 0; i-- {
		if err := t.closer[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	t.closer = nil
	return first
}

// Each calls fn with every row; fn's error stops the reading and is
// returned as is.
func (t *Table) Each(fn func(row map[string]any) error) error {
	for {
		row, err := t.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

func (t *Table) openParquet(f *os.File) (err error) {
	defer func() {
		if p := recover(); p != nil { // parquet-go panics on some malformed files
			err = fmt.Errorf("%s: corrupt parquet file: %v", t.Path, p)
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := checkParquetFooter(f, st.Size()); err != nil {
		return fmt.Errorf("%s: not a readable parquet file (corrupt or truncated?): %v", t.Path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return fmt.Errorf("%s: not a readable parquet file (corrupt or truncated?): %v", t.Path, err)
	}
	if err := checkParquetPages(f, st.Size(), pf.Metadata()); err != nil {
		return fmt.Errorf("%s: corrupt parquet file: %v", t.Path, err)
	}
	for _, fl := range pf.Schema().Fields() {
		t.Columns = append(t.Columns, fl.Name())
	}
	groups := pf.RowGroups()
	gi := 0
	var rows parquet.Rows
	buf := make([]parquet.Row, 1)
	schema := pf.Schema()
	t.closer = append(t.closer, closeFunc(func() error {
		if rows != nil {
			return rows.Close()
		}
		return nil
	}))
	t.next = func() (row map[string]any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%s: corrupt parquet file at row %d: %v", t.Path, t.Row+1, p)
			}
		}()
		for {
			if rows == nil {
				if gi >= len(groups) {
					return nil, io.EOF
				}
				rows = groups[gi].Rows() // one row group at a time: the previous one is closed
				gi++
			}
			n, err := rows.ReadRows(buf)
			if n == 1 {
				m := map[string]any{}
				if err := schema.Reconstruct(&m, buf[0]); err != nil {
					return nil, fmt.Errorf("%s: row %d: %v", t.Path, t.Row+1, err)
				}
				return m, nil
			}
			if err == io.EOF || (err == nil && n == 0) {
				rows.Close()
				rows = nil
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s: corrupt or truncated parquet file at row %d: %v", t.Path, t.Row+1, err)
			}
		}
	}
	return nil
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// checkParquetFooter checks the magic bytes and that the footer length
// fits in the file before parquet-go allocates a buffer of that length.
func checkParquetFooter(f io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short for parquet", size)
	}
	var head [4]byte
	var tail [8]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return err
	}
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return errors.New("no PAR1 magic bytes at its start and end")
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n+12 > size {
		return fmt.Errorf("its footer claims %d bytes, more than the file has", n)
	}
	return nil
}

// Limits on what one parquet page may claim; beyond them a file is taken
// as corrupt instead of letting the reader allocate what it claims.
const (
	maxPageBytes  = 1 << 30
	maxPageValues = 1 << 27
)

// checkParquetPages walks the page headers of every column chunk and
// checks that each page lies inside its chunk and the chunk inside the
// file, and that no page claims more than maxPageBytes or maxPageValues,
// so that a corrupt size field is an error, not an allocation of
// gigabytes. It reads only the headers.
func checkParquetPages(f io.ReaderAt, size int64, meta *format.FileMetaData) error {
	proto := thrift.CompactProtocol{}
	for gi, g := range meta.RowGroups {
		for ci, c := range g.Columns {
			m := c.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			end := start + m.TotalCompressedSize
			if start < 4 || m.TotalCompressedSize < 0 || end > size-8 || end < start {
				return fmt.Errorf("row group %d column %d: chunk at %d+%d lies outside the file (%d bytes)", gi, ci, start, m.TotalCompressedSize, size)
			}
			if m.NumValues < 0 {
				return fmt.Errorf("row group %d column %d: %d values", gi, ci, m.NumValues)
			}
			for pos := start; pos < end; {
				sec := io.NewSectionReader(f, pos, end-pos)
				br := bufio.NewReaderSize(sec, 4096)
				var h format.PageHeader
				if err := thrift.NewDecoder(proto.NewReader(br)).Decode(&h); err != nil {
					return fmt.Errorf("row group %d column %d: page header at %d: %v", gi, ci, pos, err)
				}
				read, _ := sec.Seek(0, io.SeekCurrent)
				hdr := read - int64(br.Buffered())
				if h.CompressedPageSize < 0 || h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes ||
					pos+hdr+int64(h.CompressedPageSize) > end {
					return fmt.Errorf("row group %d column %d: page at %d claims %d bytes (%d uncompressed), past its chunk", gi, ci, pos, h.CompressedPageSize, h.UncompressedPageSize)
				}
				var n int32
				switch {
				case h.DataPageHeader != nil:
					n = h.DataPageHeader.NumValues
				case h.DataPageHeaderV2 != nil:
					n = h.DataPageHeaderV2.NumValues
					if h.DataPageHeaderV2.NumNulls < 0 || h.DataPageHeaderV2.NumRows < 0 || h.DataPageHeaderV2.NumRows > maxPageValues {
						return fmt.Errorf("row group %d column %d: page at %d: bad row counts", gi, ci, pos)
					}
				case h.DictionaryPageHeader != nil:
					n = h.DictionaryPageHeader.NumValues
				}
				if n < 0 || n > maxPageValues {
					return fmt.Errorf("row group %d column %d: page at %d claims %d values", gi, ci, pos, n)
				}
				pos += hdr + int64(h.CompressedPageSize)
			}
		}
	}
	return nil
}

func (t *Table) openJSON(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	// A .json file is a JSON array (or an object holding one under "data"),
	// or JSON Lines as datasets also accepts.
	first, err := firstNonSpace(br)
	if err != nil && err != io.EOF {
		return fmt.Errorf("%s: %v", t.Path, err)
	}
	if t.Format == "json" && first == '[' {
		dec := json.NewDecoder(br)
		dec.UseNumber()
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%s: %v", t.Path, err)
		}
		t.next = func() (map[string]any, error) {
			if !dec.More() {
				return nil, io.EOF
			}
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("%s: element %d: %v", t.Path, t.Row+1, jsonErr(err))
			}
			t.noteColumns(m)
			return m, nil
		}
		return nil
	}
	if t.Format == "json" && first == '{' {
		// Either JSON Lines, or one object; an object whose "data" is an
		// array is read as that array.
		b, err := io.ReadAll(br)
		if err != nil {
			return fmt.Errorf("%s: %v", t.Path, err)
		}
		var whole map[string]json.RawMessage
		if json.Unmarshal(b, &whole) == nil {
			if raw, ok := whole["data"]; ok && len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '[' {
				var rows []map[string]any
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.UseNumber()
				if err := dec.Decode(&rows); err != nil {
					return fmt.Errorf("%s: field data: %v", t.Path, jsonErr(err))
				}
				i := 0
				t.next = func() (map[string]any, error) {
					if i >= len(rows) {
						return nil, io.EOF
					}
					i++
					t.noteColumns(rows[i-1])
					return rows[i-1], nil
				}
				return nil
			}
		}
		br = bufio.NewReader(bytes.NewReader(b))
	}
	line := 0
	t.next = func() (map[string]any, error) {
		for {
			b, err := br.ReadBytes('\n')
			if len(b) == 0 && err != nil {
				if err == io.EOF {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("%s:%d: %v", t.Path, line+1, err)
			}
			line++
			b = bytes.TrimSpace(b)
			if len(b) == 0 {
				continue
			}
			if line == 1 {
				b = TrimBOM(b)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", t.Path, line, jsonErr(err))
			}
			if m == nil {
				return nil, fmt.Errorf("%s:%d: want a JSON object", t.Path, line)
			}
			t.noteColumns(m)
			t.line = line
			return m, nil
		}
	}
	return nil
}

// noteColumns records the keys of the first JSON row as the columns.
func (t *Table) noteColumns(m map[string]any) {
	if t.Columns != nil {
		return
	}
	t.Columns = []string{}
	for k := range m {
		t.Columns = append(t.Columns, k)
	}
	sort.Strings(t.Columns)
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if err != nil {
			return 0, err
		}
		c := b[i-1]
		if c == ' ' || c == '\n' || c == '\r' || c == '\t' {
			continue
		}
		if c == 0xef && i <= 1 { // a BOM
			if b3, err := br.Peek(3); err == nil && string(b3) == bom {
				br.Discard(3)
				i = 0
				continue
			}
		}
		return c, nil
	}
}

func (t *Table) openCSV(r io.Reader, tsv bool) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	if tsv {
		cr.Comma = '\t'
		cr.LazyQuotes = true
	}
	header, err := cr.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file", t.Path)
	}
	if err != nil {
		return csvError(t.Path, err)
	}
	for _, h := range header {
		t.Columns = append(t.Columns, strings.TrimSpace(TrimBOM(h)))
	}
	t.next = func() (map[string]any, error) {
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				return nil, io.EOF
			}
			if err != nil {
				return nil, csvError(t.Path, err)
			}
			if blankRecord(rec) {
				continue
			}
			line, _ := cr.FieldPos(0)
			if len(rec) > len(t.Columns) {
				return nil, fmt.Errorf("%s:%d: %d fields, but the header names %d columns", t.Path, line, len(rec), len(t.Columns))
			}
			m := make(map[string]any, len(t.Columns))
			for i, c := range t.Columns {
				if i < len(rec) {
					m[c] = rec[i]
				} else {
					m[c] = nil
				}
			}
			t.line = line
			return m, nil
		}
	}
	return nil
}

// Column roles: what a column means to kormed.
const (
	RoleQuery    = "query"
	RoleDocument = "document"
	RoleNegative = "negative"
	RoleLabel    = "label"
	RoleID       = "id"
	RoleTitle    = "title"
)

// DefaultColumnNames are the column names each role is looked up by, in
// order, case-insensitively, when no explicit mapping names one.
var DefaultColumnNames = map[string][]string{
	RoleQuery:    {"query", "question", "anchor"},
	RoleDocument: {"document", "positive", "context", "text"},
	RoleNegative: {"negative", "hard_negative", "negatives", "hard_negatives"},
	RoleLabel:    {"label", "score"},
	RoleID:       {"_id", "id"},
	RoleTitle:    {"title"},
}

// Columns maps a role to the column that holds it (an explicit mapping:
// `columns = {query = "QUESTION"}` in a recipe, --columns query=QUESTION).
type Columns map[string]string

// ParseColumns parses "query=QUESTION,document=CONTEXTS".
func ParseColumns(s string) (Columns, error) {
	c := Columns{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		role, col, ok := strings.Cut(part, "=")
		role, col = strings.TrimSpace(role), strings.TrimSpace(col)
		if !ok || role == "" || col == "" {
			return nil, fmt.Errorf("--columns: %q is not ROLE=COLUMN (e.g. query=QUESTION,document=CONTEXTS)", part)
		}
		if _, known := DefaultColumnNames[role]; !known {
			return nil, fmt.Errorf("--columns: unknown role %q (want %s)", role, strings.Join(roleNames(), ", "))
		}
		c[role] = col
	}
	return c, nil
}

func roleNames() []string {
	var r []string
	for k := range DefaultColumnNames {
		r = append(r, k)
	}
	sort.Strings(r)
	return r
}

// Want asks Bind for one role.
type Want struct {
	Role     string
	Names    []string // default names to look for; nil = DefaultColumnNames[Role]
	Required bool
}

// Bind finds the column of each wanted role: the explicit mapping first,
// else the first default name the table has (case-insensitively). source
// names the dataset (e.g. hf://owner/name:config) in errors; a missing
// required column is an error naming the dataset, the file and the
// columns it has. The result maps role to column; an optional role not
// found is absent.
func (t *Table) Bind(source string, explicit Columns, want ...Want) (map[string]string, error) {
	have := map[string]string{}
	for _, c := range t.Columns {
		if _, dup := have[strings.ToLower(c)]; !dup {
			have[strings.ToLower(c)] = c
		}
	}
	out := map[string]string{}
	for _, w := range want {
		if col, ok := explicit[w.Role]; ok {
			real, found := have[strings.ToLower(col)]
			if !found {
				return nil, fmt.Errorf("%s: file %s has no column %q (mapped to %s); it has %s", source, t.Path, col, w.Role, t.columnList())
			}
			out[w.Role] = real
			continue
		}
		names := w.Names
		if names == nil {
			names = DefaultColumnNames[w.Role]
		}
		for _, n := range names {
			if real, ok := have[strings.ToLower(n)]; ok {
				out[w.Role] = real
				break
			}
		}
		if _, ok := out[w.Role]; !ok && w.Required {
			return nil, fmt.Errorf("%s: file %s has no %s column (looked for %s); it has %s; map one with --columns %s=COLUMN (or columns = {%s = \"COLUMN\"} in a recipe)",
				source, t.Path, w.Role, strings.Join(names, ", "), t.columnList(), w.Role, w.Role)
		}
	}
	return out, nil
}

func (t *Table) columnList() string {
	if len(t.Columns) == 0 {
		return "no columns"
	}
	return strings.Join(t.Columns, ", ")
}

// Text returns a value as text: strings as they are, numbers in decimal,
// nil as "". Lists and objects are errors.
func Text(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("want text, got a %s", kindOf(v))
}

// Texts returns a value as a list of texts: a list's elements, or a single
// text as a list of one ("" gives none).
func Texts(v any) ([]string, error) {
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, err := Text(e)
			if err != nil {
				return nil, fmt.Errorf("list element: %v", err)
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := Text(v)
	if err != nil || s == "" {
		return nil, err
	}
	return []string{s}, nil
}

// Number returns a value as a finite number.
func Number(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case string, json.Number:
		s, _ := Text(x)
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, fmt.Errorf("want a number, got %q", s)
		}
	case bool:
		if x {
			f = 1
		}
	case int, int32, int64, uint32, uint64, float32, float64:
		s, _ := Text(x)
		f, _ = strconv.ParseFloat(s, 64)
	default:
		return 0, fmt.Errorf("want a number, got a %s", kindOf(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("want a finite number")
	}
	return f, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
