package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/kormed/kormed/model"
)

// GradCache gives the update of the uncached loss: same loss, same
// gradients (to 1e-5 of each tensor's scale), with dropout on (the masks
// are keyed by the row's place in the whole batch, not its mini-batch).
func TestGradCacheMatchesUncached(t *testing.T) {
	queries := []string{"열을 내리는 약은?", "임산부가 먹으면 안 되는 약", "판콜에이내복액은 어떤 약이야?", "위장약 알려줘", "두통약", "기침약 추천", "눈에 넣는 약"}
	docs := []string{"해열제는 체온을 낮추는 약입니다.", "임부금기 약물은 임산부에게 투여하면 안 됩니다.", "판콜에이내복액은 해열진통제입니다.",
		"소화성궤양용제는 위산 분비를 억제합니다.", "아세트아미노펜은 두통을 줄입니다.", "진해거담제는 기침과 가래를 줄입니다.", "안약은 눈에 넣습니다."}
	negs := []string{"이뇨제", "노인주의", "항결핵제", "안약", "변비약", "강심제", "비타민제"}
	run := func(mini int, drop float32) (float64, map[string][]float32) {
		m, err := model.Load("../testdata/models/tiny-xlmr")
		if err != nil {
			t.Fatal(err)
		}
		plan, err := Freeze{Embeddings: "word"}.Resolve(m)
		if err != nil {
			t.Fatal(err)
		}
		tw := NewTower(m, plan.Func())
		loss, _ := NewLoss("mnrl", LossParams{})
		st := &Step{Towers: []*Tower{tw, tw, tw}, Prefixes: []string{"query: ", "passage: ", "passage: "}, Loss: loss,
			MaxLength: 32, MiniBatch: mini, HiddenDropout: drop, AttentionDropout: drop}
		l, err := st.LossAndGrad(&Batch{Texts: [][]string{queries, docs, negs}}, 99, 1)
		if err != nil {
			t.Fatal(err)
		}
		return l, hfTensors(&m.Enc.Cfg, m.Enc.W, tw.Grads)
	}
	plain, _ := run(0, 0)
	for _, drop := range []float32{0, 0.1} {
		l0, g0 := run(0, drop)
		if drop > 0 && l0 == plain {
			t.Fatalf("dropout %g left the loss unchanged (%g)", drop, l0)
		}
		for _, mini := range []int{1, 2, 3, 7, 10} {
			t.Run(fmt.Sprintf("dropout=%g/mini=%d", drop, mini), func(t *testing.T) {
				l, g := run(mini, drop)
				if math.Abs(l-l0) > 1e-5*math.Abs(l0) {
					t.Errorf("loss %.8g, uncached %.8g", l, l0)
				}
				compareGrads(t, g, g0, 1e-5, 1e-5)
			})
		}
	}
}
