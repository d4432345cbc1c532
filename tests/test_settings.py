from r1lsp.settings import Settings, merge_settings, settings_to_dict


def test_defaults_round_trip_as_camel_case():
    d = settings_to_dict(Settings())
    assert d["model"]["maxTokens"] == 48
    assert d["features"]["inlineCompletion"] is True
    assert d["diagnostics"]["severity"] == "hint" and d["diagnostics"]["mode"] == "all"


def test_camel_and_snake_keys_merge_onto_base():
    s, errors = merge_settings(Settings(), {"model": {"maxTokens": 16, "device": "CPU"},
                                            "features": {"inline_completion": False}})
    assert errors == []
    assert s.model.max_tokens == 16
    assert s.model.device == "cpu"
    assert s.features.inline_completion is False
    assert s.features.completion is True  # untouched keys keep their values


def test_section_wrapper_is_unwrapped():
    s, errors = merge_settings(Settings(), {"r1lsp": {"diagnostics": {"severity": "hint"}}})
    assert errors == []
    assert s.diagnostics.severity == "hint"


def test_bad_values_are_reported_and_previous_kept():
    base, _ = merge_settings(Settings(), {"model": {"maxTokens": 20}})
    s, errors = merge_settings(base, {"model": {"maxTokens": -3, "device": "tpu", "quantization": "int8"},
                                      "features": {"completion": "yes"}, "bogus": 1})
    assert s.model.max_tokens == 20
    assert s.model.device == "auto"
    assert s.features.completion is True
    text = "\n".join(errors)
    assert "r1lsp.model.maxTokens = -3 is not an integer from 1 to 1024; keeping 20" in text
    assert "r1lsp.model.device = 'tpu' is not one of 'auto', 'cpu', 'cuda'" in text
    assert "r1lsp.features.completion = 'yes' is not true or false" in text
    assert "unknown setting bogus" in text
    assert len(errors) == 4


def test_model_path_accepts_string_or_null():
    s, errors = merge_settings(Settings(), {"model": {"path": "/tmp/ckpt"}})
    assert not errors and s.model.path == "/tmp/ckpt"
    s, errors = merge_settings(s, {"model": {"path": None}})
    assert not errors and s.model.path is None


def test_non_object_settings_are_refused():
    s, errors = merge_settings(Settings(), ["not", "an", "object"])
    assert s == Settings()
    assert errors and "must be a JSON object" in errors[0]
    assert merge_settings(Settings(), None) == (Settings(), [])


def test_model_threads_setting():
    s, errors = merge_settings(Settings(), {"model": {"threads": 4}})
    assert s.model.threads == 4 and not errors
    s, errors = merge_settings(s, {"model": {"threads": -1}})
    assert s.model.threads == 4
    assert len(errors) == 1 and "r1lsp.model.threads = -1 is not an integer from 0 to 256; keeping 4" in errors[0]


def _leaves(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_every_server_setting_is_contributed_by_the_vscode_extension():
    """A setting the server reads but the extension does not declare cannot be set in VS Code's
    settings UI (and the extension would not forward it)."""
    import json
    from pathlib import Path

    pkg = json.loads((Path(__file__).parent.parent / "editor-client/package.json").read_text())
    declared = pkg["contributes"]["configuration"]["properties"]
    for key, default in _leaves(settings_to_dict(Settings())).items():
        assert f"r1lsp.{key}" in declared, f"r1lsp.{key} missing from editor-client/package.json"
        if default is not None:
            assert declared[f"r1lsp.{key}"]["default"] == default, key
