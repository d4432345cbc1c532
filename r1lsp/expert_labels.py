"""What the user sees of expert choice: diagnostic messages, related information, the hover, the
JSON of the `r1lsp/experts` request, the CLI table and the heatmap. Pure functions of `UnitExperts`
(see `r1lsp.experts`, `r1lsp.expert_units`) and the expert labels measured by
`r1lsp.expert_calibration` (`expert_labels.json` beside the checkpoint's weights): "7 · calls ×1.8"
names the code role expert 7 takes more of than code in general does, with that lift; an expert
with no clear preference is shown as its number only.

Nothing here imports pygls or lsprotocol: ranges are ((line, UTF-16 col), (line, UTF-16 col)),
0-based as in LSP; the server wraps them.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from r1lsp.expert_units import UNUSUAL_Z, unusualness
from r1lsp.experts import UnitExperts
from model.structure import HierarchySpan, Level

DIAGNOSTIC_CODE = "r1lsp.experts"
DIAGNOSTIC_SOURCE = "r1lsp experts"
LABELS_FILE = "expert_labels.json"

log = logging.getLogger("r1lsp.experts")

Range = tuple[tuple[int, int], tuple[int, int]]


# ------------------------------------------------------------------------------ labels

def labels_from_file(payload: dict | None) -> dict[int, str]:
    """{expert: "calls ×1.8"} from an expert_labels.json payload ({"experts": {"7": {"label":
    "calls", "lift": 1.83}, "3": {"label": null}}}); experts without a label are left out."""
    raw = (payload or {}).get("experts") or {}
    out = {}
    for k, v in raw.items():
        if not (str(k).isdigit() and isinstance(v, dict)):
            continue
        label, lift = v.get("label"), v.get("lift")
        if isinstance(label, str) and label:
            out[int(k)] = f"{label} ×{lift:.1f}" if isinstance(lift, (int, float)) else label
    return out


def weights_digest(checkpoint_dir) -> str | None:
    """sha256 of the checkpoint's model.safetensors (None when there is none)."""
    path = Path(checkpoint_dir) / "model.safetensors"
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def load_expert_labels(checkpoint_dir) -> dict[int, str]:
    """Labels from `checkpoint_dir/expert_labels.json`; {} when missing, unreadable, or measured
    on other weights (the file records their sha256: labels of another model would mislead)."""
    try:
        payload = json.loads((Path(checkpoint_dir) / LABELS_FILE).read_text("utf-8"))
    except (OSError, ValueError, TypeError):
        return {}
    if not isinstance(payload, dict):
        return {}
    recorded = (payload.get("meta") or {}).get("weights_sha256")
    if recorded and recorded != weights_digest(checkpoint_dir):
        log.warning("%s/%s was measured on other weights: experts are shown by number "
                    "(re-run `make calibrate`)", checkpoint_dir, LABELS_FILE)
        return {}
    return labels_from_file(payload)


def expert_name(expert: int, labels: dict[int, str] | None) -> str:
    """"7 · calls ×1.8", or "7" without a label."""
    label = (labels or {}).get(int(expert))
    return f"{expert} · {label}" if label else str(expert)


def _pct(share: float) -> str:
    p = share * 100
    return f"{p:.0f}%" if p >= 1 or p == 0 else "<1%"


# ------------------------------------------------------------------------------ diagnostics

def diagnostic_message(unit: UnitExperts, labels: dict[int, str] | None = None, top: int = 3) -> str:
    """"experts 7 · calls ×1.8 31%, 2 22%, 12 · literals ×2.1 14%" (shares of code tokens)."""
    parts = [f"{expert_name(e, labels)} {_pct(s)}" for e, s in unit.shares[:top]]
    return ("experts " + ", ".join(parts)) if parts else "experts: no routed code tokens"


def unit_range(span: HierarchySpan) -> Range:
    return (tuple(span.start), tuple(span.end))


def header_range(unit: UnitExperts) -> Range:
    """Where a unit's diagnostic and hover sit: its header (name, first line), else the unit."""
    return tuple(map(tuple, unit.header)) if unit.header is not None else unit_range(unit.span)


@dataclass(frozen=True)
class RelatedInfo:
    range: Range
    message: str


@dataclass(frozen=True)
class DiagnosticContent:
    """Everything an LSP Diagnostic needs, without lsprotocol types."""
    range: Range
    message: str
    code: str
    source: str
    related: list[RelatedInfo]
    data: dict


def unit_title(span: HierarchySpan, role: str | None = None) -> str:
    """"method add" / "class Inventory" / "if_statement" (name when the unit has one)."""
    kind = span.kind.removesuffix("_declaration").removesuffix("_definition").replace("_", " ")
    if role == "statement" or not span.name:
        return kind if role else (f"{span.kind} {span.name}" if span.name else span.kind)
    return f"{kind} {span.name}"


def _lines(span: HierarchySpan) -> str:
    a, b = span.start[0] + 1, span.end[0] + 1
    return f"line {a}" if a == b else f"lines {a}–{b}"


def _left_out(unit: UnitExperts) -> str:
    parts = [f"{n} {what}" for n, what in ((unit.comments, "comment"), (unit.whitespace, "whitespace")) if n]
    return (", " + " and ".join(parts) + " tokens not counted") if parts else ""


def related_information(unit: UnitExperts, labels: dict[int, str] | None = None) -> list[RelatedInfo]:
    """The whole unit first (its extent: the diagnostic itself sits on the header only), then for
    each top expert the sentence of the unit where it dominates."""
    out = []
    if unit.header is not None:
        out.append(RelatedInfo(unit_range(unit.span), f"{unit_title(unit.span, unit.role)}: {_lines(unit.span)}, "
                                                        f"{unit.tokens} code tokens{_left_out(unit)}"))
    for sent, e, s in unit.top_sentences:
        out.append(RelatedInfo(unit_range(sent), f"expert {expert_name(e, labels)}: {_pct(s)} of this sentence"))
    return out


def diagnostic_content(unit: UnitExperts, labels: dict[int, str] | None = None, top: int = 3,
                       reason: str | None = None) -> DiagnosticContent:
    """Message, range (the header), the stable code, related information (the whole unit, top
    sentences) and a data payload: the unit's full range, shares of code tokens, the comment and
    whitespace tokens left out, the mean surprise. `reason`: why unusual-code mode flags it."""
    data = {"experts": [[e, round(s, 4)] for e, s in unit.shares[:max(top, 8)]],
            "tokens": unit.tokens, "comments": unit.comments, "whitespace": unit.whitespace,
            "level": Level(unit.level).name.lower(), "unit": _json_range(unit_range(unit.span))}
    if unit.role:
        data.update(role=unit.role, kind=unit.span.kind, name=unit.span.name)
    if unit.surprise is not None:
        data["surprise"] = round(unit.surprise, 3)
    if unit.routed_version is not None:
        data["routedVersion"] = unit.routed_version
    message = diagnostic_message(unit, labels, top)
    if reason:
        data["unusual"] = reason
        message = f"{reason} · {message}"
    return DiagnosticContent(header_range(unit), message, DIAGNOSTIC_CODE, DIAGNOSTIC_SOURCE,
                             related_information(unit, labels), data)


def hover_markdown(unit: UnitExperts, labels: dict[int, str] | None = None, *, top: int = 8,
                   file_surprise: float | None = None, reason: str | None = None) -> str:
    """The full breakdown shown on a unit's header: top experts with their shares of the code
    tokens and labels, what was left out, the mean surprise (and the file's median)."""
    title = unit_title(unit.span, unit.role)
    lines = [f"**R1 experts · {title}** ({_lines(unit.span)}, {unit.tokens} code tokens)", ""]
    if reason:
        lines += [f"*{reason}*", ""]
    lines += ["| expert | share of code tokens | prefers (lift) |", "|---:|---:|---|"]
    for e, s in unit.shares[:top]:
        lines.append(f"| {e} | {_pct(s)} | {(labels or {}).get(e, '—')} |")
    rest = sum(s for _, s in unit.shares[top:])
    if rest > 0:
        lines.append(f"| {len(unit.shares) - top} more | {_pct(rest)} | |")
    lines.append("")
    if unit.surprise is not None:
        usual = f" (file median {file_surprise:.2f})" if file_surprise is not None else ""
        lines.append(f"Mean surprise: **{unit.surprise:.2f} nats/token**{usual} — the negative log-probability "
                     "of its code tokens under the model; higher is less usual.")
    left = [f"{n} {what}" for n, what in ((unit.comments, "comment"), (unit.whitespace, "whitespace")) if n]
    lines.append("Not counted: " + (" and ".join(left) + " tokens." if left else "nothing (no comments or whitespace tokens)."))
    if unit.top_sentences:
        tops = ", ".join(f"expert {e} on line {sp.start[0] + 1} ({_pct(sh)})" for sp, e, sh in unit.top_sentences)
        lines.append(f"Where the top experts dominate: {tops}.")
    return "\n".join(lines)


def unit_hover(units: Sequence[UnitExperts], position: tuple[int, int], labels: dict[int, str] | None,
               n_experts: int) -> tuple[str, Range] | None:
    """(markdown, header range) for the unit whose header holds `position`, None elsewhere. The
    unit is compared with the file's other units of its kind (surprise median, unusualness)."""
    unit = unit_at(units, position)
    if unit is None:
        return None
    peers = [u for u in units if u.role == unit.role]
    why = unusualness(peers, n_experts).get(next(i for i, u in enumerate(peers) if u is unit))
    reason = why.reason if why is not None and why.score >= UNUSUAL_Z else None
    surprises = [u.surprise for u in peers if u.surprise is not None]
    median = float(np.median(surprises)) if surprises else None
    return hover_markdown(unit, labels, file_surprise=median, reason=reason), header_range(unit)


def unit_at(units: Sequence[UnitExperts], position: tuple[int, int]) -> UnitExperts | None:
    """The unit whose header holds (line, UTF-16 column) (the innermost when headers nest)."""
    hit = None
    for u in units:
        (sl, sc), (el, ec) = header_range(u)
        if (sl, sc) <= tuple(position) <= (el, ec):
            if hit is None or u.span.start_byte >= hit.span.start_byte:
                hit = u
    return hit


# ------------------------------------------------------------------------------ JSON / table / plot

def _json_range(r: Range) -> dict:
    (sl, sc), (el, ec) = r
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def experts_json(units: Sequence[UnitExperts], labels: dict[int, str] | None = None) -> dict:
    """Payload of `r1lsp/experts` (and `r1lsp experts --json`): units with their LSP range, name,
    kind, level, token count, shares (with labels) and top sentences."""
    labels = labels or {}
    used = sorted({e for u in units for e, _ in u.shares})
    return {
        "units": [{
            "range": _json_range(unit_range(u.span)),
            "name": u.span.name, "kind": u.span.kind, "level": Level(u.level).name.lower(),
            "role": u.role, "tokens": u.tokens, "comments": u.comments, "whitespace": u.whitespace,
            "surprise": None if u.surprise is None else round(u.surprise, 3),
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
        rows.append((f"{sl + 1}-{el + 1}", unit_title(u.span, u.role), str(u.tokens),
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
    names = [f"{u.span.start[0] + 1}: {unit_title(u.span, u.role)}"[:48] for u in units] or [""]
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


__all__ = ["DIAGNOSTIC_CODE", "DIAGNOSTIC_SOURCE", "DiagnosticContent", "LABELS_FILE", "RelatedInfo",
           "diagnostic_content", "diagnostic_message", "expert_name", "experts_json", "experts_table", "header_range",
           "heatmap", "hover_markdown", "labels_from_file", "load_expert_labels", "related_information", "unit_at",
           "unit_hover", "unit_title", "weights_digest"]
