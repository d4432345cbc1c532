"""What the user sees of expert choice: diagnostic messages, related information, the JSON of the
`r1lsp/experts` request, the CLI table and the heatmap. Pure functions of `UnitExperts` (see
`r1lsp.experts`) and the expert names measured by `model.calibrate` (card.json "expert_labels").

Nothing here imports pygls or lsprotocol: ranges are ((line, UTF-16 col), (line, UTF-16 col)),
0-based as in LSP; the server wraps them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from r1lsp.experts import UnitExperts
from r1lsp.structure import HierarchySpan, Level

DIAGNOSTIC_CODE = "r1lsp.experts"
DIAGNOSTIC_SOURCE = "r1lsp experts"
SEVERITY = {Level.PARAGRAPH: "information", Level.SENTENCE: "hint", Level.PHRASE: "hint", Level.TOKEN: "hint"}

Range = tuple[tuple[int, int], tuple[int, int]]


# ------------------------------------------------------------------------------ labels

def labels_from_card(card: dict | None) -> dict[int, str]:
    """{expert: label} from a card.json dict ("expert_labels": {"7": {"label": ...}, ...});
    {} when the checkpoint was never calibrated."""
    raw = (card or {}).get("expert_labels") or {}
    out = {}
    for k, v in raw.items():
        label = v.get("label") if isinstance(v, dict) else v
        if isinstance(label, str) and label and str(k).isdigit():
            out[int(k)] = label
    return out


def load_expert_labels(checkpoint_dir) -> dict[int, str]:
    """Labels from `checkpoint_dir/card.json`; {} when missing or unreadable."""
    try:
        card = json.loads((Path(checkpoint_dir) / "card.json").read_text("utf-8"))
    except (OSError, ValueError, TypeError):
        return {}
    return labels_from_card(card if isinstance(card, dict) else None)


def expert_name(expert: int, labels: dict[int, str] | None) -> str:
    """"7 · loops & indexing", or "7" without a label."""
    label = (labels or {}).get(int(expert))
    return f"{expert} · {label}" if label else str(expert)


def _pct(share: float) -> str:
    p = share * 100
    return f"{p:.0f}%" if p >= 1 or p == 0 else "<1%"


# ------------------------------------------------------------------------------ diagnostics

def diagnostic_message(unit: UnitExperts, labels: dict[int, str] | None = None, top: int = 3) -> str:
    """"experts 7 · loops & indexing 31%, 2 · string literals 22%, 12 · calls 14%"."""
    parts = [f"{expert_name(e, labels)} {_pct(s)}" for e, s in unit.shares[:top]]
    return ("experts " + ", ".join(parts)) if parts else "experts: no routed tokens"


def unit_range(span: HierarchySpan) -> Range:
    return (tuple(span.start), tuple(span.end))


@dataclass(frozen=True)
class RelatedInfo:
    range: Range
    message: str


@dataclass(frozen=True)
class DiagnosticContent:
    """Everything an LSP Diagnostic needs, without lsprotocol types."""
    range: Range
    message: str
    severity: str                      # "information" | "hint"
    code: str
    source: str
    related: list[RelatedInfo]
    data: dict


def related_information(unit: UnitExperts, labels: dict[int, str] | None = None) -> list[RelatedInfo]:
    """For each top expert, the sentence of the unit where it dominates."""
    out = []
    for sent, e, s in unit.top_sentences:
        out.append(RelatedInfo(unit_range(sent), f"expert {expert_name(e, labels)}: {_pct(s)} of this sentence"))
    return out


def diagnostic_content(unit: UnitExperts, labels: dict[int, str] | None = None, top: int = 3) -> DiagnosticContent:
    """Message, range, severity (Information for paragraphs, Hint below), the stable code, related
    information and a data payload ({"experts": [[expert, share], ...], "tokens", "level"})."""
    data = {"experts": [[e, round(s, 4)] for e, s in unit.shares[:max(top, 8)]],
            "tokens": unit.tokens, "level": Level(unit.level).name.lower()}
    if unit.routed_version is not None:
        data["routedVersion"] = unit.routed_version
    return DiagnosticContent(unit_range(unit.span), diagnostic_message(unit, labels, top),
                             SEVERITY.get(Level(unit.level), "hint"), DIAGNOSTIC_CODE, DIAGNOSTIC_SOURCE,
                             related_information(unit, labels), data)


# ------------------------------------------------------------------------------ JSON / table / plot

def _json_range(r: Range) -> dict:
    (sl, sc), (el, ec) = r
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def unit_title(span: HierarchySpan) -> str:
    """"method_declaration total" / "if_statement" (name when the unit has one)."""
    return f"{span.kind} {span.name}" if span.name else span.kind


def experts_json(units: Sequence[UnitExperts], labels: dict[int, str] | None = None) -> dict:
    """Payload of `r1lsp/experts` (and `r1lsp experts --json`): units with their LSP range, name,
    kind, level, token count, shares (with labels) and top sentences."""
    labels = labels or {}
    used = sorted({e for u in units for e, _ in u.shares})
    return {
        "units": [{
            "range": _json_range(unit_range(u.span)),
            "name": u.span.name, "kind": u.span.kind, "level": Level(u.level).name.lower(),
            "tokens": u.tokens,
            "shares": [{"expert": e, "share": round(s, 4), "label": labels.get(e)} for e, s in u.shares],
            "top_sentences": [{"range": _json_range(unit_range(sp)), "expert": e, "share": round(s, 4)}
                              for sp, e, s in u.top_sentences],
        } for u in units],
        "labels": {str(e): labels[e] for e in used if e in labels},
    }


def experts_table(units: Sequence[UnitExperts], labels: dict[int, str] | None = None, top: int = 3) -> str:
    """One line per unit: lines (1-based), unit, tokens, top experts with shares."""
    rows = [("lines", "unit", "tokens", "experts")]
    for u in units:
        (sl, _), (el, _) = unit_range(u.span)
        rows.append((f"{sl + 1}-{el + 1}", unit_title(u.span), str(u.tokens),
                     ", ".join(f"{expert_name(e, labels)} {_pct(s)}" for e, s in u.shares[:top])))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:<{w[0]}}  {b:<{w[1]}}  {c:>{w[2]}}  {d}".rstrip() for a, b, c, d in rows)


def heatmap(units: Sequence[UnitExperts], n_experts: int, out_png, title: str = "",
            labels: dict[int, str] | None = None) -> Path:
    """Units x experts image of the shares (matplotlib, Agg), unit names on the y axis."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    n = max(1, len(units))
    mat = np.zeros((n, n_experts))
    for i, u in enumerate(units):
        for e, s in u.shares:
            if e < n_experts:
                mat[i, e] = s
    names = [f"{u.span.start[0] + 1}: {unit_title(u.span)}"[:48] for u in units] or [""]
    height = min(60.0, 1.5 + 0.22 * n)
    fig, ax = plt.subplots(figsize=(2.5 + 0.45 * n_experts, height))
    im = ax.imshow(mat, aspect="auto", cmap="viridis", vmin=0, interpolation="nearest")
    ax.set_yticks(range(n))
    ax.set_yticklabels(names, fontsize=7 if n > 40 else 8)
    ax.set_xticks(range(n_experts))
    ax.set_xticklabels([expert_name(e, labels) if labels else str(e) for e in range(n_experts)],
                       rotation=60 if labels else 0, ha="right" if labels else "center", fontsize=8)
    ax.set_xlabel("expert")
    ax.set_title(title or "expert shares per unit")
    fig.colorbar(im, ax=ax, label="share of routing weight")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


__all__ = ["DIAGNOSTIC_CODE", "DIAGNOSTIC_SOURCE", "DiagnosticContent", "RelatedInfo", "diagnostic_content",
           "diagnostic_message", "expert_name", "experts_json", "experts_table", "heatmap",
           "labels_from_card", "load_expert_labels", "related_information", "unit_title"]
