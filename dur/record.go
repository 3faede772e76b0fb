package dur

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/korean"
)

// Record is one DUR record as the MFDS DUR open APIs publish it: a row of
// the item API (DURPrdlstInfoService03, which names a product by ITEM_SEQ)
// or of the ingredient API (DURIrdntInfoService03, which names an
// ingredient by INGR_CODE and INGR_NAME and no product).
type Record struct {
	Type           string // TYPE_NAME: 임부금기, 노인주의, 병용금기, …
	ItemSeq        string // ITEM_SEQ, the product permit number (품목기준코드)
	ItemName       string // ITEM_NAME
	IngredientCode string // INGR_CODE, usually a DUR code "D000027"
	Ingredient     string // INGR_NAME, else INGR_KOR_NAME
	IngredientEng  string // INGR_ENG_NAME
	Content        string // PROHBT_CONTENT
	Company        string // ENTP_NAME
	// MainIngredient is MAIN_INGR of the item API ("[M040080]덱사메타손");
	// Related is ORI_INGR of the ingredient API, the permit ingredients
	// the DUR ingredient covers ("[M088403]클로르디아제폭시드/[M223206]
	// 클로르디아제폭시드염산염").
	MainIngredient string
	Related        string
	// The other side of a 병용금기 rule: MIXTURE_INGR_CODE,
	// MIXTURE_INGR_KOR_NAME (or MIXTURE_INGR_NAME), MIXTURE_ITEM_SEQ,
	// MIXTURE_ITEM_NAME.
	MixtureIngredientCode string
	MixtureIngredient     string
	MixtureItemSeq        string
	MixtureItemName       string
	AgeBase               string // AGE_BASE of 특정연령대금기 ("18세 이하")
	Remark                string // REMARK

	// Fields holds every field of the record by its upper-case API name
	// (Korean CSV headers mapped to the API names), empty values included.
	Fields map[string]string
	// Source says where the record was read: "file:line" for CSV and
	// JSONL, "file: body.items[3]" for JSON, "file:line" of the <item>
	// element for XML.
	Source string
}

// codeRe finds the bracketed ingredient codes of MAIN_INGR and ORI_INGR.
var codeRe = regexp.MustCompile(`\[([A-Za-z]\d{6})\]`)

// Codes returns the ingredient codes the record is about: the codes in
// INGR_CODE (split on '/', ',', '|', ';', '+' and spaces) followed by the
// bracketed permit codes of ORI_INGR, deduplicated, in that order. MAIN_INGR
// is not included: on item records it lists all ingredients of the product,
// not the one the rule is about.
func (r Record) Codes() []string {
	var out []string
	add := func(c string) {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != "" && !contains(out, c) {
			out = append(out, c)
		}
	}
	for _, c := range strings.FieldsFunc(r.IngredientCode, isListSep) {
		add(c)
	}
	for _, m := range codeRe.FindAllStringSubmatch(r.Related, -1) {
		add(m[1])
	}
	return out
}

func isListSep(r rune) bool {
	switch r {
	case '/', ',', '|', ';', '+', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// aliases maps header names other than the API field names to them: the
// API's own variants and the Korean labels of the data.go.kr API
// documentation, which CSV exports use as column titles. Keys are upper
// case with spaces removed.
var aliases = map[string]string{
	"DUR유형":         "TYPE_NAME",
	"DUR성분코드":       "INGR_CODE",
	"DUR성분":         "INGR_NAME",
	"DUR성분명":        "INGR_NAME",
	"DUR성분(영문)":     "INGR_ENG_NAME",
	"품목기준코드":        "ITEM_SEQ",
	"품목명":           "ITEM_NAME",
	"업체명":           "ENTP_NAME",
	"금기내용":          "PROHBT_CONTENT",
	"주성분":           "MAIN_INGR",
	"관계성분":          "ORI_INGR",
	"복합제":           "MIX_INGR",
	"비고":            "REMARK",
	"병용금기DUR성분코드":   "MIXTURE_INGR_CODE",
	"병용금기DUR성분":     "MIXTURE_INGR_KOR_NAME",
	"병용금기품목기준코드":    "MIXTURE_ITEM_SEQ",
	"병용금기품목명":       "MIXTURE_ITEM_NAME",
	"DUR일련번호":       "DUR_SEQ",
	"단일/복합":         "MIX",
	"고시일자":          "NOTIFICATION_DATE",
	"연령기준":          "AGE_BASE",
	"병용금기DUR성분(영문)": "MIXTURE_INGR_ENG_NAME",
}

// fieldName returns the canonical (upper-case API) name of a field or
// column name.
func fieldName(name string) string {
	n := strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
	if a, ok := aliases[strings.Join(strings.Fields(n), "")]; ok {
		return a
	}
	return n
}

// first returns the first non-empty of the named fields.
func first(f map[string]string, names ...string) string {
	for _, n := range names {
		if v := f[n]; v != "" {
			return v
		}
	}
	return ""
}

// fromFields builds the records of one row whose fields are already
// canonical. A TYPE_NAME listing several types ("병용금기,임부금기", as the
// DUR item list operation writes them) gives one record per type.
func fromFields(f map[string]string, source string) ([]Record, error) {
	r := Record{
		Type:                  f["TYPE_NAME"],
		ItemSeq:               f["ITEM_SEQ"],
		ItemName:              f["ITEM_NAME"],
		IngredientCode:        f["INGR_CODE"],
		Ingredient:            first(f, "INGR_NAME", "INGR_KOR_NAME"),
		IngredientEng:         f["INGR_ENG_NAME"],
		Content:               f["PROHBT_CONTENT"],
		Company:               f["ENTP_NAME"],
		MainIngredient:        f["MAIN_INGR"],
		Related:               f["ORI_INGR"],
		MixtureIngredientCode: f["MIXTURE_INGR_CODE"],
		MixtureIngredient:     first(f, "MIXTURE_INGR_KOR_NAME", "MIXTURE_INGR_NAME"),
		MixtureItemSeq:        f["MIXTURE_ITEM_SEQ"],
		MixtureItemName:       f["MIXTURE_ITEM_NAME"],
		AgeBase:               f["AGE_BASE"],
		Remark:                f["REMARK"],
		Fields:                f,
		Source:                source,
	}
	if r.Type == "" {
		return nil, fmt.Errorf("%s: record has no TYPE_NAME (fields %s)", source, strings.Join(sortedKeys(f), ", "))
	}
	if r.ItemSeq == "" && r.IngredientCode == "" && r.Ingredient == "" && r.Related == "" {
		return nil, fmt.Errorf("%s: %s record names no product or ingredient (no ITEM_SEQ, INGR_CODE, INGR_NAME or ORI_INGR)", source, r.Type)
	}
	var out []Record
	for _, t := range strings.Split(r.Type, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c := r
			c.Type = t
			out = append(out, c)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// clean trims a field value and maps the literal null (any case) to "".
func clean(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "null") {
		return ""
	}
	return s
}

// ReadFile reads DUR records from a file, choosing the format by the
// extension (.json, .jsonl and .ndjson: JSON; .xml: XML; .csv, .tsv and
// .txt: CSV) or, for any other name, by the first character (after a
// byte-order mark): '{' or '[' JSON, '<' XML, anything else CSV. See Read
// for the formats.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads DUR records from r; name is the file name, used to choose the
// format as ReadFile does and in error messages.
//
// Accepted formats:
//
//   - JSON as the data.go.kr APIs return it with type=json:
//     {"header":{"resultCode":"00",…},"body":{"items":[…],"numOfRows":…,
//     "totalCount":…}}, with or without an outer "response" object, items
//     being an array of records, an array of {"item":{…}} wrappers,
//     {"item":[…]} or {"item":{…}}, or a single record; a header whose
//     resultCode is not "00" is an error. Also a plain JSON array of
//     records (or of responses), a single record, and JSONL (one record or
//     response per line).
//   - XML as the APIs return it by default (<response><header>…
//     <body><items><item>…</item></items></body></response>); the gateway's
//     <OpenAPI_ServiceResponse> error document is reported as an error.
//   - CSV with a header row naming the fields: the API field names in any
//     case, or the Korean labels of the API documentation (DUR유형,
//     DUR성분코드, DUR성분, 품목기준코드, 품목명, 금기내용, …); comma- or
//     tab-separated (chosen from the header line), RFC 4180 quoting.
//
// Text may be UTF-8, with or without a byte-order mark, or CP949/EUC-KR
// (as data.go.kr CSV downloads often are): input that is not valid UTF-8
// is decoded as CP949. Field values are trimmed and a literal null is
// empty.
//
// Every record must have a TYPE_NAME and name a product or an ingredient
// (ITEM_SEQ, INGR_CODE, INGR_NAME/INGR_KOR_NAME or ORI_INGR); errors name
// the file and the line (CSV, JSONL, XML) or the record's path in the
// JSON document ("body.items[3]").
func Read(r io.Reader, name string) ([]Record, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data, err = toUTF8(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".jsonl", ".ndjson":
		return readJSON(data, name)
	case ".xml":
		return readXML(data, name)
	case ".csv", ".tsv", ".txt":
		return readCSV(data, name)
	}
	switch t := bytes.TrimLeft(data, " \t\r\n"); {
	case len(t) > 0 && (t[0] == '{' || t[0] == '['):
		return readJSON(data, name)
	case len(t) > 0 && t[0] == '<':
		return readXML(data, name)
	}
	return readCSV(data, name)
}

// toUTF8 drops a UTF-8 byte-order mark and decodes text that is not valid
// UTF-8 as CP949 (EUC-KR with the Unified Hangul Code extensions).
func toUTF8(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if utf8.Valid(data) {
		return data, nil
	}
	out, err := korean.EUCKR.NewDecoder().Bytes(data)
	if err != nil {
		return nil, fmt.Errorf("neither UTF-8 nor CP949: %w", err)
	}
	return bytes.TrimPrefix(out, []byte("\ufeff")), nil
}

// lineAt returns the 1-based line of the first non-space byte at or after
// off.
func lineAt(data []byte, off int64) int {
	i := int(off)
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

func readJSON(data []byte, name string) ([]Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type top struct {
		v    any
		line int
	}
	var tops []top
	for {
		start := dec.InputOffset()
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			off := dec.InputOffset()
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = se.Offset
			}
			return nil, fmt.Errorf("%s:%d: malformed JSON: %w", name, lineAt(data, off), err)
		}
		tops = append(tops, top{v, lineAt(data, start)})
	}
	var out []Record
	for _, t := range tops {
		w := jsonWalker{name: name}
		if len(tops) > 1 {
			w.prefix = fmt.Sprintf("%s:%d", name, t.line) // JSONL
		}
		if err := w.walk(t.v, ""); err != nil {
			return nil, err
		}
		out = append(out, w.out...)
	}
	return out, nil
}

type jsonWalker struct {
	name, prefix string
	out          []Record
}

// where names a path inside the document for messages.
func (w *jsonWalker) where(path string) string {
	switch {
	case w.prefix != "" && path != "":
		return w.prefix + ": " + path
	case w.prefix != "":
		return w.prefix
	case path != "":
		return w.name + ": " + path
	}
	return w.name
}

func join(path, key string) string {
	if path == "" || strings.HasPrefix(key, "[") {
		return path + key
	}
	return path + "." + key
}

// walk handles a top-level value: a response, an array of responses or
// records, or a record.
func (w *jsonWalker) walk(v any, path string) error {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			if err := w.walk(e, join(path, fmt.Sprintf("[%d]", i))); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if r, ok := x["response"]; ok && len(x) == 1 {
			return w.walk(r, join(path, "response"))
		}
		_, hasHeader := x["header"]
		body, hasBody := x["body"]
		if hasHeader || hasBody {
			if h, ok := x["header"].(map[string]any); ok {
				code := scalar(h["resultCode"])
				if code != "" && code != "00" && code != "0" {
					return fmt.Errorf("%s: API error %s: %s", w.where(join(path, "header")), code, scalar(h["resultMsg"]))
				}
			}
			if !hasBody {
				return nil
			}
			b, ok := body.(map[string]any)
			if !ok {
				if body == nil || scalar(body) == "" {
					return nil
				}
				return fmt.Errorf("%s: body is not an object", w.where(join(path, "body")))
			}
			return w.items(b["items"], join(path, "body.items"))
		}
		if items, ok := x["items"]; ok {
			return w.items(items, join(path, "items"))
		}
		if item, ok := x["item"]; ok && len(x) == 1 {
			return w.items(item, join(path, "item"))
		}
		return w.record(x, path)
	}
	return fmt.Errorf("%s: expected a JSON object or array, found %s", w.where(path), describe(v))
}

// items handles the value of "items" (or "item").
func (w *jsonWalker) items(v any, path string) error {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if strings.TrimSpace(x) == "" {
			return nil // "items": "" — no results
		}
	case []any:
		for i, e := range x {
			p := join(path, fmt.Sprintf("[%d]", i))
			m, ok := e.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: expected a record object, found %s", w.where(p), describe(e))
			}
			if item, ok := m["item"]; ok && len(m) == 1 {
				if err := w.items(item, join(p, "item")); err != nil {
					return err
				}
				continue
			}
			if err := w.record(m, p); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if item, ok := x["item"]; ok && len(x) == 1 {
			return w.items(item, join(path, "item"))
		}
		return w.record(x, path)
	}
	return fmt.Errorf("%s: expected records, found %s", w.where(path), describe(v))
}

func (w *jsonWalker) record(m map[string]any, path string) error {
	if path == "" && w.prefix == "" {
		path = "record"
	}
	f := map[string]string{}
	for k, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			return fmt.Errorf("%s: field %s is not a scalar", w.where(path), k)
		}
		f[fieldName(k)] = clean(scalar(v))
	}
	recs, err := fromFields(f, w.where(path))
	if err != nil {
		return err
	}
	w.out = append(w.out, recs...)
	return nil
}

// scalar renders a JSON scalar as text (null as "").
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return "an object"
}

func readCSV(data []byte, name string) ([]Record, error) {
	r := csv.NewReader(bytes.NewReader(data))
	headLine := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		headLine = data[:i]
	}
	if bytes.Count(headLine, []byte("\t")) > bytes.Count(headLine, []byte(",")) {
		r.Comma = '\t'
	}
	head, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	cols := make([]string, len(head))
	hasType := false
	for i, h := range head {
		cols[i] = fieldName(h)
		hasType = hasType || cols[i] == "TYPE_NAME"
	}
	if !hasType {
		return nil, fmt.Errorf("%s:1: no TYPE_NAME column (have %s)", name, strings.Join(head, ","))
	}
	r.FieldsPerRecord = len(head)
	var out []Record
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := r.FieldPos(0)
		f := map[string]string{}
		for i, v := range rec {
			v = clean(v)
			if prev, dup := f[cols[i]]; !dup || prev == "" {
				f[cols[i]] = v
			}
		}
		recs, err := fromFields(f, fmt.Sprintf("%s:%d", name, line))
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: malformed CSV row: %w", name, pe.StartLine, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func readXML(data []byte, name string) ([]Record, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	// The text is UTF-8 by now whatever the declaration says.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var (
		out     []Record
		stack   []string
		item    map[string]string // the <item> being read, nil outside one
		itemAt  int
		text    strings.Builder
		errMsg  = map[string]string{}
		rootErr bool
	)
	for {
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: malformed XML: %w", name, line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && t.Name.Local == "OpenAPI_ServiceResponse" {
				rootErr = true
			}
			stack = append(stack, t.Name.Local)
			text.Reset()
			if t.Name.Local == "item" && item == nil {
				item, itemAt = map[string]string{}, line
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			n := len(stack)
			if n == 0 {
				break
			}
			el := stack[n-1]
			stack = stack[:n-1]
			switch {
			case item != nil && el == "item" && !insideItem(stack):
				recs, err := fromFields(item, fmt.Sprintf("%s:%d", name, itemAt))
				if err != nil {
					return nil, err
				}
				out = append(out, recs...)
				item = nil
			case item != nil && n >= 2 && stack[len(stack)-1] == "item":
				item[fieldName(el)] = clean(text.String())
			case item == nil:
				errMsg[el] = strings.TrimSpace(text.String())
			}
			text.Reset()
		}
	}
	if rootErr {
		return nil, fmt.Errorf("%s: API error %s: %s", name, errMsg["returnReasonCode"], first(errMsg, "returnAuthMsg", "errMsg"))
	}
	if code := errMsg["resultCode"]; code != "" && code != "00" && code != "0" {
		return nil, fmt.Errorf("%s: API error %s: %s", name, code, errMsg["resultMsg"])
	}
	return out, nil
}

// insideItem reports whether an <item> element is still open.
func insideItem(stack []string) bool {
	for _, s := range stack {
		if s == "item" {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
