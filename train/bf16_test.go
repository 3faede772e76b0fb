package train

import (
	"testing"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/model"
)

// Under --precision bf16 a training step computes the fp32 step's loss and
// gradients to bfloat16 accuracy (about 2 significant digits of each
// tensor's scale), and not the identical numbers (so bf16 really ran).
func TestBF16StepNearFP32(t *testing.T) {
	if err := blas.SetPrecision(blas.BF16); err != nil {
		t.Skip(err)
	}
	blas.SetPrecision(blas.FP32)
	defer blas.SetPrecision(blas.FP32)
	run := func(p blas.Precision) (float64, map[string][]float32) {
		if err := blas.SetPrecision(p); err != nil {
			t.Fatal(err)
		}
		defer blas.SetPrecision(blas.FP32)
		m, err := model.Load("../testdata/models/tiny-xlmr")
		if err != nil {
			t.Fatal(err)
		}
		plan, _ := Freeze{}.Resolve(m)
		if packed := m.Enc.W.PackedBF16(); packed != (p == blas.BF16) {
			t.Fatalf("%v: loaded with the packed bf16 copy %v", p, packed)
		}
		tw := NewTower(m, plan.Func())
		if m.Enc.W.PackedBF16() { // it would not follow the training
			t.Fatal("the packed bf16 inference copy survived NewTower")
		}
		loss, _ := NewLoss("mnrl", LossParams{})
		st := &Step{Towers: []*Tower{tw, tw}, Prefixes: []string{"query: ", "passage: "}, Loss: loss, MaxLength: 64}
		var q, d []string
		for i := 0; i < 48; i++ { // big enough that the products pass blas's bf16 threshold
			q = append(q, "해열제 "+string(rune('가'+i))+" 알려줘 열을 내리는 약은 무엇인가요")
			d = append(d, "해열제는 체온을 낮추는 약입니다 "+string(rune('나'+i))+" 아세트아미노펜 이부프로펜 복용")
		}
		l, err := st.LossAndGrad(&Batch{Texts: [][]string{q, d}}, 3, 1)
		if err != nil {
			t.Fatal(err)
		}
		return l, hfTensors(&m.Enc.Cfg, m.Enc.W, tw.Grads)
	}
	l32, g32 := run(blas.FP32)
	l16, g16 := run(blas.BF16)
	if l16 == l32 {
		t.Fatalf("bf16 loss equals fp32 loss exactly (%v): bf16 not in use", l16)
	}
	if d := l16 - l32; d > 0.02*l32 || d < -0.02*l32 {
		t.Errorf("loss: bf16 %.6g, fp32 %.6g", l16, l32)
	}
	compareGrads(t, g16, g32, 0.1, 1e-2)
}
