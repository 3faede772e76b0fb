"""q4_bound.py: how much 4-bit weights must perturb a random-weight model.

Relative RMS error of quantizing N(0,1) weights: Q4_0 (blocks of 32, scale
max/-8, as llama.cpp), Q4_0 with the best per-block divisor (kormed's scale
search, a grid here), int8 per row of 2560, and the rate-distortion bound of
any quantizer at R bits per weight (2^-R). BENCHMARKS.md uses these to scale
the measured int8/int4 logit cosines of the 2.4B-shape model to what an ideal
4.5-bit quantizer could reach.

    /usr/bin/python3 bench/q4_bound.py
"""
import numpy as np

rng = np.random.default_rng(1)
w = rng.standard_normal((20000, 32))
mx = w[np.arange(len(w)), np.argmax(np.abs(w), axis=1)]


def q4_err(t):
    d = mx / -t
    q = np.clip(np.round(w / d[:, None]), -8, 7)
    return ((w - q * d[:, None]) ** 2).sum(axis=1)


ref = np.sqrt(q4_err(8).sum() / (w**2).sum())
best = np.min(np.stack([q4_err(t) for t in np.linspace(5, 9, 81)]), axis=0)
searched = np.sqrt(best.sum() / (w**2).sum())
w8 = rng.standard_normal((2000, 2560))
s = np.abs(w8).max(axis=1) / 127
int8 = np.sqrt(((w8 - np.round(w8 / s[:, None]) * s[:, None]) ** 2).sum() / (w8**2).sum())
print(f"Q4_0 (max/-8)            relative RMS error {ref:.4f}")
print(f"Q4_0, searched divisor    relative RMS error {searched:.4f}")
print(f"int8 per row of 2560      relative RMS error {int8:.4f}")
for bits in (4, 4.5, 5):
    print(f"bound at {bits} bits/weight   relative RMS error {2**-bits:.4f}")
