"""A small neural ranker over the completion features (r1lsp/completion_rank.py's): one hidden
ReLU layer beside a linear part, applied to the first `top` candidates of the linear ranking
(the list's order after them stays the linear one). Fitted on the dev split by
`python bench/tune_completion.py --ranking --write` and shipped as JSON in rank-weights.json
(a language's `net`); the score is

    x @ linear + relu(x @ hidden_in + hidden_bias) @ hidden_out

with x the candidate's raw features (missing: 0), the features' standardisation folded into
`linear` / `hidden_in` / `hidden_bias` when fitting."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankNet:
    features: tuple[str, ...]
    linear: np.ndarray                      # (F,)
    hidden_in: np.ndarray                   # (F, H)
    hidden_bias: np.ndarray                 # (H,)
    hidden_out: np.ndarray                  # (H,)
    top: int                                # how many of the linear ranking's first candidates it orders

    @classmethod
    def from_json(cls, raw: dict) -> "RankNet":
        f = tuple(raw["features"])
        lin = np.asarray(raw["linear"], dtype=np.float64).reshape(len(f))
        w1 = np.asarray(raw["hidden_in"], dtype=np.float64).reshape(len(f), -1)
        b1 = np.asarray(raw["hidden_bias"], dtype=np.float64).reshape(w1.shape[1])
        w2 = np.asarray(raw["hidden_out"], dtype=np.float64).reshape(w1.shape[1])
        return cls(f, lin, w1, b1, w2, int(raw.get("top", 40)))

    def to_json(self) -> dict:
        r = lambda a: [round(float(v), 5) for v in a]
        return {"features": list(self.features), "top": self.top, "linear": r(self.linear),
                "hidden_in": [r(row) for row in self.hidden_in], "hidden_bias": r(self.hidden_bias),
                "hidden_out": r(self.hidden_out)}

    def scores(self, feats: list[dict[str, float]]) -> np.ndarray:
        """The net's score of each candidate's features."""
        if not feats:
            return np.zeros(0)
        x = np.array([[f.get(k, 0.0) for k in self.features] for f in feats], dtype=np.float64)
        return x @ self.linear + np.maximum(x @ self.hidden_in + self.hidden_bias, 0.0) @ self.hidden_out

    def order(self, ranked: list[tuple[str, dict[str, float]]]) -> list[int]:
        """The list's new order (indices into `ranked`, (label, features) in the linear ranking's
        order): its first `top` by the net's score (ties by label), then the rest as they were."""
        k = min(self.top, len(ranked))
        s = self.scores([f for _, f in ranked[:k]])
        head = sorted(range(k), key=lambda i: (-s[i], ranked[i][0]))
        return head + list(range(k, len(ranked)))
