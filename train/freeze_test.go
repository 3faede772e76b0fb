package train

import (
	"strings"
	"testing"

	"github.com/kormed/kormed/model"
)

func TestFreezeResolve(t *testing.T) {
	m, err := model.Load("../testdata/models/tiny-bert") // 2 layers, CLS pooling, with a pooler
	if err != nil {
		t.Fatal(err)
	}
	count := func(pl *Plan) (layers map[int]bool, word, pooler bool) {
		layers = map[int]bool{}
		for i, p := range pl.Params {
			if !pl.Trainable[i] {
				continue
			}
			switch {
			case p.Name == "embeddings.word_embeddings.weight":
				word = true
			case strings.HasPrefix(p.Name, "pooler."):
				pooler = true
			case p.Layer >= 0:
				layers[p.Layer] = true
			}
		}
		return
	}
	pl, err := Freeze{Embeddings: "word", BottomLayers: 1}.Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	if layers, word, pooler := count(pl); word || pooler || layers[0] || !layers[1] {
		t.Errorf("word %v pooler %v layers %v", word, pooler, layers)
	}
	pl, _ = Freeze{TrainTopLayers: 1}.Resolve(m)
	if layers, word, _ := count(pl); word || layers[0] || !layers[1] {
		t.Errorf("train_top_layers 1: word %v layers %v", word, layers)
	}
	var b strings.Builder
	pl.WriteTable(&b, false)
	if !strings.Contains(b.String(), "encoder.layer.0.*") || !strings.Contains(b.String(), "frozen: train_top_layers = 1") ||
		!strings.Contains(b.String(), "unused (pooling cls)") {
		t.Errorf("table:\n%s", b.String())
	}
	for _, bad := range []struct {
		f    Freeze
		want string
	}{
		{Freeze{BottomLayers: 3}, "has 2 layers"},
		{Freeze{TrainTopLayers: 5}, "has 2 layers"},
		{Freeze{Names: []string{"layers.28"}}, "matches no parameter"},
		{Freeze{Names: []string{"transformer.h.28."}}, "matches no parameter"},
		{Freeze{Embeddings: "some"}, "want none, word or all"},
		{Freeze{Embeddings: "all", BottomLayers: 2}, "no parameter"},
		{Freeze{BottomLayers: 1, TrainTopLayers: 1}, "both set"},
	} {
		if _, err := bad.f.Resolve(m); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: error %v, want %q", bad.f, err, bad.want)
		}
	}
}
