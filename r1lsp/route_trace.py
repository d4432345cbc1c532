"""The routing trace of a run of tokens: which experts each token went to, with what weight,
and how surprising the token was to the model. The engine answers route requests with one;
`r1lsp.experts` aggregates them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class RouteTrace:
    """Which experts each token went to: experts (L, T, k) int64, weights (L, T, k) float32;
    surprise (T,) float32: -log p(token | the tokens before it) in nats, NaN where unknown
    (the first token; every token when the router did not run the full model)."""
    experts: np.ndarray
    weights: np.ndarray
    surprise: np.ndarray | None = None

    def __post_init__(self):
        n = np.shape(self.experts)[1]
        self.surprise = (np.full(n, np.nan, np.float32) if self.surprise is None
                         else np.asarray(self.surprise, np.float32))

    def __len__(self) -> int:
        return int(np.shape(self.experts)[1])

    def tokens(self, a: int, b: int | None = None) -> "RouteTrace":
        """The trace of tokens [a, b)."""
        return RouteTrace(np.asarray(self.experts)[:, a:b], np.asarray(self.weights)[:, a:b],
                          self.surprise[a:b])

    @staticmethod
    def concat(traces: Sequence["RouteTrace"]) -> "RouteTrace":
        """The traces laid end to end (an empty trace of one layer when there are none)."""
        if not traces:
            return RouteTrace(np.zeros((1, 0, 1), np.int64), np.zeros((1, 0, 1), np.float32))
        return RouteTrace(np.concatenate([t.experts for t in traces], axis=1),
                          np.concatenate([t.weights for t in traces], axis=1),
                          np.concatenate([t.surprise for t in traces]))
