"""Prices from litellm's price map, read offline from the JSON file litellm ships.

Reading the file directly takes tens of milliseconds; `import litellm` takes seconds, so it is
only the fallback when the file cannot be found.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from pathlib import Path
from typing import Any

from roundhouse.daemon.models import ModelInfo, Usage
from roundhouse.daemon.spend.settings import Price

log = logging.getLogger(__name__)
PRICE_FILE = "model_prices_and_context_window_backup.json"


def _load_map() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / PRICE_FILE
        if path.exists():
            return dict(json.loads(path.read_text(encoding="utf-8")))
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # slow; only when the shipped file moved

    return dict(litellm.model_cost)


class PriceMap:
    """US dollars per token for a model, by its Roundhouse id or the provider's name."""

    def __init__(self, overrides: dict[str, Price] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self._map: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._resolved: dict[str, tuple[float, float] | None] = {}
        self._warned: set[str] = set()

    def load(self) -> None:
        with self._lock:
            if self._map is None:
                try:
                    self._map = _load_map()
                except Exception as exc:  # a missing price map must not break requests
                    log.warning("spend: litellm price map unavailable (%s); cloud costs count as 0", exc)
                    self._map = {}

    @property
    def loaded(self) -> bool:
        return self._map is not None

    def per_token(self, name: str) -> tuple[float, float] | None:
        """(input, output) dollars per token, or None when the model has no known price."""
        if name in self.overrides:
            price = self.overrides[name]
            return price.input_per_mtok / 1e6, price.output_per_mtok / 1e6
        if name in self._resolved:
            return self._resolved[name]
        self.load()
        assert self._map is not None
        found = None
        for key in _candidates(name):
            entry = self._map.get(key)
            if entry and "input_cost_per_token" in entry:
                found = (float(entry["input_cost_per_token"]), float(entry.get("output_cost_per_token", 0.0)))
                break
        if found is None:
            found = self._by_prefix(name)
        self._resolved[name] = found
        return found

    def _by_prefix(self, name: str) -> tuple[float, float] | None:
        """`claude-3-5-haiku-latest` → the newest dated `claude-3-5-haiku-2024...` entry, the
        provider's own first, a reseller's (same list price) otherwise."""
        assert self._map is not None
        provider = name.split("/", 1)[0] if "/" in name else ""
        bare = name.split("/", 1)[-1].removesuffix("-latest")
        if len(bare) < 4:
            return None
        matches = [
            (entry.get("litellm_provider") != provider, key)
            for key, entry in self._map.items()
            if isinstance(entry, dict)
            and (key.split("/", 1)[-1].startswith(bare + "-") or f".{bare}-" in key)
            and "input_cost_per_token" in entry
            and entry.get("mode", "chat") == "chat"
        ]
        if not matches:
            return None
        # Own provider first; then the newest date, which sorts last.
        _, key = sorted(matches, key=lambda m: (m[0], [-ord(c) for c in m[1]]))[0]
        entry = self._map[key]
        return float(entry["input_cost_per_token"]), float(entry.get("output_cost_per_token", 0.0))

    def cost(self, model: ModelInfo, usage: Usage) -> float:
        if model.local:
            return 0.0
        price = None
        for name in (model.id, model.native):
            price = self.per_token(name)
            if price is not None:
                break
        if price is None:
            if model.id not in self._warned:
                self._warned.add(model.id)
                log.warning("spend: no price known for %s; its requests count as $0", model.id)
            return 0.0
        return usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]

    def reference_cost(self, reference: str, tokens_in: int, tokens_out: int) -> float:
        price = self.per_token(reference)
        if price is None:
            return 0.0
        return tokens_in * price[0] + tokens_out * price[1]


def _candidates(name: str) -> list[str]:
    out = [name]
    if "/" in name:
        provider, bare = name.split("/", 1)
        out.append(bare)
        if provider == "gemini":
            out.append(f"gemini/{bare}")
    return out
