"""Settings over LSP: initializationOptions, workspace/configuration, didChangeConfiguration."""

from __future__ import annotations

import asyncio

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_support import CONFIG, as_plain, custom_request, initialize


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def wait_for_settings_applied(client: LanguageClient, origin: str) -> None:
    """Wait for the server's log line saying it applied settings from ``origin``."""
    while not any(f"settings applied from {origin}" in m.message for m in client.log_messages):
        await asyncio.wait_for(client.wait_for_notification(types.WINDOW_LOG_MESSAGE), timeout=30)


async def current(client: LanguageClient) -> dict:
    return as_plain(await custom_request(client, "r1lsp/settings", {}))


async def test_initialization_options_apply_and_bad_values_are_reported(client: LanguageClient):
    await initialize(client, "visual-studio-code", {
        "model": {"maxTokens": 12, "device": "quantum"},
        "features": {"inlineCompletion": False},
    })
    settings = await current(client)
    assert settings["model"]["maxTokens"] == 12
    assert settings["model"]["device"] == "auto"  # the bad value was refused, default kept
    assert settings["features"]["inlineCompletion"] is False
    assert any("r1lsp.model.device = 'quantum'" in m.message and m.type == types.MessageType.Warning
               for m in client.messages)


async def test_did_change_configuration_with_settings(client: LanguageClient):
    await initialize(client, "visual-studio-code")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"r1lsp": {"diagnostics": {"severity": "hint", "sentences": True}}})
    )
    await wait_for_settings_applied(client, "didChangeConfiguration")
    settings = await current(client)
    assert settings["diagnostics"] == {"severity": "hint", "sentences": True, "mode": "all", "debounceMs": 300}


async def test_configuration_is_pulled_when_the_change_carries_none(client: LanguageClient):
    await initialize(client, "neovim")
    client.set_configuration({"model": {"quantization": "none", "maxTokens": 7}}, section="r1lsp")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for_settings_applied(client, "workspace/configuration")
    settings = await current(client)
    assert settings["model"]["quantization"] == "none"
    assert settings["model"]["maxTokens"] == 7
