"""The engine's expert routing work: route requests as left-padded batches of similar length,
the routing and surprise of every token (worker thread only; r1lsp.engine)."""
from __future__ import annotations

import logging
import time

import numpy as np

from r1lsp.engine_queue import Request, resolve
from r1lsp.route_trace import RouteTrace

log = logging.getLogger("r1lsp.engine")

ROUTE_BATCH_TOKENS = 4096      # positions (rows x longest row) in one route forward
SURPRISE_CHUNK = 256           # positions whose (chunk, vocab) logits exist at once


class EngineRouting:
    """Route methods of `r1lsp.engine.Engine` (they use its model, config and result cache)."""

    def _tensor_levels(self, levels: np.ndarray | None, n: int):
        import torch
        if levels is None:
            return torch.zeros(n, 3, dtype=torch.long)
        return torch.as_tensor(levels[-n:], dtype=torch.long)

    def _route_rows(self, reqs: list[Request]) -> None:
        """Route requests as one left-padded batch (pad slots: level id -1, masked by pad_len)."""
        import torch
        rows = [r.ids[-self.config.max_seq_len:] for r in reqs]
        T = max(len(ids) for ids in rows)
        pad_id = self.prompts.pad_id if self.prompts is not None else 0
        ids = torch.full((len(rows), T), int(pad_id), dtype=torch.long)
        lvl = torch.full((len(rows), T, 3), -1, dtype=torch.long)
        for i, (r, row) in enumerate(zip(reqs, rows)):
            ids[i, T - len(row):] = torch.tensor(row, dtype=torch.long)
            lvl[i, T - len(row):] = self._tensor_levels(r.levels, len(row))
        pad_len = torch.tensor([T - len(row) for row in rows], device=self.device)
        self.batches_run += 1
        self.rows_run += len(rows)
        t0 = time.monotonic()
        routing, nll = route_forward(self.model, ids.to(self.device), lvl.to(self.device),
                                     pad_len if len(rows) > 1 else None)
        log.debug("routed %d rows x %d positions in %.0f ms", len(rows), T, 1000 * (time.monotonic() - t0))
        experts = routing.experts.cpu().numpy().astype(np.int16)    # expert ids < 32K: a quarter of int64's bytes
        weights = routing.weights.float().cpu().numpy()
        surprise = np.concatenate([np.full((len(rows), 1), np.nan, np.float32), nll.astype(np.float32)], 1)
        for i, (r, row) in enumerate(zip(reqs, rows)):
            surprise[i, T - len(row)] = np.nan              # a row's first token follows padding
            trace = RouteTrace(experts[:, i, T - len(row):], weights[:, i, T - len(row):], surprise[i, T - len(row):])
            self._cache.put(r.cache_key, trace)
            resolve(r, trace)


def length_groups(reqs: list[Request], waste: float = 1.5,
                  max_tokens: int = ROUTE_BATCH_TOKENS) -> list[list[Request]]:
    """Requests in batches of similar length: left padding to the longest row of a batch costs
    (rows x longest) positions, kept under `waste` x the real tokens (one 2,000-token paragraph
    in a batch of 20-token ones would otherwise make every row 2,000 long) and under
    `max_tokens` positions (the activations of a forward grow with them: eight 2,048-token
    chunks of one long paragraph in one batch peaked at 1.3 GB and left the heap at 0.8 GB)."""
    groups: list[list[Request]] = []
    real = 0
    for r in sorted(reqs, key=lambda r: len(r.ids)):
        n = len(r.ids)
        if groups and (len(groups[-1]) + 1) * n <= min(waste * (real + n), max_tokens):
            groups[-1].append(r)
            real += n
        else:
            groups.append([r])
            real = n
    return groups


def route_forward(model, ids, levels, pad_len):
    """Routing of every token and its surprise: (routing, nll (B, T - 1) float32 numpy), nll[t - 1]
    = -log p(ids[t] | ids[:t]). Where the model exposes its trunk (R1), the output head runs over
    `SURPRISE_CHUNK` positions at a time, so no (B, T, vocab) logits are held (64 MB per
    2,048-token row at vocab 8,192, plus as much again for the log-sum-exp)."""
    import torch
    with torch.no_grad():
        if hasattr(model, "trunk"):
            h, out = model.trunk(ids, levels, pad_len=pad_len, return_routing=True)
            heads = (model.head(model.norm(h[:, a:a + SURPRISE_CHUNK])) for a in range(0, h.size(1) - 1, SURPRISE_CHUNK))
        else:
            out = model(ids, levels, pad_len=pad_len, return_routing=True)
            heads = (out.logits[:, a:a + SURPRISE_CHUNK] for a in range(0, out.logits.size(1) - 1, SURPRISE_CHUNK))
        parts = []
        for a, logits in zip(range(0, ids.size(1) - 1, SURPRISE_CHUNK), heads):
            logits = logits[:, :ids.size(1) - 1 - a].float()
            picked = logits.gather(-1, ids[:, a + 1:a + 1 + logits.size(1), None])[..., 0]
            parts.append((torch.logsumexp(logits, -1) - picked).cpu())
        nll = torch.cat(parts, 1) if parts else torch.zeros(ids.size(0), 0)
    return out.routing, nll.numpy()

