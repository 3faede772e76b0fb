package dataset

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
)

// CSVFile is a CSV file open for reading with its header row read: RFC
// 4180 quoting (a quoted field may span lines), any number of fields per
// record.
type CSVFile struct {
	*csv.Reader
	Path   string
	Header []string
	// Col maps each header name — lower-cased, trimmed, a leading BOM
	// dropped — to its first column.
	Col map[string]int
	f   *os.File
}

// OpenCSV opens path and reads its header; an empty file or a malformed
// header is an error naming the file (and line).
func OpenCSV(path string) (*CSVFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		f.Close()
		return nil, fmt.Errorf("%s: empty file", path)
	}
	if err != nil {
		f.Close()
		return nil, csvError(path, err)
	}
	return &CSVFile{Reader: r, Path: path, Header: header, Col: csvHeader(header), f: f}, nil
}

// Close closes the file.
func (c *CSVFile) Close() error { return c.f.Close() }

// Next returns the next record that is not a blank line, with the line it
// starts on; io.EOF at the end; a malformed record is an error naming the
// file and line (see Err).
func (c *CSVFile) Next() ([]string, int, error) {
	for {
		rec, err := c.Read()
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, c.Err(err)
		}
		if blankRecord(rec) {
			continue
		}
		line, _ := c.FieldPos(0)
		return rec, line, nil
	}
}

// Err turns an error of Read into one naming the file and line (and, for
// a quote left open, the line where the record started).
func (c *CSVFile) Err(err error) error { return csvError(c.Path, err) }
