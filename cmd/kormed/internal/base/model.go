package base

import (
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
