package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/drugbench"
	"github.com/kormed/kormed/search"
)

// drugCorpus makes one document per MFDS product: the drug benchmark's
// document text, with the product type, type code, company and
// ingredients as fields, and 전문/일반 from drug_summary_100.csv where it
// lists the product.
func drugCorpus(dir string) (*Source, error) {
	src, err := drugbench.Load(dir)
	if err != nil {
		return nil, err
	}
	bench, err := drugbench.Build(src, drugbench.Options{})
	if err != nil {
		return nil, err
	}
	class, err := readDrugClasses(filepath.Join(dir, "drug_summary_100.csv"))
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, drugbench.ProductsFile)
	abs, _ := filepath.Abs(dir)
	fp := "drug:" + abs
	csvs, _ := filepath.Glob(filepath.Join(dir, "*.csv")) // the products, type definitions, permit summaries
	for _, f := range csvs {
		fp += "|" + filepath.Base(f) + ":" + fileStamp(f)
	}
	return &Source{
		Fingerprint: fp,
		Count:       len(src.Products),
		Each: func(fn func(string, search.Doc) error) error {
			for i, p := range src.Products {
				bd := bench.Docs[i]
				d := search.Doc{ID: bd.ID, Title: bd.Title, Text: bd.Text, Fields: map[string][]string{}}
				if t := src.Types[p.TypeCode]; t != nil && len(t.Names) > 0 {
					d.Fields["type"] = []string{t.Names[0]}
				}
				if p.TypeCode != "" {
					d.Fields["type_code"] = []string{p.TypeCode}
				}
				if p.Company != "" {
					d.Fields["company"] = []string{p.Company}
				}
				if len(p.Ingredients) > 0 {
					d.Fields["ingredient"] = p.Ingredients
				}
				if len(p.IngredientCodes) > 0 {
					d.Fields["ingredient_code"] = p.IngredientCodes
				}
				if c := class[p.Seq]; c != "" {
					d.Fields["class"] = []string{c}
				}
				if err := fn(fmt.Sprintf("%s:%d", file, p.Line), d); err != nil {
					return err
				}
			}
			return nil
		},
	}, nil
}

// readDrugClasses maps item_sequence to 전문/일반 from the permit summary
// table, when it is there.
func readDrugClasses(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seqCol, classCol := -1, -1
	for i, h := range head {
		switch dataset.TrimBOM(h) {
		case "item_sequence":
			seqCol = i
		case "special_general_type":
			classCol = i
		}
	}
	if seqCol < 0 || classCol < 0 {
		return nil, fmt.Errorf("%s: no item_sequence or special_general_type column", path)
	}
	out := map[string]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(seqCol, classCol) {
			continue
		}
		c := strings.TrimSuffix(rec[classCol], "의약품") // 일반의약품 → 일반
		if c == "NULL" || c == "" {
			continue
		}
		out[rec[seqCol]] = c
	}
	return out, nil
}
