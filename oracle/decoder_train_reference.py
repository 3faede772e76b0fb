#!/usr/bin/python3
"""PyTorch autograd reference for kormed's decoder training (decoder.TrainForward, Backward,
CausalLMLoss, Slots with optim.AdamW).

Run with Debian's interpreter (torch 1.13, numpy; no transformers):

    OPENBLAS_CORETYPE=Haswell /usr/bin/python3 oracle/decoder_train_reference.py --model DIR \
        --ids 1,17,300,... --prompt 6 --out GOLDEN.safetensors [--threads 1]

The forward is oracle/decoder_reference.py's (transformers' LlamaForCausalLM / EXAONE op for
op, float32), run with autograd. The loss is transformers' ForCausalLMLoss: labels = ids with
the first --prompt positions set to -100, logits[:-1] against labels[1:], mean cross-entropy
over the positions not ignored.

Two trainings, each a fresh backward:
  all  every parameter trainable (the untied embedding included; a tied model's shared
       embedding/head matrix gets both the head's and the input lookup's gradient);
  top1 the top block, the final norm and the LM head only (requires_grad off elsewhere). For a
       tied model the head is the shared matrix and the input lookup is detached
       (embed_tokens(ids).detach()): the gradient is the head's use only, which is what
       kormed's Backward computes when it stops below the lowest trainable block.

The output safetensors holds
  input_ids [T] I64, labels [T] I64, loss [1] F32
  grad.NAME       the gradient of every parameter in training "all" (Hugging Face names)
  top1.NAME       a top1 gradient, only where it is not bit-identical to grad.NAME (the oracle
                  checks the others are, so top1's gradients are the grad.* subset plus these)
  adamw.NAME      (with --adamw) every top1-trainable parameter after one torch.optim.AdamW step on the top1
                  gradients (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01 on matrices and
                  embeddings, none on biases and RMSNorm weights: the HF Trainer's groups)
and __metadata__ {"model_type", "prompt", "top1_first": the first trainable block of top1}.
"""

import argparse
import importlib.util
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


DR = _load("kormed_decoder_reference", "decoder_reference.py")
REF = DR.REF

LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 0.01


def loss_of(c, W, ids, labels):
    logits, _ = DR.forward(c, W, ids)
    return torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(labels[1:]), ignore_index=-100)


def train(c, W0, ids, labels, first, tied_detach):
    """Returns the loss and {name: leaf} of the trainable leaves after backward."""
    n = DR.NAMES[c.model_type]
    W = {k: v.clone() for k, v in W0.items()}
    trainable = {}
    for k, v in W.items():
        layer = None
        for l in range(c.num_layers):
            if k.startswith(n["layer"].format(l)):
                layer = l
        on = (layer is not None and layer >= first) or k in (n["norm"], "lm_head.weight") \
            or (k == n["embed"] and (c.tie or first == 0))
        if on:
            v.requires_grad_(True)
            trainable[k] = v
    cc = c
    if c.tie and tied_detach:
        # The head is the shared matrix; the input lookup reads it detached.
        cc = DR.Config.__new__(DR.Config)
        cc.__dict__.update(c.__dict__)
        cc.tie = False
        shared = W[n["embed"]]
        W["lm_head.weight"] = shared
        W[n["embed"]] = shared.detach()
    loss = loss_of(cc, W, ids, labels)
    loss.backward()
    return loss, trainable


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--prompt", type=int, required=True, help="prompt length: labels -100 there")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--adamw", action="store_true", help="also write adamw.* (one optimiser step)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        c = DR.Config(json.load(f))
    W = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in REF.read_weights(args.model).items()}
    ids = [int(x) for x in args.ids.split(",")]
    labels = [-100 if i < args.prompt else x for i, x in enumerate(ids)]

    loss, all_ = train(c, W, ids, labels, 0, False)
    first = c.num_layers - 1
    loss1, top1 = train(c, W, ids, labels, first, True)
    assert torch.equal(loss, loss1), (float(loss), float(loss1))
    tensors = [("input_ids", np.array(ids, dtype=np.int64)), ("labels", np.array(labels, dtype=np.int64)),
               ("loss", loss.detach().numpy().reshape(1))]
    tensors += [("grad." + k, v.grad.numpy()) for k, v in all_.items()]
    differ = []
    for k, v in top1.items():
        if not torch.equal(v.grad, all_[k].grad):
            differ.append(k)
            tensors.append(("top1." + k, v.grad.numpy()))

    n1 = len(top1)
    # One AdamW step on the top1 gradients.
    if not args.adamw:
        top1 = {}
    decay = [v for k, v in top1.items() if v.dim() == 2]
    nodecay = [v for k, v in top1.items() if v.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    opt.step()
    tensors += [("adamw." + k, v.detach().numpy()) for k, v in top1.items()]
    REF.write_safetensors(args.out, tensors, {"model_type": c.model_type, "prompt": str(args.prompt),
                                              "top1_first": str(first)})
    print("%s: loss %.7g, %d gradients (all), %d (top1; differing: %s)" % (
        args.out, float(loss), len(all_), n1, differ or "none"))


if __name__ == "__main__":
    main()
