"""Which of the user's models serve which tier: configured lists first, the rest by size."""

from __future__ import annotations

import re

from roundhouse.daemon.models import ModelInfo
from roundhouse.daemon.routing.settings import LOCAL_TIERS, TIERS

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMBT])", re.IGNORECASE)
_MULTIPLIER = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_REASONING_NAME = re.compile(r"r1|reason|qwq|think|o1|o3|deepseek-r", re.IGNORECASE)
_CODER_NAME = re.compile(r"coder|code|starcoder|devstral|codestral", re.IGNORECASE)


def parameter_count(model: ModelInfo) -> float:
    """Parameters from `parameter_size` ("8B", "135M"), else a guess from the name or file size."""
    for source in (model.parameter_size, model.native, model.id):
        match = _SIZE.search(source or "")
        if match:
            return float(match.group(1)) * _MULTIPLIER[match.group(2).upper()]
    if model.size_bytes:
        return model.size_bytes / 0.6  # about 4.8 bits a weight in common quantisations
    return 0.0


def chat_models(models: list[ModelInfo]) -> list[ModelInfo]:
    return [m for m in models if m.kind == "chat" and not m.virtual]


def tier_map(models: list[ModelInfo], configured: dict[str, list[str]]) -> dict[str, list[ModelInfo]]:
    """Tier → models, best first. Configured ids that are not available are skipped; local
    models nobody configured are spread over the local tiers by size (one model: every tier)."""
    available = {m.id: m for m in chat_models(models)}
    by_native = {m.native: m for m in available.values()}
    mapping: dict[str, list[ModelInfo]] = {tier: [] for tier in TIERS}
    placed: set[str] = set()
    for tier in TIERS:
        for name in configured.get(tier, []):
            model = available.get(name) or by_native.get(name)
            if model is not None and model.local == (tier != "cloud"):
                mapping[tier].append(model)
                placed.add(model.id)
    local = sorted(
        (m for m in available.values() if m.local and m.id not in placed), key=parameter_count, reverse=True
    )
    configured_local = any(configured.get(t) for t in LOCAL_TIERS)
    if local and not configured_local:
        _spread(local, mapping)
    elif local:
        for model in local:  # unconfigured extras still serve, after the configured ones
            mapping[_guess_tier(model, local)].append(model)
    cloud = [m for m in available.values() if not m.local and m.id not in placed]
    mapping["cloud"].extend(cloud)
    return mapping


def _spread(local: list[ModelInfo], mapping: dict[str, list[ModelInfo]]) -> None:
    """Largest → reasoning, smallest → fast, the rest → balanced; names can override."""
    if len(local) == 1:
        for tier in LOCAL_TIERS:
            mapping[tier].append(local[0])
        return
    for model in local:
        mapping[_guess_tier(model, local)].append(model)
    for tier in LOCAL_TIERS:  # no empty local tier while any local model exists
        if not mapping[tier]:
            neighbours = {"fast": ("balanced", "reasoning"), "balanced": ("reasoning", "fast")}
            for other in neighbours.get(tier, ("balanced", "fast")):
                if mapping[other]:
                    mapping[tier].append(
                        min(mapping[other], key=parameter_count)
                        if tier == "fast"
                        else max(mapping[other], key=parameter_count)
                    )
                    break


def _guess_tier(model: ModelInfo, local_by_size: list[ModelInfo]) -> str:
    name = f"{model.id} {model.family}"
    if _REASONING_NAME.search(name):
        return "reasoning"
    if _CODER_NAME.search(name):
        return "balanced"
    if model is local_by_size[0]:
        return "reasoning"
    if model is local_by_size[-1]:
        return "fast"
    return "balanced"
