#!/usr/bin/env python3
"""PyTorch baseline of `gstarve reproduce ood`: the Colored-MNIST protocol on scikit-learn's
optical digits (the same 1797 images gstarve ships), MLP 128 -> 100 -> 100 -> 1 (Xavier-uniform,
zero biases), full-batch Adam, the reference schedules: ERM 1001 steps lr 1e-4; SD 2001 steps
lr 1e-4, coefficient 2e-5 annealed at step 450; SD with class targets (weights 1,1, margin
targets 1,1) on SD's schedule; IRM v1 501 steps lr 4.8985e-4, l2 1.108e-3, penalty 91257 from
step 190. 1200 training examples (two environments, e = 0.2 and 0.1) and 597 test examples
(e = 0.9) per restart. The splits and flips come from NumPy (seed 1234 + restart), not from
gstarve's ChaCha12 stream: accuracies agree in distribution, not run by run.

Usage: torch_ood.py [restarts=10] [threads=2]. Needs torch, numpy, scikit-learn."""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

RESTARTS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
H = 100
METHODS = {
    "erm": dict(steps=1001, lr=1e-4, l2=0.0, anneal=0, coef=0.0, w=(1.0, 1.0), g=(0.0, 0.0)),
    "sd": dict(steps=2001, lr=1e-4, l2=0.0, anneal=450, coef=2e-5, w=(1.0, 1.0), g=(0.0, 0.0)),
    "sd-classes": dict(steps=2001, lr=1e-4, l2=0.0, anneal=450, coef=2e-5, w=(1.0, 1.0), g=(1.0, 1.0)),
    "irm": dict(steps=501, lr=0.0004898536566546834, l2=0.00110794568, anneal=190,
                coef=91257.18613115903, w=(1.0, 1.0), g=(0.0, 0.0)),
}

digits = load_digits()
images, targets = digits.data / 16.0, digits.target


def environment(idx, e, rng):
    y = (targets[idx] < 5).astype(np.float64)
    y = np.abs(y - (rng.random(len(idx)) < 0.25))
    c = np.abs(y - (rng.random(len(idx)) < e))
    x = np.zeros((len(idx), 128))
    for k, (i, ci) in enumerate(zip(idx, c.astype(int))):
        x[k, 64 * ci:64 * ci + 64] = images[i]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y[:, None], dtype=torch.float32)


def mlp():
    layers = [torch.nn.Linear(128, H), torch.nn.Linear(H, H), torch.nn.Linear(H, 1)]
    for lin in layers:
        torch.nn.init.xavier_uniform_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
    return torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2])


def train(net, envs, m):
    xs = torch.cat([envs[0][0], envs[1][0]])
    ys = torch.cat([envs[0][1], envs[1][1]])
    sign = 2 * ys - 1
    w = torch.where(ys > 0.5, m["w"][1], m["w"][0])
    g = torch.where(ys > 0.5, m["g"][1], m["g"][0])
    opt = torch.optim.Adam(net.parameters(), lr=m["lr"])
    for step in range(m["steps"]):
        f = net(xs)
        nll = F.binary_cross_entropy_with_logits(f, ys)
        annealed = step >= m["anneal"]
        if m is METHODS["erm"]:
            loss = nll
        elif m is METHODS["irm"]:
            n0 = len(envs[0][1])
            nlls, pens = [], []
            for fe, ye in ((f[:n0], ys[:n0]), (f[n0:], ys[n0:])):
                nlls.append(F.binary_cross_entropy_with_logits(fe, ye))
                pens.append(((torch.sigmoid(fe) - ye) * fe).mean() ** 2)
            nll = (nlls[0] + nlls[1]) / 2
            weight = m["coef"] if annealed else 1.0
            loss = nll + m["l2"] * sum(p.pow(2).sum() for p in net.parameters()) + weight * (pens[0] + pens[1]) / 2
            if weight > 1.0:
                loss = loss / weight
        else:
            pen = (w * (sign * f - g) ** 2).mean()
            loss = m["coef"] * (nll + pen) if annealed else nll + m["coef"] * pen
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = lambda x, y: ((net(x) > 0).float() == y).float().mean().item()
        return acc(xs, ys), acc(*envs[2])


results = {name: [] for name in METHODS}
t0 = time.perf_counter()
for r in range(RESTARTS):
    rng = np.random.default_rng(1234 + r)
    order = rng.permutation(len(targets))
    envs = [environment(order[:1200][0::2], 0.2, rng), environment(order[:1200][1::2], 0.1, rng),
            environment(order[1200:], 0.9, rng)]
    torch.manual_seed(1234 + r)
    init = mlp().state_dict()
    for name, m in METHODS.items():
        net = mlp()
        net.load_state_dict(init)
        results[name].append(train(net, envs, m))
wall = time.perf_counter() - t0
for name, runs in results.items():
    a = np.array(runs) * 100
    print("%-11s train %.1f ± %.1f  test %.1f ± %.1f" % (name, a[:, 0].mean(), a[:, 0].std(), a[:, 1].mean(), a[:, 1].std()))
print("torch %s, %d threads, %d restarts x 4 methods: %.1f s" % (torch.__version__, torch.get_num_threads(), RESTARTS, wall))
