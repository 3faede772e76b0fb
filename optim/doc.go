// Package optim is what every trainer in kormed steps with: Slot (one
// tensor, its gradient and whether weight decay applies), AdamW with
// PyTorch's arithmetic (the element kernel is package nn's), ClipGradNorm
// and the learning-rate schedules of transformers' optimization.py. The
// encoder trainer (package train), the decoder fine-tuner (package
// lmtrain) and the decoder's own gradients (package decoder) share it, so
// none of them imports another trainer for its optimiser.
package optim
