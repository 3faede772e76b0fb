package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// encoding/json matches an object's keys to a struct's fields without
// regard to case, so {"query":"a","QUERY":"b"} searches for "b": a proxy
// that inspects "query" sees one request and kormed serves another.
// checkKeys rejects such keys before the body is decoded.

// checkKeys reports the first key of the JSON value data (in document
// order) that is not one of t's JSON field names but differs from one
// only in case, looking into nested structs, slices, arrays and map
// values; keys that match no field at all are left to the decoder
// (unknown fields are refused by decode and ignored by decodeLoose), and
// so is JSON that is malformed or does not have the shape of t. path
// names data in the message ("" for the body). It reads data once, as
// tokens, skipping the values that cannot hold keys.
func checkKeys(data []byte, t reflect.Type, path string) error {
	if !walks(t) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var ke *keyError
	if err := walkKeys(dec, t, path); errors.As(err, &ke) {
		return ke
	}
	return nil
}

// keyError is a key that differs from a field only in case.
type keyError struct {
	key, path, field string
}

func (e *keyError) Error() string {
	return fmt.Sprintf("key %q in %s: JSON keys are case-sensitive; did you mean %q?", e.key, where(e.path), e.field)
}

// errShape stops the walk at a value that does not have its type's shape.
var errShape = errors.New("not the type's shape")

// walkKeys reads the next value of dec as a value of type t.
func walkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if !walks(t) {
		var skip json.RawMessage
		return dec.Decode(&skip)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar (null) where a struct, slice or map goes: read
	}
	switch {
	case d == '{' && t.Kind() == reflect.Struct:
		fs := structFields(t)
		for dec.More() {
			k, err := key(dec)
			if err != nil {
				return err
			}
			ft, ok := fs.exact[k]
			if !ok {
				if name, ok := fs.folded[foldKey(k)]; ok {
					return &keyError{key: k, path: path, field: name}
				}
				ft = reflect.TypeFor[json.RawMessage]() // unknown: skip
			}
			if err := walkKeys(dec, ft, join(path, k)); err != nil {
				return err
			}
		}
	case d == '{' && t.Kind() == reflect.Map:
		for dec.More() {
			k, err := key(dec)
			if err != nil {
				return err
			}
			if err := walkKeys(dec, t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	case d == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return errShape
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// key reads an object's key.
func key(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := tok.(string)
	if !ok {
		return "", errShape
	}
	return k, nil
}

// walks reports whether a value of type t can hold a struct's keys.
func walks(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Slice, reflect.Array, reflect.Map:
		return walks(t.Elem())
	}
	return false
}

func where(path string) string {
	if path == "" {
		return "the request body"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields are a struct's JSON field names: exact maps each name to its
// type, folded maps each name's foldKey to the name.
type jsonFields struct {
	exact  map[string]reflect.Type
	folded map[string]string
}

var fieldCache sync.Map // reflect.Type → *jsonFields

// structFields lists the JSON fields of struct type t as encoding/json
// names them: the tag's name, else the Go name; "-" and unexported fields
// left out; the fields of an untagged embedded struct promoted unless a
// shallower field has the name.
func structFields(t reflect.Type) *jsonFields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*jsonFields)
	}
	fs := &jsonFields{exact: map[string]reflect.Type{}, folded: map[string]string{}}
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs.exact[name] = f.Type
	}
	for _, et := range embedded {
		for name, ft := range structFields(et).exact {
			if _, ok := fs.exact[name]; !ok {
				fs.exact[name] = ft
			}
		}
	}
	for name := range fs.exact {
		fs.folded[foldKey(name)] = name
	}
	fieldCache.Store(t, fs)
	return fs
}

// foldKey folds a key as encoding/json does when it matches keys to
// fields: ASCII letters upper-cased, other runes replaced by the smallest
// rune of their case-folding orbit (so that the Kelvin sign K matches k,
// and ſ matches s).
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		case r >= utf8.RuneSelf:
			for {
				r2 := unicode.SimpleFold(r)
				if r2 <= r {
					r = r2
					break
				}
				r = r2
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
