"""DeepFM (Guo et al., 2017) in PyTorch, for ``CTRModel(model="deep")`` (extra ``adwise[deep]``).

.. math::

    \\hat y = \\sigma\\Big(b + \\sum_f w_{f,x_f} + \\sum_{f<g} \\langle v_{f,x_f}, v_{g,x_g}\\rangle
              + \\mathrm{MLP}([v_{1,x_1}, \\dots, v_{F,x_F}, z])\\Big)

with one embedding table per categorical field (codes from the encoder; missing values get
their own index) and the standardised numeric features ``z`` fed to the linear part and the
MLP.  Trained with Adam on log loss; the epoch with the best validation log loss is kept
(early stopping, patience 2).

References
----------
Guo, H., Tang, R., Ye, Y., Li, Z., He, X. (2017). DeepFM: a factorization-machine based neural
network for CTR prediction. IJCAI.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fit_deepfm", "predict_deepfm"]


def _inputs(enc: Any, F: pd.DataFrame, stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    cats = []
    for c in enc.categorical:
        n = enc.state["categorical"][c]["n_codes"]
        v = F[c].to_numpy()
        cats.append(np.where(np.isnan(v), n, v).astype(np.int64))
    C = np.column_stack(cats) if cats else np.zeros((len(F), 0), np.int64)
    if enc.numeric:
        Z = F[enc.numeric].to_numpy(dtype=float)
        Z = np.sign(Z) * np.log1p(np.abs(Z))
        Z = (Z - stats["mean"]) / stats["std"]
        Z = np.nan_to_num(Z, nan=0.0).astype(np.float32)
    else:
        Z = np.zeros((len(F), 0), np.float32)
    return C, Z


def _module(sizes: list[int], n_num: int, dim: int, hidden: tuple[int, ...]) -> Any:
    import torch
    from torch import nn

    class DeepFM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.ModuleList(nn.Embedding(s, dim) for s in sizes)
            self.lin = nn.ModuleList(nn.Embedding(s, 1) for s in sizes)
            for e in list(self.emb) + list(self.lin):
                nn.init.normal_(e.weight, std=0.01)
            self.num_lin = nn.Linear(n_num, 1) if n_num else None
            layers: list[Any] = []
            width = dim * len(sizes) + n_num
            for h in hidden:
                layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(0.2)]
                width = h
            layers.append(nn.Linear(width, 1))
            self.mlp = nn.Sequential(*layers)

        def forward(self, c: Any, z: Any) -> Any:
            v = torch.stack([e(c[:, i]) for i, e in enumerate(self.emb)], dim=1)
            first = sum(e(c[:, i]) for i, e in enumerate(self.lin)).squeeze(-1)
            if self.num_lin is not None:
                first = first + self.num_lin(z).squeeze(-1)
            s = v.sum(dim=1)
            fm = 0.5 * (s * s - (v * v).sum(dim=1)).sum(dim=1)
            deep = self.mlp(torch.cat([v.flatten(1), z], dim=1)).squeeze(-1)
            return first + fm + deep

    return DeepFM()


class DeepFMState:
    """Picklable state of a fitted DeepFM (NumPy arrays, no torch objects)."""

    def __init__(self, config: dict[str, Any], weights: dict[str, np.ndarray],
                 stats: dict[str, Any]) -> None:
        self.config = config
        self.weights = weights
        self.stats = stats


def fit_deepfm(enc: Any, Ftr: pd.DataFrame, ytr: np.ndarray, Fva: pd.DataFrame,
               yva: np.ndarray, epochs: int = 10, seed: int = 0, n_jobs: int = 1,
               dim: int = 8, hidden: tuple[int, ...] = (64, 32), lr: float = 1e-3,
               batch: int = 256, weight_decay: float = 1e-6) -> DeepFMState:
    """Train DeepFM with early stopping on ``(Fva, yva)``; return its state."""
    import torch

    torch.set_num_threads(n_jobs)
    torch.manual_seed(seed)
    if enc.numeric:
        Z = Ftr[enc.numeric].to_numpy(dtype=float)
        Z = np.sign(Z) * np.log1p(np.abs(Z))
        stats = {"mean": np.nan_to_num(np.nanmean(Z, axis=0)),
                 "std": np.nan_to_num(np.nanstd(Z, axis=0), nan=1.0) + 1e-6}
    else:
        stats = {"mean": 0.0, "std": 1.0}
    sizes = [enc.state["categorical"][c]["n_codes"] + 1 for c in enc.categorical]
    net = _module(sizes, len(enc.numeric), dim, hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    Ct, Zt = (torch.from_numpy(a) for a in _inputs(enc, Ftr, stats))
    Cv, Zv = (torch.from_numpy(a) for a in _inputs(enc, Fva, stats))
    yt = torch.from_numpy(np.asarray(ytr, dtype=np.float32))
    yv = torch.from_numpy(np.asarray(yva, dtype=np.float32))
    gen = torch.Generator().manual_seed(seed)
    best, best_state, bad = np.inf, None, 0
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(yt), generator=gen)
        for i in range(0, len(yt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(net(Ct[idx], Zt[idx]), yt[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = float(loss_fn(net(Cv, Zv), yv))
        if val < best - 1e-5:
            best, bad = val, 0
            best_state = {k: v.detach().clone().numpy() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= 2:
                break
    config = {"sizes": sizes, "n_num": len(enc.numeric), "dim": dim, "hidden": list(hidden)}
    return DeepFMState(config, best_state or {}, stats)


def predict_deepfm(state: DeepFMState, enc: Any, F: pd.DataFrame) -> np.ndarray:
    """Probabilities of a fitted DeepFM."""
    import torch

    net = getattr(state, "_net", None)
    if net is None:
        cfg = state.config
        net = _module(cfg["sizes"], cfg["n_num"], cfg["dim"], tuple(cfg["hidden"]))
        net.load_state_dict({k: torch.from_numpy(v) for k, v in state.weights.items()})
        net.eval()
    C, Z = _inputs(enc, F, state.stats)
    with torch.no_grad():
        z = net(torch.from_numpy(C), torch.from_numpy(Z)).numpy().astype(float)
    return 1.0 / (1.0 + np.exp(-z))
