package decoder

import (
	"fmt"

	"github.com/kormed/kormed/optim"
)

// Slots pairs each trainable tensor of m with its gradient in g, for
// package optim's optimiser and clipping (optim.NewAdamW, AdamW.Update,
// optim.ClipGradNorm): blocks g.First…L-1 in order, the final norm, the
// LM head (for a tied model the shared embedding matrix, named after the
// embedding), and the untied embedding when trained. Names are the
// Hugging Face tensor names of the model type; the fused tensors are
// named by their parts ("model.layers.3.self_attn.{q_proj,k_proj,v_proj}.weight",
// "model.layers.3.mlp.{gate_proj,up_proj}.weight"; stored transposed). Weight
// decay applies to weight matrices and embeddings, not to biases or
// RMSNorm weights, as the HF Trainer groups them. The slots' Data are the
// model's own slices: an optimiser step updates m in place.
func (m *Model) Slots(g *Grads) []optim.Slot {
	n := layouts[m.Cfg.ModelType]
	var s []optim.Slot
	add := func(name string, data, grad []float32, decay bool) {
		if grad != nil {
			s = append(s, optim.Slot{Name: name, Data: data, Grad: grad, Decay: decay})
		}
	}
	for i := range g.Layers {
		l := g.First + i
		p := fmt.Sprintf(n.layer, l)
		W, G := &m.W.Layers[l], &g.Layers[i]
		qkv := p + fuse(n.q, n.k, n.v)
		gu := p + fuse(n.gate, n.up)
		add(p+n.attnNorm+".weight", W.AttnNorm, G.AttnNorm, false)
		add(qkv+".weight", W.QKVWT, G.QKVWT, true)
		add(qkv+".bias", W.QKVB, G.QKVB, false)
		add(p+n.o+".weight", W.OWT, G.OWT, true)
		add(p+n.o+".bias", W.OB, G.OB, false)
		add(p+n.mlpNorm+".weight", W.MLPNorm, G.MLPNorm, false)
		add(gu+".weight", W.GateUpWT, G.GateUpWT, true)
		add(gu+".bias", W.GateUpB, G.GateUpB, false)
		add(p+n.down+".weight", W.DownWT, G.DownWT, true)
		add(p+n.down+".bias", W.DownB, G.DownB, false)
	}
	add(n.norm+".weight", m.W.Norm, g.Norm, false)
	if g.Tied {
		add(n.embed+".weight", m.W.LMHead, g.LMHead, true)
	} else {
		add(n.lmHead+".weight", m.W.LMHead, g.LMHead, true)
		add(n.embed+".weight", m.W.Embed, g.Embed, true)
	}
	return s
}

// fuse names fused projections by their common prefix and the set of
// their last components: "self_attn.q_proj", "self_attn.k_proj" →
// "self_attn.{q_proj,k_proj}".
func fuse(parts ...string) string {
	pre := parts[0][:lastDot(parts[0])+1]
	out := pre + "{"
	for i, p := range parts {
		if i > 0 {
			out += ","
		}
		out += p[len(pre):]
	}
	return out + "}"
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}
