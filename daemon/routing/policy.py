"""The routing policy as a pure function: signals and the user's models in, a plan out.

No I/O happens here, which is what keeps a decision in the sub-millisecond range and makes
every rule unit-testable: the router gathers the signals, this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from roundhouse.daemon.models import ModelInfo
from roundhouse.daemon.routing.complexity import Verdict
from roundhouse.daemon.routing.fallback import fits
from roundhouse.daemon.routing.route import RoutingError
from roundhouse.daemon.routing.settings import LOCAL_TIERS, AppPolicy, RoutingSettings
from roundhouse.daemon.routing.tiers import parameter_count

VIRTUAL = ("auto", "local", "private", "cloud")
# Where to look when a tier has no usable model: nearest first, trivial work never climbs first.
_LOCAL_SEARCH = {
    "fast": ("fast", "balanced", "reasoning"),
    "balanced": ("balanced", "reasoning", "fast"),
    "reasoning": ("reasoning", "balanced", "fast"),
    "cloud": ("reasoning", "balanced", "fast"),
}

_NO_APP_RULES = AppPolicy()  # for apps the settings say nothing about (read only)


@dataclass(slots=True)
class Signals:
    asked: str
    app: str = "unknown"
    private_kinds: list[str] = field(default_factory=list)
    masked_kinds: list[str] = field(default_factory=list)  # found, and masked for any cloud model
    sticky: bool = False
    verdict: Verdict | None = None
    tokens: int = 0
    budget_block: str | None = None  # why cloud spend is not allowed now, or None
    loaded: frozenset[str] = frozenset()
    unavailable: frozenset[str] = frozenset()  # model ids whose backend is down or cooling
    cloud_healthy: bool = True
    # Tiers ranked by measurement: only these leading model ids may swap places for residency.
    leaders: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Plan:
    model: ModelInfo
    tier: str | None
    reasons: list[str]
    fallbacks: list[ModelInfo] = field(default_factory=list)
    private: bool = False
    cascade: bool = False


def decide(
    signals: Signals,
    settings: RoutingSettings,
    tiers: dict[str, list[ModelInfo]],
    *,
    explicit: ModelInfo | None = None,
    on_exhausted: Literal["local", "refuse"] = "local",
) -> Plan:
    app = settings.apps.get(signals.app) or _NO_APP_RULES
    reasons: list[str] = []
    private = _privacy(signals, app, reasons)
    cloud_block = _cloud_block(signals, settings, app, private)
    tier = _tier(signals, app)

    if explicit is not None:
        return _explicit(
            explicit, signals, settings, tiers, tier, private, cloud_block, on_exhausted, reasons
        )
    if signals.asked == "cloud":
        if cloud_block is not None:
            _refuse_or_reroute(cloud_block, signals, settings, on_exhausted, private)
            reasons.append(f"'cloud' rerouted to local: {cloud_block}")
            return _local_plan(signals, settings, tiers, "reasoning", private, reasons, allow_cloud=False)
        return _cloud_plan(signals, settings, tiers, tier or "cloud", reasons, "'cloud' asked")
    if signals.asked in ("local", "private"):
        reasons.append(f"'{signals.asked}': local models only")
        return _local_plan(signals, settings, tiers, tier or "balanced", private, reasons, allow_cloud=False)

    # auto
    verdict = signals.verdict
    if verdict is not None and app.default_tier is None:
        reasons.extend(verdict.reasons())
    elif app.default_tier is not None:
        reasons.append(f"app '{signals.app}' uses tier {app.default_tier}")
    wants_cloud = tier == "cloud" or (settings.mode == "cloud" and tier == "reasoning")
    if wants_cloud and cloud_block is None and tiers.get("cloud"):
        if _borderline(verdict, settings) and _has_local(tiers, signals):
            reasons.append(
                "cascade: borderline prompt, answering locally first and escalating if the answer fails"
            )
            plan = _local_plan(signals, settings, tiers, "reasoning", private, reasons, allow_cloud=True)
            first_cloud = _usable(tiers["cloud"], signals)[:1]
            plan.fallbacks = first_cloud + [m for m in plan.fallbacks if m not in first_cloud]
            plan.cascade = True
            plan.tier = "cloud"
            return plan
        return _cloud_plan(signals, settings, tiers, "cloud", reasons, f"tier {tier} goes to the cloud")
    if wants_cloud and cloud_block is not None:
        if (
            signals.budget_block is not None
            and cloud_block == signals.budget_block
            and on_exhausted == "refuse"
        ):
            raise RoutingError(
                f"budget exhausted: {signals.budget_block}; cloud requests are refused until it resets",
                status=402,
                kind="budget_exhausted",
            )
        reasons.append(f"kept local: {cloud_block}")
    elif wants_cloud:
        reasons.append("no cloud model is available")
    local_tier = tier if tier in LOCAL_TIERS else "reasoning"
    allow_cloud_fallback = cloud_block is None and settings.cloud_fallback
    return _local_plan(
        signals, settings, tiers, local_tier, private, reasons, allow_cloud=allow_cloud_fallback
    )


def _privacy(signals: Signals, app: AppPolicy, reasons: list[str]) -> bool:
    private = False
    if signals.asked == "private":
        private = True
        reasons.append("privacy: 'private' asked")
    if signals.private_kinds:
        private = True
        reasons.append("privacy: found " + ", ".join(sorted(set(signals.private_kinds))))
    if signals.masked_kinds:
        masked = ", ".join(sorted(set(signals.masked_kinds)))
        reasons.append(f"privacy: found {masked}, masked for the cloud")
    if signals.sticky:
        private = True
        reasons.append("privacy: conversation was private earlier")
    if app.private:
        private = True
        reasons.append(f"privacy: app '{signals.app}' is private by policy")
    return private


def _cloud_block(signals: Signals, settings: RoutingSettings, app: AppPolicy, private: bool) -> str | None:
    if private:
        return "private content stays local"
    if settings.mode == "local":
        return "mode is local only"
    if not app.allow_cloud:
        return f"app '{signals.app}' may not use the cloud"
    if signals.budget_block is not None:
        return signals.budget_block
    if not signals.cloud_healthy:
        return "cloud backend is unavailable"
    return None


def _tier(signals: Signals, app: AppPolicy) -> str | None:
    if app.default_tier is not None:
        return app.default_tier
    return signals.verdict.tier if signals.verdict is not None else None


def _borderline(verdict: Verdict | None, settings: RoutingSettings) -> bool:
    if not settings.cascade.enabled or verdict is None:
        return False
    ranked = sorted(verdict.scores.items(), key=lambda item: item[1], reverse=True)
    return ranked[0][0] == "cloud" and verdict.margin < settings.cascade.margin


def _refuse_or_reroute(
    block: str,
    signals: Signals,
    settings: RoutingSettings,
    on_exhausted: Literal["local", "refuse"],
    private: bool,
) -> None:
    if private and settings.on_private_cloud == "refuse":
        raise RoutingError(
            f"'{signals.asked}' is a cloud model and this request is private ({block}); use a local model",
            status=403,
            kind="private_content",
            param="model",
        )
    if block == "mode is local only" and settings.on_cloud_blocked == "refuse":
        raise RoutingError(
            "cloud models are disabled: Roundhouse is in local-only mode", status=403, kind="cloud_disabled"
        )
    if signals.budget_block is not None and block == signals.budget_block and on_exhausted == "refuse":
        raise RoutingError(
            f"budget exhausted: {block}; cloud requests are refused until it resets",
            status=402,
            kind="budget_exhausted",
        )


def _explicit(
    model: ModelInfo,
    signals: Signals,
    settings: RoutingSettings,
    tiers: dict[str, list[ModelInfo]],
    tier: str | None,
    private: bool,
    cloud_block: str | None,
    on_exhausted: Literal["local", "refuse"],
    reasons: list[str],
) -> Plan:
    if not model.local and cloud_block is not None:
        _refuse_or_reroute(cloud_block, signals, settings, on_exhausted, private)
        reasons.append(f"'{model.id}' rerouted to local: {cloud_block}")
        return _local_plan(signals, settings, tiers, tier or "reasoning", private, reasons, allow_cloud=False)
    # A model asked for by name is the one that answers: a prompt too long for it is refused
    # with its context size (limits.py), never quietly sent to another model.
    reasons.append("explicit model")
    return Plan(model, tier, reasons, [], private)


def _usable(models: list[ModelInfo], signals: Signals) -> list[ModelInfo]:
    return [m for m in models if m.id not in signals.unavailable and fits(m, signals.tokens)]


def _has_local(tiers: dict[str, list[ModelInfo]], signals: Signals) -> bool:
    return any(_usable(tiers.get(t, []), signals) for t in LOCAL_TIERS)


def _prefer_loaded(
    models: list[ModelInfo], loaded: frozenset[str], leaders: frozenset[str] | None = None
) -> list[ModelInfo]:
    """Same tier means same quality: an already loaded model goes first (stable otherwise).
    In a tier ranked by measurement only its near-equal `leaders` are alike; the rest keep their rank."""
    if leaders is None:
        return sorted(models, key=lambda m: m.id not in loaded)
    head = [m for m in models if m.id in leaders]
    return sorted(head, key=lambda m: m.id not in loaded) + [m for m in models if m.id not in leaders]


def _local_plan(
    signals: Signals,
    settings: RoutingSettings,
    tiers: dict[str, list[ModelInfo]],
    tier: str,
    private: bool,
    reasons: list[str],
    *,
    allow_cloud: bool,
) -> Plan:
    ordered: list[ModelInfo] = []
    chosen_tier = tier
    for candidate_tier in _LOCAL_SEARCH[tier]:
        usable = [m for m in _usable(tiers.get(candidate_tier, []), signals) if m not in ordered]
        if usable and not ordered:
            chosen_tier = candidate_tier
        ordered.extend(_prefer_loaded(usable, signals.loaded, signals.leaders.get(candidate_tier)))
    if tier == "fast" and ordered and chosen_tier != "fast":
        # Trivial work and no fast model: rather a model already in memory, else the smallest;
        # never load a large model just for it.
        ordered.sort(key=lambda m: (m.id not in signals.loaded, parameter_count(m)))
        chosen_tier = next(t for t in _LOCAL_SEARCH["fast"] if ordered[0] in tiers.get(t, []))
    if not ordered:
        everything = [m for t in LOCAL_TIERS for m in tiers.get(t, []) if m.id not in signals.unavailable]
        if everything:
            biggest = max(everything, key=lambda m: m.context_length)
            reasons.append(f"context: no local model fits about {signals.tokens} tokens; trying {biggest.id}")
            ordered = [biggest]
        else:
            detail = "no local model is available"
            if any(tiers.get(t) for t in LOCAL_TIERS):
                detail = "every local model is unavailable (backend down or cooling down after failures)"
            raise RoutingError(detail, status=503, kind="no_local_model")
    primary, rest = ordered[0], ordered[1:]
    if chosen_tier != tier:
        reasons.append(f"no {tier} model available; using the {chosen_tier} tier")
    if primary.id in signals.loaded:
        reasons.append(f"residency: {primary.id} is already loaded")
    reasons.append(f"local: {primary.id}")
    fallbacks = list(rest)
    if allow_cloud and not private:
        fallbacks.extend(m for m in _usable(tiers.get("cloud", []), signals) if m not in fallbacks)
    return Plan(primary, chosen_tier, reasons, fallbacks, private)


def _cloud_plan(
    signals: Signals,
    settings: RoutingSettings,
    tiers: dict[str, list[ModelInfo]],
    tier: str,
    reasons: list[str],
    why: str,
) -> Plan:
    clouds = _usable(tiers.get("cloud", []), signals)
    if not clouds:
        if tiers.get("cloud"):
            detail = "every cloud model is unavailable or too small for this prompt"
        else:
            detail = "no cloud model is configured (add a provider key with `roundhoused keys set`)"
        raise RoutingError(detail, status=503, kind="no_cloud_model")
    reasons.append(f"{why}: {clouds[0].id}")
    local = [m for t in ("reasoning", "balanced", "fast") for m in _usable(tiers.get(t, []), signals)]
    fallbacks = clouds[1:] + [m for i, m in enumerate(local) if m not in local[:i]]
    return Plan(clouds[0], "cloud" if tier == "cloud" else tier, reasons, fallbacks, False)
