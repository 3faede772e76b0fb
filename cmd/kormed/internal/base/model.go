package base

import (
	"os"
	"path/filepath"

	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/search"
)

// ModelInfo is what an index records of its model.
func ModelInfo(m *model.Model) search.ModelInfo {
	mi := search.ModelInfo{Name: m.Name(), Dim: m.Dim(), Pooling: string(m.Pooling), Query: m.QueryPrefix, Passage: m.PassagePrefix}
	if dir := m.Dir(); filepath.Base(filepath.Dir(dir)) == "snapshots" {
		mi.Revision = filepath.Base(dir) // a Hugging Face cache snapshot: the commit
	}
	return mi
}

// ModelName is the name an index records for the model given as arg: a
// local folder by its absolute path, so that 'kormed serve' finds it from
// any working directory and every command names it alike; a Hugging Face
// id as given.
func ModelName(arg string) string {
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		if abs, err := filepath.Abs(arg); err == nil {
			return abs
		}
	}
	return arg
}
