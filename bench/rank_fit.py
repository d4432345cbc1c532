"""The rankers bench/tune_completion.py fits on the dev split's member lists: every candidate's
features as one matrix (`Matrix`: top-5 of a weight vector in one product), a linear ranker
trained pairwise (`fit_pairwise`), a small neural ranker over its first candidates (`fit_net`)
and what that net costs a list (`net_cost_ms`)."""
from __future__ import annotations

import time

from r1lsp.completion_rank import RANK_WEIGHTS


class Matrix:
    """One language's samples as arrays: every candidate's features (rows), the sample each
    belongs to, and which row is the right name: top-5 of a weight vector in one product."""

    def __init__(self, samples: list, names: list[str]):
        import numpy as np
        rows, owner, right = [], [], []
        for i, s in enumerate(samples):
            for label, f in s.feats:
                rows.append([f.get(k, 0.0) for k in names])
                owner.append(i)
                right.append(label == s.position.expected)
        self.names, self.n = names, len(samples)
        self.x = np.array(rows, dtype=np.float64).reshape(-1, len(names))
        self.owner = np.array(owner, dtype=np.int64)
        right = np.array(right, dtype=bool)
        self.has = np.zeros(self.n, dtype=bool)
        self.has[self.owner[right]] = True
        self.right = right

    def top5(self, w: dict[str, float], subset=None, net=None) -> float:
        """% of samples (of `subset`, an index array) with the right name among the five best
        (ties broken against it: conservative); `net`: the first candidates of the ranking by `w`
        ordered by that RankNet (as complete() orders the analysis' list)."""
        import numpy as np
        score = self.x @ np.array([w.get(k, 0.0) for k in self.names])
        if net is not None:
            score = self.net_scores(net, score)
        return self.top5_of(score, subset)

    def net_scores(self, net, first):
        """Scores that order each sample's `net.top` best candidates by `first` by the net, above
        the rest (kept in `first`'s order)."""
        import numpy as np
        col = {k: i for i, k in enumerate(self.names)}
        x = np.stack([self.x[:, col[k]] if k in col else np.zeros(len(self.x)) for k in net.features], 1)
        by = np.lexsort((-first, self.owner))                          # per sample, best first
        start = np.searchsorted(self.owner[by], np.arange(self.n))
        rank = np.empty(len(first), dtype=np.int64)
        rank[by] = np.arange(len(first)) - start[self.owner[by]]
        mine = x @ net.linear + np.maximum(x @ net.hidden_in + net.hidden_bias, 0.0) @ net.hidden_out
        return np.where(rank < net.top, 1e6 + mine, first)

    def top5_of(self, score, subset=None) -> float:
        import numpy as np
        right_score = np.full(self.n, -np.inf)
        right_score[self.owner[self.right]] = score[self.right]
        better = np.bincount(self.owner, weights=(score >= right_score[self.owner]) & ~self.right, minlength=self.n)
        hit = self.has & (better < 5)
        idx = np.arange(self.n) if subset is None else subset
        return 100.0 * hit[idx].mean() if len(idx) else 0.0


def fit_pairwise(m: Matrix, subset=None, fixed=("model", "object_member"), l2: float = 0.01, steps: int = 300,
                 start: dict[str, float] | None = None) -> dict[str, float]:
    """A linear ranker trained pairwise: RankNet's logistic loss on score(right) - score(other)
    over every other candidate of each sample, features standardised, full-batch gradient
    descent with an L2 penalty; the weights in the features' own units (what rank_score
    multiplies). The `fixed` features keep their `start` weights (rules such as "Object's own
    members last"): pairs those decide are left out."""
    import numpy as np
    idx = np.arange(m.n) if subset is None else np.asarray(subset)
    keep = np.isin(m.owner, idx[m.has[idx]])
    cols = [i for i, k in enumerate(m.names) if k not in fixed]
    x = m.x[:, cols]
    mu, sd = x[keep].mean(0), x[keep].std(0) + 1e-9
    z = (x - mu) / sd
    ruled = m.x @ np.array([(start or RANK_WEIGHTS).get(k, 0.0) if k in fixed else 0.0 for k in m.names])
    diffs = []
    for r in np.nonzero(m.right & keep)[0]:
        rows = np.nonzero((m.owner == m.owner[r]) & ~m.right)[0]
        rows = rows[np.abs(ruled[r] - ruled[rows]) < 1.0]
        diffs.append(z[r] - z[rows])
    d = np.concatenate(diffs) if diffs else np.zeros((0, len(cols)))
    w = np.zeros(len(cols))
    lr = 0.5
    for _ in range(steps):
        margin = d @ w
        g = -(d * (1.0 / (1.0 + np.exp(margin)))[:, None]).mean(0) + l2 * w
        w -= lr * g
    return {m.names[i]: round(float(w[j] / sd[j]), 4) for j, i in enumerate(cols)}


def fit_net(m: Matrix, subset=None, fixed=("model",), l2: float = 0.03, hidden: int = 16, seeds=(0, 1, 2),
            steps: int = 400, start: dict[str, float] | None = None, top: int = 40):
    """A small neural ranker (r1lsp.completion_net.RankNet): a linear part and one hidden ReLU
    layer over the standardised features, trained on each sample's whole list with a listwise
    softmax loss (the right name's -log share of exp(score)), Adam, full batch, an L2 penalty
    on every weight; one net per seed, averaged (shipped as one net: the hidden units side by
    side). The `fixed` features keep their `start` weights in the linear part (rules)."""
    import numpy as np
    import torch
    from r1lsp.completion_net import RankNet
    idx = np.arange(m.n) if subset is None else np.asarray(subset)
    keep = np.isin(m.owner, idx[m.has[idx]])
    start = start or RANK_WEIGHTS
    names = [k for k in m.names if k != "model"]
    cols = [m.names.index(k) for k in names if k not in fixed]
    x = m.x[:, cols]
    mu, sd = x[keep].mean(0), x[keep].std(0) + 1e-6
    rule = np.array([start.get(k, 0.0) if k in fixed else 0.0 for k in m.names])
    xt = torch.tensor((x[keep] - mu) / sd, dtype=torch.float32)
    ruled = torch.tensor((m.x @ rule)[keep], dtype=torch.float32)
    _, group = np.unique(m.owner[keep], return_inverse=True)
    g, ng = torch.tensor(group), int(group.max()) + 1 if len(group) else 0
    right = torch.tensor(m.right[keep], dtype=torch.float32)
    parts = []
    for seed in seeds:
        torch.manual_seed(seed)
        wl = torch.zeros(len(cols), requires_grad=True)
        w1 = (torch.randn(len(cols), hidden) * 0.1).requires_grad_()
        b1 = torch.zeros(hidden, requires_grad=True)
        w2 = (torch.randn(hidden) * 0.1).requires_grad_()
        opt = torch.optim.Adam([wl, w1, b1, w2], lr=0.03)
        for _ in range(steps):
            opt.zero_grad()
            score = xt @ wl + torch.relu(xt @ w1 + b1) @ w2 + ruled
            top_ = torch.zeros(ng).scatter_reduce(0, g, score, "amax", include_self=False).detach()
            lse = torch.log(torch.zeros(ng).index_add(0, g, torch.exp(score - top_[g]))) + top_
            loss = (lse - torch.zeros(ng).index_add(0, g, score * right)).mean()
            loss = loss + l2 * sum((p ** 2).sum() for p in (wl, w1, b1, w2))
            loss.backward()
            opt.step()
        parts.append([t.detach().numpy().astype(np.float64) for t in (wl, w1, b1, w2)])
    k = len(parts)
    wl = sum(p[0] for p in parts) / k
    w1, b1 = np.concatenate([p[1] for p in parts], 1), np.concatenate([p[2] for p in parts])
    w2 = np.concatenate([p[3] for p in parts]) / k
    at = {n: i for i, n in enumerate(names)}
    lin, hin = np.zeros(len(names)), np.zeros((len(names), w1.shape[1]))
    for j, c in enumerate(cols):                                        # standardisation folded in
        lin[at[m.names[c]]] = wl[j] / sd[j]
        hin[at[m.names[c]]] = w1[j] / sd[j]
    for n in fixed:
        if n in at:
            lin[at[n]] = start.get(n, 0.0)
    bias = b1 - (mu / sd) @ w1
    return RankNet(tuple(names), lin, hin, bias, w2, top)


def net_cost_ms(samples: list, weights: dict[str, float], net) -> dict[str, float]:
    """What the net adds to a list's ranking (its `order` over the linear ranking, as complete()
    calls it), ms per list over `samples`' lists, each the best of 5 runs (the work, not the
    machine's other load): p50 / p95 / max, and the linear ranking's p50."""
    from r1lsp.completion_rank import rank_score
    lin, add = [], []
    for s in samples:
        a = b = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            ranked = sorted(s.feats, key=lambda lf: (-rank_score(lf[1], weights), lf[0]))
            t1 = time.perf_counter()
            net.order(ranked)
            a, b = min(a, 1000 * (time.perf_counter() - t1)), min(b, 1000 * (t1 - t0))
        add.append(a)
        lin.append(b)
    q = lambda xs, p: round(sorted(xs)[min(len(xs) - 1, int(p * len(xs)))], 3)
    return {"p50": q(add, 0.5), "p95": q(add, 0.95), "max": q(add, 1.0), "linear_p50": q(lin, 0.5)}
