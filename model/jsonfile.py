"""Reading the JSON files that sit beside weights (config.json, card.json, tokenizer_config.json ...)."""
from __future__ import annotations

import json
from pathlib import Path


def read_json_object(path, error: type[Exception] = ValueError, *, missing_ok: bool = False) -> dict:
    """The JSON object in `path`. A missing file gives {} when `missing_ok`, else `error`; bad
    JSON or a non-object always raise `error` naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        if missing_ok:
            return {}
        raise error(f"{path}: missing file") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: bad JSON ({e})") from e
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object")
    return data
