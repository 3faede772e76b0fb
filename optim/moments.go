package optim

import "github.com/kormed/kormed/safetensors"

// Moments returns AdamW's moment estimates of the trainable slots as
// float32 tensors m.<slot name> and v.<slot name>, slot by slot: what a
// checkpoint's optimizer.safetensors holds.
func (o *AdamW) Moments(slots []Slot) []safetensors.Tensor {
	var ts []safetensors.Tensor
	for i, sl := range slots {
		if sl.Grad == nil {
			continue
		}
		ts = append(ts, safetensors.Float32s("m."+sl.Name, []int{len(o.M[i])}, o.M[i]),
			safetensors.Float32s("v."+sl.Name, []int{len(o.V[i])}, o.V[i]))
	}
	return ts
}

// ReadMoments reads the moment estimates of the trainable slots back from
// r, as Moments names them; restoring Step is the caller's.
func (o *AdamW) ReadMoments(r *safetensors.Reader, slots []Slot) error {
	for i, sl := range slots {
		if sl.Grad == nil {
			continue
		}
		for _, mv := range []struct {
			key string
			dst []float32
		}{{"m.", o.M[i]}, {"v.", o.V[i]}} {
			if err := r.ReadFloat32(mv.key+sl.Name, []int{len(mv.dst)}, mv.dst); err != nil {
				return err
			}
		}
	}
	return nil
}
