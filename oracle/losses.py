#!/usr/bin/python3
"""Golden fixtures for the losses of package train, computed with PyTorch (CPU).

Run with Debian's interpreter (it has torch 1.13) from anywhere:

    /usr/bin/python3 oracle/losses.py        # writes train/testdata/losses.json

The output is deterministic (fixed seeds, one thread, "%.9g" floats): running
it twice gives byte-identical files.

The loss classes below re-implement, class for class and with autograd, the
published reference code:

  CosineSimilarityLoss, CoSENTLoss, MultipleNegativesRankingLoss,
  MultipleNegativesSymmetricRankingLoss
      sentence-transformers (UKPLab/sentence-transformers,
      sentence_transformers/losses/*.py, similarity helpers from
      sentence_transformers/util/similarity.py), single-device path.
  MultiSimilarityLoss
      msight-tech/research-ms-loss, ret_benchmark/losses/multi_similarity_loss.py
      (Wang et al., CVPR 2019), with the threshold, margin and scales as
      constructor arguments (the reference hard-codes thresh 0.5 and
      margin 0.1) and one deviation: an anchor whose positive or negative
      candidate set is empty is skipped (the reference crashes there on
      min()/max() of an empty tensor).

(Read at sentence-transformers 85ec64559f44 of 2025-10-22 and
research-ms-loss b68507d4e22d.)

For multi-similarity the embedding columns are stacked (torch.cat, column 0's
B rows first) and L2-normalised (F.normalize) before the reference forward,
and example i's group labels each of its columns.

Each case stores its inputs (flat row-major float32 lists, one per column),
the loss ("value") and the gradient of the loss with respect to each column
("grad"), computed twice from the same float32 inputs: in float32 ("value",
"grad": what PyTorch computes in training) and in float64 ("value64",
"grad64": the same reference math without float32 rounding, for a tight
check). Multi-similarity cases also record each stacked anchor's mining,
[kept positives, kept negatives, positive candidates, negative candidates],
or null where the anchor has no positive or no negative candidate.
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(20261122)
torch.set_num_threads(1)


def g9(x):
    # 9 significant digits round-trip a float32 exactly.
    return float("%.9g" % x)


def flat(t):
    return [g9(x) for x in t.detach().reshape(-1).tolist()]


# ---- sentence-transformers similarity helpers (util/similarity.py) ----

def normalize_embeddings(x):
    return F.normalize(x, p=2, dim=1)


def cos_sim(a, b):
    return torch.mm(normalize_embeddings(a), normalize_embeddings(b).transpose(0, 1))


def dot_score(a, b):
    return torch.mm(a, b.transpose(0, 1))


def pairwise_cos_sim(a, b):
    return (normalize_embeddings(a) * normalize_embeddings(b)).sum(dim=-1)


# ---- losses, as compute_loss_from_embeddings(embeddings, labels) ----

class CosineSimilarityLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.loss_fct = nn.MSELoss()

    def forward(self, embeddings, labels):
        out = torch.cosine_similarity(embeddings[0], embeddings[1])
        return self.loss_fct(out, labels.to(out.dtype).view(-1))


class CoSENTLoss(nn.Module):
    def __init__(self, scale=20.0):
        super().__init__()
        self.scale = scale

    def forward(self, embeddings, labels):
        s = pairwise_cos_sim(embeddings[0], embeddings[1]) * self.scale
        diff = s[:, None] - s[None, :]           # diff[i, j] = s_i - s_j
        keep = (labels[:, None] < labels[None, :]).to(s.dtype)  # label_i < label_j
        diff = diff - (1 - keep) * 1e12
        diff = torch.cat((torch.zeros(1, dtype=s.dtype), diff.view(-1)), dim=0)
        return torch.logsumexp(diff, dim=0)


class MultipleNegativesRankingLoss(nn.Module):
    def __init__(self, scale=20.0, similarity_fct=cos_sim):
        super().__init__()
        self.scale = scale
        self.similarity_fct = similarity_fct
        self.ce = nn.CrossEntropyLoss()

    def forward(self, embeddings, labels):
        anchors = embeddings[0]
        candidates = torch.cat(embeddings[1:], dim=0)
        target = torch.arange(anchors.size(0))
        scores = self.similarity_fct(anchors, candidates) * self.scale
        return self.ce(scores, target)


class MultipleNegativesSymmetricRankingLoss(nn.Module):
    def __init__(self, scale=20.0, similarity_fct=cos_sim):
        super().__init__()
        self.scale = scale
        self.similarity_fct = similarity_fct
        self.ce = nn.CrossEntropyLoss()

    def forward(self, embeddings, labels):
        anchors = embeddings[0]
        b = anchors.size(0)
        candidates = torch.cat(embeddings[1:], dim=0)
        target = torch.arange(b)
        forward_scores = self.similarity_fct(anchors, candidates) * self.scale
        backward_scores = forward_scores[:, :b].T
        return (self.ce(forward_scores, target) + self.ce(backward_scores, target)) / 2


class MultiSimilarityLoss(nn.Module):
    def __init__(self, thresh=0.8, margin=0.1, scale_pos=1.0, scale_neg=60.0):
        super().__init__()
        self.thresh = thresh
        self.margin = margin
        self.scale_pos = scale_pos
        self.scale_neg = scale_neg
        self.mining = []  # per anchor: (kept positives, kept negatives) or None when skipped

    def forward(self, feats, labels):
        assert feats.size(0) == labels.size(0)
        batch_size = feats.size(0)
        sim_mat = torch.matmul(feats, torch.t(feats))
        epsilon = 1e-5
        loss = []
        self.mining = []
        for i in range(batch_size):
            pos_pair_ = sim_mat[i][labels == labels[i]]
            pos_pair_ = pos_pair_[pos_pair_ < 1 - epsilon]
            neg_pair_ = sim_mat[i][labels != labels[i]]
            if len(pos_pair_) < 1 or len(neg_pair_) < 1:
                self.mining.append(None)  # the reference crashes here
                continue
            neg_pair = neg_pair_[neg_pair_ + self.margin > min(pos_pair_)]
            pos_pair = pos_pair_[pos_pair_ - self.margin < max(neg_pair_)]
            self.mining.append((len(pos_pair), len(neg_pair), len(pos_pair_), len(neg_pair_)))
            if len(neg_pair) < 1 or len(pos_pair) < 1:
                continue
            pos_loss = 1.0 / self.scale_pos * torch.log(
                1 + torch.sum(torch.exp(-self.scale_pos * (pos_pair - self.thresh))))
            neg_loss = 1.0 / self.scale_neg * torch.log(
                1 + torch.sum(torch.exp(self.scale_neg * (neg_pair - self.thresh))))
            loss.append(pos_loss + neg_loss)
        if len(loss) == 0:
            return torch.zeros([], dtype=feats.dtype, requires_grad=True)
        return sum(loss) / batch_size


class StackedMultiSimilarity(nn.Module):
    """Multi-similarity over all columns of a batch, normalised inside."""

    def __init__(self, **kw):
        super().__init__()
        self.ms = MultiSimilarityLoss(**kw)

    def forward(self, embeddings, groups):
        feats = normalize_embeddings(torch.cat(embeddings, dim=0))
        labels = groups.repeat(len(embeddings))
        return self.ms(feats, labels)


def build(loss, params, dtype):
    p = dict(params)
    if loss == "cosine":
        return CosineSimilarityLoss()
    if loss == "cosent":
        return CoSENTLoss(scale=p.get("scale", 20.0))
    if loss == "mnrl":
        sim = {"cos": cos_sim, "dot": dot_score}[p.get("similarity", "cos")]
        cls = MultipleNegativesSymmetricRankingLoss if p.get("symmetric", False) else MultipleNegativesRankingLoss
        return cls(scale=p.get("scale", 20.0), similarity_fct=sim)
    if loss == "multi-similarity":
        return StackedMultiSimilarity(thresh=p.get("threshold", 0.8), margin=p.get("margin", 0.1),
                                      scale_pos=p.get("scale_pos", 1.0), scale_neg=p.get("scale_neg", 60.0))
    raise ValueError(loss)


def evaluate(loss, params, emb, labels, groups, dtype):
    xs = [e.to(dtype).clone().requires_grad_(True) for e in emb]
    m = build(loss, params, dtype)
    if loss == "multi-similarity":
        out = m(xs, groups)
    else:
        out = m(xs, None if labels is None else labels.to(dtype))
    out.backward()
    grads = [x.grad if x.grad is not None else torch.zeros_like(x) for x in xs]
    return out, grads, m


def msim_boundary_gap(emb, groups, params):
    """Smallest distance of any mining comparison to its decision boundary,
    in float64, so that float32 and float64 make the same selections."""
    thresh_eps = 1 - 1e-5
    margin = params.get("margin", 0.1)
    feats = normalize_embeddings(torch.cat([e.double() for e in emb], dim=0))
    labels = groups.repeat(len(emb))
    sim = feats @ feats.T
    gap = math.inf
    for i in range(sim.size(0)):
        same = labels == labels[i]
        pos_all = sim[i][same]
        pos = pos_all[pos_all < thresh_eps]
        neg = sim[i][~same]
        # the self-similarity and exact duplicates (1 up to rounding) drop
        # out in both precisions; any other same-group similarity must be
        # clearly below 1 - 1e-5
        for v in pos_all.tolist():
            if abs(v - 1) > 1e-6:
                gap = min(gap, abs(v - thresh_eps))
        if len(pos) == 0 or len(neg) == 0:
            continue
        mn, mx = pos.min().item(), neg.max().item()
        for v in neg.tolist():
            gap = min(gap, abs(v + margin - mn))
        for v in pos.tolist():
            gap = min(gap, abs(v - margin - mx))
    return gap


def unit(x):
    return x / x.norm(dim=1, keepdim=True)


def make_case(name, loss, params, emb, labels=None, groups=None, check=None):
    emb = [e.to(torch.float32).contiguous() for e in emb]
    B, D = emb[0].shape
    case = dict(name=name, loss=loss, params=params, B=B, D=D, emb=[flat(e) for e in emb])
    if labels is not None:
        labels = labels.to(torch.float32)
        case["labels"] = flat(labels)
    if groups is not None:
        groups = groups.to(torch.int64)
        case["groups"] = groups.tolist()
        gap = msim_boundary_gap(emb, groups, params)
        assert gap > 1e-4, (name, gap)
    out32, g32, m32 = evaluate(loss, params, emb, labels, groups, torch.float32)
    out64, g64, m64 = evaluate(loss, params, emb, labels, groups, torch.float64)
    if loss == "multi-similarity":
        assert m32.ms.mining == m64.ms.mining, name
        case["mining"] = [None if x is None else list(x) for x in m64.ms.mining]
    if check is not None:
        check(case, m64)
    case["value"] = g9(out32.item())
    case["grad"] = [flat(g) for g in g32]
    case["value64"] = g9(out64.item())
    case["grad64"] = [flat(g) for g in g64]
    return case


def randn(gen, *shape, scale=1.0):
    return torch.randn(*shape, generator=gen) * scale


# ---- cases ----

def cosine_cases():
    out = []
    g = torch.Generator().manual_seed(101)
    B, D = 4, 8
    u, v = randn(g, B, D, scale=2.0), randn(g, B, D, scale=0.5)
    v[0] = u[0] * 0.7 + v[0] * 0.3  # one clearly similar pair
    out.append(make_case("cosine/binary-unnormalised", "cosine", {}, [u, v],
                         labels=torch.tensor([1.0, 0.0, 1.0, 0.0])))
    g = torch.Generator().manual_seed(102)
    B, D = 6, 12
    u = unit(randn(g, B, D))
    v = unit(u + randn(g, B, D, scale=0.8))
    out.append(make_case("cosine/graded-normalised", "cosine", {}, [u, v],
                         labels=torch.tensor([0.2, 0.55, 0.8, 1.0, 0.0, 0.35])))
    g = torch.Generator().manual_seed(103)
    out.append(make_case("cosine/B1", "cosine", {}, [randn(g, 1, 8), randn(g, 1, 8)],
                         labels=torch.tensor([0.6])))
    g = torch.Generator().manual_seed(104)
    u, v = randn(g, 3, 8), randn(g, 3, 8)
    u[1] = u[1] * 1e-9  # |u| below eps = 1e-8: the clamped branch
    out.append(make_case("cosine/tiny-norm", "cosine", {}, [u, v],
                         labels=torch.tensor([0.5, 1.0, 0.0])))
    return out


def cosent_cases():
    out = []
    g = torch.Generator().manual_seed(201)
    B, D = 5, 8
    u = randn(g, B, D, scale=1.5)
    v = u + randn(g, B, D, scale=1.2)
    out.append(make_case("cosent/graded-unnormalised", "cosent", {}, [u, v],
                         labels=torch.tensor([0.9, 0.1, 0.5, 0.7, 0.3])))
    g = torch.Generator().manual_seed(202)
    B, D = 8, 16
    u = unit(randn(g, B, D))
    v = unit(u + randn(g, B, D, scale=1.0))
    out.append(make_case("cosent/ties-normalised", "cosent", {}, [u, v],
                         labels=torch.tensor([0.0, 1.0, 1.0, 0.0, 2.0, 2.0, 1.0, 0.0])))
    g = torch.Generator().manual_seed(203)
    out.append(make_case("cosent/B1", "cosent", {}, [randn(g, 1, 8), randn(g, 1, 8)],
                         labels=torch.tensor([1.0])))
    g = torch.Generator().manual_seed(204)
    B, D = 4, 10
    u = randn(g, B, D)
    v = u + randn(g, B, D, scale=1.5)
    out.append(make_case("cosent/scale7.5", "cosent", {"scale": 7.5}, [u, v],
                         labels=torch.tensor([3.0, 1.0, 2.0, 1.0])))
    out.append(make_case("cosent/all-equal-labels", "cosent", {"scale": 7.5}, [u, v],
                         labels=torch.tensor([1.0, 1.0, 1.0, 1.0])))
    return out


def mnrl_cases():
    out = []
    g = torch.Generator().manual_seed(301)
    B, D = 4, 8
    a = randn(g, B, D, scale=2.0)
    p = a + randn(g, B, D, scale=2.0)
    out.append(make_case("mnrl/pairs-cos", "mnrl", {}, [a, p]))
    g = torch.Generator().manual_seed(302)
    B, D = 6, 12
    a = unit(randn(g, B, D))
    p = unit(a + randn(g, B, D, scale=0.9))
    n = unit(a + randn(g, B, D, scale=1.1))  # hard negatives
    out.append(make_case("mnrl/hard-negative-cos", "mnrl", {}, [a, p, n]))
    g = torch.Generator().manual_seed(303)
    B, D = 5, 8
    a = randn(g, B, D, scale=0.5)
    cols = [a] + [a * 0.5 + randn(g, B, D, scale=0.5) for _ in range(3)]
    out.append(make_case("mnrl/three-negatives-dot", "mnrl", {"similarity": "dot", "scale": 1.0}, cols))
    g = torch.Generator().manual_seed(304)
    B, D = 6, 8
    a = randn(g, B, D)
    p = a + randn(g, B, D, scale=1.3)
    out.append(make_case("mnrl/symmetric-cos", "mnrl", {"symmetric": True}, [a, p]))
    g = torch.Generator().manual_seed(305)
    B, D = 4, 16
    a = unit(randn(g, B, D))
    p = unit(a + randn(g, B, D, scale=0.8))
    n = unit(p + randn(g, B, D, scale=0.8))
    out.append(make_case("mnrl/symmetric-negative-scale10", "mnrl", {"symmetric": True, "scale": 10.0}, [a, p, n]))
    g = torch.Generator().manual_seed(306)
    out.append(make_case("mnrl/B1-negative", "mnrl", {}, [randn(g, 1, 8), randn(g, 1, 8), randn(g, 1, 8)]))
    g = torch.Generator().manual_seed(307)
    B, D = 3, 8
    a = randn(g, B, D)
    p = a + randn(g, B, D)
    out.append(make_case("mnrl/symmetric-dot", "mnrl", {"symmetric": True, "similarity": "dot", "scale": 0.5}, [a, p]))
    g = torch.Generator().manual_seed(308)
    B, D = 3, 8
    a = randn(g, B, D)
    p = a + randn(g, B, D)
    n = randn(g, B, D)
    n[1] = n[1] * 1e-14  # |n| below F.normalize's eps = 1e-12: the clamped branch
    out.append(make_case("mnrl/tiny-norm-negative", "mnrl", {"scale": 5.0}, [a, p, n]))
    return out


def clustered(gen, groups, D, spread, centers_scale=1.0, norm_jitter=0.0):
    k = max(groups) + 1
    centers = unit(randn(gen, k, D))
    x = torch.stack([centers[gid] * centers_scale for gid in groups]) + randn(gen, len(groups), D, scale=spread)
    if norm_jitter:
        x = x * (1 + norm_jitter * torch.rand(len(groups), 1, generator=gen))
    return x


def msim_case(name, params, groups, D, spread, columns=1, seed=0, want=None, extra=None):
    """Draw clustered embeddings, trying seeds in order until the mining
    decisions are far from their boundaries and want(mining) holds."""
    groups_t = torch.tensor(groups)
    for attempt in range(200):
        g = torch.Generator().manual_seed(seed * 1000 + attempt)
        emb = [clustered(g, groups, D, spread, norm_jitter=0.5) for _ in range(columns)]
        if extra is not None:
            emb = extra(emb)
        if msim_boundary_gap([e.float() for e in emb], groups_t, params) <= 1e-4:
            continue
        _, _, m = evaluate("multi-similarity", params, [e.float() for e in emb], None, groups_t, torch.float64)
        if want is None or want(m.ms.mining):
            return make_case(name, "multi-similarity", params, emb, groups=groups_t)
    raise RuntimeError("no suitable draw for " + name)


def dropped(mining):
    # some anchor kept fewer pairs than its candidates
    return any(x is not None and (x[0] < x[2] or x[1] < x[3]) for x in mining)


def skipped(mining):
    return any(x is None or x[0] == 0 or x[1] == 0 for x in mining)


def contributing(mining):
    return any(x is not None and x[0] > 0 and x[1] > 0 for x in mining)


def msim_cases():
    out = []
    out.append(msim_case("multi-similarity/mining-drops", {}, [0, 0, 1, 1, 2, 2, 3, 3], 16, 0.35, seed=401,
                         want=lambda m: dropped(m) and contributing(m)))
    out.append(msim_case("multi-similarity/singletons-skipped", {}, [0, 0, 0, 1, 1, 2, 3], 12, 0.4, seed=402,
                         want=lambda m: m[5] is None and m[6] is None and contributing(m)))
    out.append(msim_case("multi-similarity/two-columns", {}, [0, 1, 2, 0, 3], 12, 0.45, columns=2, seed=403,
                         want=lambda m: contributing(m)))
    out.append(msim_case("multi-similarity/one-group", {}, [5, 5, 5, 5], 8, 0.5, seed=404,
                         want=lambda m: all(x is None for x in m)))
    out.append(msim_case("multi-similarity/msight-params",
                         {"threshold": 0.5, "margin": 0.05, "scale_pos": 2.0, "scale_neg": 40.0},
                         [0, 1, 0, 2, 1, 2, 0, 3], 10, 0.6, seed=405,
                         want=lambda m: dropped(m) and contributing(m)))
    # well separated groups next to overlapping ones: mining empties some anchors' sets
    out.append(msim_case("multi-similarity/mining-skips-anchor", {}, [0, 0, 1, 1, 2, 2, 2], 16, 0.3, seed=406,
                         want=lambda m: skipped(m) and contributing(m)
                         and any(x is not None and (x[0] == 0 or x[1] == 0) for x in m)))

    def duplicate(emb):
        emb[0][1] = emb[0][0]  # two identical texts in group 0: similarity 1, not a positive
        return emb
    out.append(msim_case("multi-similarity/duplicate-not-positive", {}, [0, 0, 1, 1, 1, 2], 8, 0.5, seed=407,
                         want=lambda m: m[0] is None and m[1] is None and contributing(m), extra=duplicate))
    out.append(msim_case("multi-similarity/three-columns", {"threshold": 0.6}, [0, 1, 1, 2], 12, 0.5,
                         columns=3, seed=408, want=lambda m: contributing(m)))
    return out


def main():
    cases = cosine_cases() + cosent_cases() + mnrl_cases() + msim_cases()
    doc = dict(torch_version=torch.__version__, cases=cases)
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "train", "testdata", "losses.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes,", len(cases), "cases")


if __name__ == "__main__":
    main()
