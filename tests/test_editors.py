"""Smoke tests in real editors: Neovim (0.7, vim.lsp.start_client) and Emacs (28, eglot 1.9).

Each editor runs a headless script from tests/editors/ that starts `python -m r1lsp serve`
with this interpreter, opens a Java file, asks for completions and code actions, runs the
translation, and waits (bounded, inside the editor) for expert diagnostics from a small
random checkpoint. The script prints one "ok: ID …" / "FAIL: ID …" line per check and exits
non-zero when a check failed. Skipped when the editor is not installed
(`apt-get install -y neovim elpa-eglot emacs-nox`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EDITORS = Path(__file__).parent / "editors"
TIMEOUT_S = 90  # whole editor run; each wait inside the scripts is bounded by R1LSP_TIMEOUT_MS

def _eglot_installed() -> bool:
    return any(Path("/usr/share/emacs/site-lisp/elpa").glob("eglot-*")) or bool(
        list(Path("/usr/share/emacs").glob("*/lisp/progmodes/eglot.el*")))


def _run_editor(editor: str, argv: list[str], workspace: Path, checkpoint: Path) -> None:
    java = workspace / "Counter.java"
    shutil.copy(EDITORS / "Counter.java", java)
    env = dict(os.environ, R1LSP_PYTHON=sys.executable, R1LSP_JAVA_FILE=str(java),
               R1LSP_CHECKPOINT=str(checkpoint), R1LSP_TIMEOUT_MS="45000", HOME=str(workspace.parent))
    proc = subprocess.run(argv, cwd=workspace, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    out = proc.stdout
    report = f"{editor} exited {proc.returncode}\n--- stdout\n{out}\n--- stderr (tail)\n{proc.stderr[-3000:]}"
    passed = set(re.findall(r"^ok: ([\w-]+)", out, re.M))
    failed = set(re.findall(r"^FAIL: ([\w-]+)", out, re.M))
    expected = {"initialize", "completion", "code-action-method", "code-action-file", "translate-method",
                "translate-whole-file", "diagnostics", "diagnostics-source", "diagnostics-shown"}
    missing = expected - passed - failed
    assert not missing, f"checks that never reported: {sorted(missing)}\n{report}"
    assert not failed, report
    assert proc.returncode == 0 and "VERDICT: pass" in out, report


@pytest.mark.skipif(shutil.which("nvim") is None, reason="nvim not installed (apt-get install -y neovim)")
def test_neovim_completion_code_actions_translation_and_expert_diagnostics(tmp_path, tiny_checkpoint):
    workspace = tmp_path / "nvim-ws"
    workspace.mkdir()
    _run_editor("nvim", ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n",
                         "-c", f"luafile {EDITORS / 'nvim_smoke.lua'}"], workspace, tiny_checkpoint)


@pytest.mark.skipif(shutil.which("emacs") is None or not _eglot_installed(),
                    reason="emacs + eglot not installed (apt-get install -y emacs-nox elpa-eglot)")
def test_emacs_eglot_completion_code_actions_translation_and_expert_diagnostics(tmp_path, tiny_checkpoint):
    workspace = tmp_path / "emacs-ws"
    workspace.mkdir()
    _run_editor("emacs", ["emacs", "--batch", "-Q", "-l", str(EDITORS / "emacs_smoke.el")], workspace,
                tiny_checkpoint)
