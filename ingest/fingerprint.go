package ingest

import (
	"fmt"
	"path/filepath"
)

// Fingerprint names every input of a build: the corpus files, the DUR
// file and the files of the model in modelDir ("" for none; its weights
// can change under the same name when a training run writes to the same
// folder).
func Fingerprint(src *Source, durFile, modelDir string) string {
	fp := fmt.Sprintf("%s|%s|%s", src.Fingerprint, durFile, fileStamp(durFile))
	if modelDir != "" {
		for _, f := range []string{"config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "modules.json"} {
			if st := fileStamp(filepath.Join(modelDir, f)); st != "" {
				fp += "|" + f + ":" + st
			}
		}
	}
	return fp
}
