package lmtrain

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/safetensors"
)

// ExpandSlotName turns a slot name with a fused group
// ("p.{q_proj,k_proj,v_proj}.weight") into the Hugging Face names of its
// parts; other names are returned as they are.
func ExpandSlotName(name string) []string {
	i := strings.IndexByte(name, '{')
	j := strings.IndexByte(name, '}')
	if i < 0 || j < i {
		return []string{name}
	}
	var out []string
	for _, part := range strings.Split(name[i+1:j], ",") {
		out = append(out, name[:i]+part+name[j+1:])
	}
	return out
}

// TrainedNames are the Hugging Face tensor names the slots cover.
func TrainedNames(slots []optim.Slot) map[string]bool {
	out := map[string]bool{}
	for _, s := range slots {
		if s.Grad == nil {
			continue
		}
		for _, n := range ExpandSlotName(s.Name) {
			out[n] = true
		}
	}
	return out
}

// isWeightFile reports the files of a model folder that hold weights
// (which Save writes anew) rather than configuration or tokenizer.
func isWeightFile(name string) bool {
	for _, suf := range []string{".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".onnx", ".ckpt"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// Save writes m as a Hugging Face model folder dir: the files of the
// source folder src other than weights (config.json, generation_config.json,
// tokenizer files, chat template, remote code, licence) copied as they are,
// and one model.safetensors with every tensor under its original name.
// Tensors named in trained are written in F32 (an optimiser step at lr
// 1e-5 is below BF16's resolution); the others keep the dtype they have
// in src (F32, F16, BF16 or F64 — their values came from there, so they are
// written back bit for bit). dir is built in a temporary folder next to it
// and renamed into place: readers see the old folder or the complete new
// one.
func Save(m *decoder.Model, src, dir string, trained map[string]bool) error {
	r, err := safetensors.OpenDir(src)
	if err != nil {
		return err
	}
	defer r.Close()
	// The trained tensors from the model; the frozen ones (and any the
	// source lacks, which the model then supplies) read from the source.
	fromModel := func(name string) bool { return trained[name] || !r.Has(name) }
	ts := m.TensorsFunc(fromModel)
	for i := range ts {
		t := &ts[i]
		if fromModel(t.Name) {
			continue
		}
		// Frozen: the source's values in its dtype (the model may hold
		// them rounded to bfloat16).
		info, _ := r.Info(t.Name)
		if t.Floats, err = r.Float32(t.Name, t.Shape); err != nil {
			return err
		}
		t.DType = info.DType
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	var copies []string
	for _, e := range ents {
		n := e.Name()
		if isWeightFile(n) || strings.HasPrefix(n, ".") || n == "README.md" {
			continue
		}
		fi, err := os.Stat(filepath.Join(src, n)) // follows hub-cache links
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		copies = append(copies, n)
	}
	var names []string
	for n := range trained {
		names = append(names, n)
	}
	sort.Strings(names)
	card := fmt.Sprintf("# Fine-tuned causal LM\n\nFine-tuned by kormed from `%s` (%s): %d tensors trained "+
		"(stored in F32), the others unchanged in their original dtype.\n\nTrained tensors:\n\n",
		filepath.Base(filepath.Clean(src)), m.Cfg.ModelType, len(names))
	for _, n := range names {
		card += "- `" + n + "`\n"
	}
	return atomicfile.ReplaceDir(dir, atomicfile.Holding("a model folder", "config.json", "modules.json", "pair.json"), func(tmp string) error {
		for _, n := range copies {
			b, err := os.ReadFile(filepath.Join(src, n))
			if err != nil {
				return err
			}
			if err := atomicfile.WriteBytes(filepath.Join(tmp, n), b); err != nil {
				return err
			}
		}
		if err := atomicfile.WriteBytes(filepath.Join(tmp, "README.md"), []byte(card)); err != nil {
			return err
		}
		return safetensors.Write(filepath.Join(tmp, "model.safetensors"), ts, map[string]string{"format": "pt"})
	})
}
