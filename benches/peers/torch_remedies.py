#!/usr/bin/env python3
"""PyTorch peer of `gstarve reproduce remedies` (the paper's Figure 3): the same ten panels on
two moons with margin +0.1, the same settings (width 500, n = 300, noise 0.1, full batch, SGD
lr 1e-2 momentum 0.9, 1000 epochs, the "longer" panel 10 000), the same grid (100 x 100 over
[-2, 2]^2) and the same curvature number (x2 share by central differences, h = 1e-5, in the
frame rotated with the data), timed end to end.

Differences that do not change the work: the data come from scikit-learn's make_moons (another
noise stream than gstarve's ChaCha12) and the weights from torch's generator, so single numbers
differ run to run while their statistics over seeds should agree.

    /work/venv-peers/bin/python benches/peers/torch_remedies.py [--seeds 10] [--dtype float64]
        [--panels a,b,...] [--threads 2]

Needs torch, numpy, scikit-learn. Prints one line per panel and the total wall time.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import make_moons

PANELS = [
    ("a", "none", {}),
    ("b", "weight decay 0.01", {"wd": 0.01}),
    ("c", "10x longer", {"longer": 10}),
    ("d", "Adam 1e-4", {"adam": 1e-4}),
    ("e", "Adam 3e-3", {"adam": 3e-3}),
    ("f", "rotated 45 deg", {"rotation": 45.0}),
    ("g", "dropout 0.7", {"dropout": 0.7}),
    ("h", "BatchNorm", {"batchnorm": True}),
    ("i", "5 layers x 500", {"layers": 5}),
    ("j", "SD 0.003", {"sd": 0.003}),
]


def two_moons(seed, n=300, margin=0.1, rotation=0.0):
    """The authors' two_moons_dataset (moon_fig_3.py); rotation as their X @ R (clockwise)."""
    X, y = make_moons(n_samples=n, noise=0.1, random_state=seed)
    yp = (2.0 * y - 1.0)[:, None]
    X = X - np.concatenate([0.5 * np.ones((n, 1)), yp * 0.3], 1)
    X[:, 1] = X[:, 1] - X[:, 1].mean()
    X[:, 1] = X[:, 1] * np.sign(-X[:, 1] * yp[:, 0])
    X[:, 1] = X[:, 1] - yp[:, 0] * margin
    X = X[:, ::-1].copy()
    if rotation:
        t = np.radians(rotation)
        c, s = np.cos(t), np.sin(t)
        X = X @ np.array(((c, -s), (s, c)))
    return X, 2.0 * y - 1.0


class Net(nn.Module):
    def __init__(self, width, layers=2, dropout=0.0, batchnorm=False):
        super().__init__()
        dims = [2] + [width] * (layers - 1) + [1]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.bn = nn.BatchNorm1d(width) if batchnorm else None

    def forward(self, x):
        for k, fc in enumerate(self.fcs):
            x = fc(x)
            if k == len(self.fcs) - 1:
                return x[:, 0]
            if k == 0 and self.drop is not None:
                x = self.drop(x)
            if k == 0 and self.bn is not None:
                x = self.bn(x)
            x = F.relu(x)


def share(net, X, angle_degrees, dtype):
    """Mean over the points of |df/de2| / (|df/de1| + |df/de2|), central differences."""
    h = 1e-5
    t = np.radians(angle_degrees)
    e1 = np.array([np.cos(t), np.sin(t)])
    e2 = np.array([-np.sin(t), np.cos(t)])
    pts = np.concatenate([X + h * e1, X - h * e1, X + h * e2, X - h * e2])
    with torch.no_grad():
        f = net(torch.tensor(pts, dtype=dtype)).double().numpy()
    n = len(X)
    d1 = np.abs(f[:n] - f[n:2 * n])
    d2 = np.abs(f[2 * n:3 * n] - f[3 * n:])
    ok = d1 + d2 > 0
    return float(np.mean(d2[ok] / (d1[ok] + d2[ok])))


def run(seed, options, dtype, epochs=1000, width=500):
    # The authors rotate clockwise (X @ R); gstarve's angle is counter-clockwise: -45.
    rotation = options.get("rotation", 0.0)
    X, y = two_moons(seed, rotation=rotation)
    torch.manual_seed(seed)
    net = Net(width, options.get("layers", 2), options.get("dropout", 0.0),
              options.get("batchnorm", False)).to(dtype)
    if "adam" in options:
        opt = torch.optim.Adam(net.parameters(), lr=options["adam"])
    else:
        opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9,
                              weight_decay=options.get("wd", 0.0))
    Xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y, dtype=dtype)
    sd = options.get("sd", 0.0)
    for _ in range(epochs * options.get("longer", 1)):
        yh = net(Xt)
        loss = torch.log(1.0 + torch.exp(-yh * yt)).mean()
        if sd:
            loss = loss + sd * (yh ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    g = torch.linspace(-2, 2, 100, dtype=dtype)
    d1, d2 = torch.meshgrid([g, g], indexing="xy")
    with torch.no_grad():
        grid = net(torch.stack((d1.flatten(), d2.flatten()), 1)).double().numpy()
        acc = float(((net(Xt) * yt) > 0).double().mean())
    # In gstarve's counter-clockwise convention the authors' rotation is -rotation.
    return share(net, X, -rotation, dtype), acc, grid


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--panels", default="abcdefghij")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    chosen = [x for x in PANELS if x[0] in a.panels.replace(",", "")]
    total = time.perf_counter()
    for letter, name, options in chosen:
        t0 = time.perf_counter()
        shares, accs = [], []
        for seed in range(a.seeds):
            s, acc, _ = run(seed, options, dtype)
            shares.append(s)
            accs.append(acc)
        print("(%s) %-20s x2 share %.3f +- %.3f  accuracy %.3f  %.1f s" % (
            letter, name, np.mean(shares), np.std(shares), np.mean(accs),
            time.perf_counter() - t0), flush=True)
    print("torch %s, %d threads, %d seeds: %.1f s in total" % (
        a.dtype, a.threads, a.seeds, time.perf_counter() - total))


if __name__ == "__main__":
    main()
