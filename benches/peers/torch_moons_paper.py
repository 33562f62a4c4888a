#!/usr/bin/env python3
"""PyTorch peer of `gstarve reproduce moons`: the same experiment, run by the authors' recipe.

Settings Δ = -0.1, Δ = +0.1, Δ = +0.1 with SD 0.003; seeds 0..S-1; per run: two moons (n = 300,
noise 0.1, sklearn + the paper's transform), a width-500 two-layer ReLU net (PyTorch init), the
SVD of its Jacobian at initialisation (U of YΦ), 10 000 full-batch epochs of SGD (lr 1e-2,
momentum 0.9, weight decay 2e-4), z = Uᵀ Y ŷ every 50 epochs, the net on a 100² grid of [-2, 2]²
after 1000 and 10 000 epochs (summed over seeds). Prints wall and CPU time.

    OMP_WAIT_POLICY=PASSIVE python3 benches/peers/torch_moons_paper.py --seeds 10

Needs torch, numpy, scikit-learn (/work/venv-peers). f32 as the authors; 2 threads.
"""
import argparse, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from sklearn.datasets import make_moons

p = argparse.ArgumentParser()
p.add_argument("--seeds", type=int, default=10)
p.add_argument("--epochs", type=int, default=10000)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)

def two_moons(seed, margin, n=300):
    X, y = make_moons(n_samples=n, noise=0.1, random_state=seed); yp = (2.0 * y - 1.0)[:, None]
    X = X - np.concatenate([0.5 * np.ones((n, 1)), yp * 0.3], 1); X[:, 1] -= X[:, 1].mean()
    X[:, 1] *= np.sign(-X[:, 1] * yp[:, 0]); X[:, 1] -= yp[:, 0] * margin
    return X[:, ::-1].copy(), 2.0 * y - 1.0

class Net(nn.Module):
    def __init__(s, h): super().__init__(); s.fc1 = nn.Linear(2, h); s.fc2 = nn.Linear(h, 1)
    def forward(s, x): return s.fc2(F.relu(s.fc1(x)))

def jacobian(net, X):
    params = {k: v.detach() for k, v in net.named_parameters()}
    f = lambda p, x: torch.func.functional_call(net, p, (x.unsqueeze(0),)).squeeze()
    jac = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(params, X)
    return torch.cat([j.reshape(len(X), -1) for j in jac.values()], 1)

g = torch.linspace(-2, 2, 100); d1, d2 = torch.meshgrid(g, g, indexing="ij")
plane = torch.stack((d1.flatten(), d2.flatten()), 1)
settings = [(-0.1, 0.0), (0.1, 0.0), (0.1, 0.003)]
heat = np.zeros((len(settings), 2, plane.shape[0]))
t0, c0 = time.perf_counter(), time.process_time()
for seed in range(a.seeds):
    for k, (margin, sd) in enumerate(settings):
        X, y = two_moons(seed, margin); X = torch.tensor(X, dtype=torch.float32)
        y = torch.tensor(y, dtype=torch.float32)
        torch.manual_seed(seed); net = Net(500)
        U, S, Vt = torch.linalg.svd(y[:, None] * jacobian(net, X), full_matrices=False)
        opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9, weight_decay=2e-4)
        zs = []
        for e in range(a.epochs + 1):
            yh = net(X)[:, 0]
            if e % 50 == 0 or e == a.epochs:
                zs.append((U.T @ (y * yh)).detach())
            if e in (1000, a.epochs):
                with torch.no_grad():
                    heat[k, int(e == a.epochs)] += net(plane)[:, 0].numpy() / a.seeds
            if e == a.epochs:
                break
            loss = torch.log(1 + torch.exp(-yh * y)).mean() + sd * (yh ** 2).mean()
            opt.zero_grad(); loss.backward(); opt.step()
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print("torch reproduce-moons peer: %d runs x %d epochs: wall %.1f s, CPU %.1f s, final loss %.4f"
      % (a.seeds * len(settings), a.epochs, wall, cpu, loss.item()))
