"""Pins set from the control API outlive a restart of the daemon."""

from __future__ import annotations

from pathlib import Path

from roundhouse.daemon.residency.pins import PinStore
from roundhouse.daemon.store import Store


async def test_pins_survive_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / "roundhouse.db")
    pins = PinStore(store)
    await pins.set("ollama/llama3.1:8b", True)
    await pins.set("ollama/qwen2.5:0.5b", True)
    await pins.set("ollama/qwen2.5:0.5b", False)
    store.close()

    reopened = Store(tmp_path / "roundhouse.db")
    try:
        assert PinStore(reopened).pinned() == {"ollama/llama3.1:8b"}
    finally:
        reopened.close()
