"""The router: gathers the signals of a request, asks the pure policy, and keeps the record."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from roundhouse.daemon.agents.builtin.measurements import Figures, MeasurementFeed
from roundhouse.daemon.models import ChatRequest, ModelInfo
from roundhouse.daemon.routing import policy
from roundhouse.daemon.routing.complexity import EMBED_CHARS, ComplexityClassifier, KnnIndex, shipped_examples
from roundhouse.daemon.routing.fallback import FallbackPolicy, estimate_tokens
from roundhouse.daemon.routing.masking import can_mask
from roundhouse.daemon.routing.measured import MeasuredTiers
from roundhouse.daemon.routing.patching import deep_merge
from roundhouse.daemon.routing.privacy import PrivacyDetector
from roundhouse.daemon.routing.route import Route, RoutingError, Target
from roundhouse.daemon.routing.settings import TIERS, RoutingSettings
from roundhouse.daemon.routing.sticky import StickyPrivacy
from roundhouse.daemon.routing.storage import RoutingStore
from roundhouse.daemon.routing.tiers import tier_map
from roundhouse.daemon.routing.vectors import shipped_vectors

log = logging.getLogger(__name__)
RESIDENCY_TTL_S = 2.0
# Vectors of the shipped examples per embedder model, shared by every router in the process
# (they only depend on the shipped file; daemons also keep them in the database).
_shipped_vectors: dict[str, dict[str, np.ndarray]] = {}


_UNLISTED = ("gathered", "prompt")  # Decision fields the control API does not list as they are
# Old decisions are let go in batches, once the list is this far past its limit.
TRIM_SLACK = 64


@dataclass(slots=True)
class Decision:
    """One routing decision as the control API lists it (no prompt text)."""

    request_id: str
    ts: float
    app: str
    model_asked: str
    model: str
    backend: str
    tier: str | None
    private: bool
    cascade: bool
    reasons: list[str]
    fallbacks: list[str]
    decision_ms: float
    # Kept as gathered and put in the listed form only when someone reads it.
    gathered: policy.Signals
    # What feedback on this decision learns from; in memory only, never listed.
    prompt: str = ""

    @property
    def signals(self) -> dict[str, Any]:
        gathered = self.gathered
        verdict = gathered.verdict
        return {
            "privacy": sorted(set(gathered.private_kinds)),
            "masked": sorted(set(gathered.masked_kinds)),
            "sticky": gathered.sticky,
            "complexity": verdict.as_dict() if verdict is not None else None,
            "tokens_estimate": gathered.tokens,
            "budget": gathered.budget_block,
            "loaded": sorted(gathered.loaded),
            "unavailable": sorted(gathered.unavailable),
        }

    def as_dict(self) -> dict[str, Any]:
        listed = {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in _UNLISTED}
        listed["signals"] = self.signals
        return listed


class PolicyRouter:
    VIRTUAL = policy.VIRTUAL

    def __init__(
        self,
        *,
        catalog: Any,
        settings: RoutingSettings,
        store: RoutingStore | None = None,
        embedder: Any | None = None,
        residency: Callable[[], Any] | None = None,
        spend: Callable[[], Any] | None = None,
        on_exhausted: Callable[[], str] | None = None,
        measurements: MeasurementFeed | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.embedder = embedder
        self._residency = residency or (lambda: None)
        self._spend = spend or (lambda: None)
        self._on_exhausted = on_exhausted or (lambda: "local")
        self.file_settings = settings
        self._patch: dict[str, Any] = {}
        self.settings = settings
        self.detector = PrivacyDetector()
        self.fallback = FallbackPolicy()
        self.classifier = ComplexityClassifier(None, k=settings.knn_k)
        self.sticky = StickyPrivacy()
        self._apply_settings(settings)
        self._decisions: dict[str, Decision | tuple[Any, ...]] = {}  # oldest first
        self._plan_cache: tuple[tuple[Any, ...], Any] | None = None
        self._loaded: frozenset[str] = frozenset()
        self._loaded_at = 0.0
        self._loaded_task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self.measurements = measurements
        self.measured: Figures = {}

    # settings ------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.settings.mode

    def _apply_settings(self, settings: RoutingSettings) -> None:
        self.settings = settings
        privacy = settings.privacy
        self.detector = PrivacyDetector(
            secrets=privacy.secrets,
            personal_data=privacy.personal_data,
            keywords=privacy.keywords,
            patterns=privacy.patterns,
        )
        self.fallback.retries = settings.retries
        self.fallback.backoff_s = settings.backoff_s
        self.fallback.cooldown_s = settings.cooldown_s
        self.fallback.failures_before_cooldown = settings.failures_before_cooldown
        self.classifier.k = settings.knn_k

    async def update_policy(self, patch: dict[str, Any]) -> RoutingSettings:
        """Merge `patch` into the runtime edits, validate, apply and persist. Raises
        pydantic.ValidationError on bad input (the API answers 422)."""
        merged_patch = deep_merge(self._patch, patch)
        settings = RoutingSettings.model_validate(deep_merge(self.file_settings.model_dump(), merged_patch))
        self._patch = merged_patch
        self._apply_settings(settings)
        if self.store is not None:
            await self.store.save_policy_patch(merged_patch)
        return settings

    async def reset_policy(self) -> RoutingSettings:
        self._patch = {}
        self._apply_settings(self.file_settings)
        if self.store is not None:
            await self.store.clear_policy_patch()
        return self.settings

    # measured tiers ------------------------------------------------------------------------
    def use_measurements(self, figures: Figures) -> None:
        """The performance analyst's latest figures per model (the feed calls this after each run)."""
        self.measured = dict(figures)

    async def refresh_measurements(self) -> None:
        if self.measurements is not None:
            self.use_measurements(await self.measurements.latest())

    def _tier_plan(
        self, settings: RoutingSettings
    ) -> tuple[list[ModelInfo], MeasuredTiers, list[str], dict[str, list[ModelInfo]]]:
        """The models, measured tiers and tier map: derived once per catalog snapshot, settings
        and figures, not on every request."""
        key = (self.catalog.generation, settings, self.measured)
        cached = self._plan_cache
        if (
            cached is not None
            and cached[0][0] == key[0]
            and cached[0][1] is settings
            and cached[0][2] is key[2]
        ):
            return cached[1]
        models = self.catalog.models()
        measured = self._measured_tiers(models, settings)
        plan = (
            models,
            measured,
            measured.open_tiers(settings.tiers),
            tier_map(models, measured.fill(settings.tiers)),
        )
        self._plan_cache = (key, plan)
        return plan

    def _measured_tiers(self, models: list[ModelInfo], settings: RoutingSettings) -> MeasuredTiers:
        if not settings.measured_tiers or not self.measured:
            return MeasuredTiers()
        local = {m.id for m in models if m.local and m.kind == "chat" and not m.virtual}
        figures = {model: row for model, row in self.measured.items() if model in local}
        return MeasuredTiers.from_figures(figures, settings.measured_min_quality)

    # life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.measurements is not None:
            await self.measurements.start(self.use_measurements)
        if self.store is not None:
            patch = self.store.policy_patch()
            if patch:
                try:
                    merged = deep_merge(self.file_settings.model_dump(), patch)
                    self._apply_settings(RoutingSettings.model_validate(merged))
                    self._patch = patch
                except ValueError as exc:
                    log.warning("routing: ignoring saved policy edits that no longer validate: %s", exc)
            self.sticky = StickyPrivacy(self.store.private_keys())
        if self.embedder is not None and self.settings.knn and self._warm_task is None:
            self._warm_task = asyncio.create_task(self._warm())

    async def ready(self) -> None:
        """Wait until the k-NN index is built (tests, benches and the CLI use this)."""
        if self._warm_task is None and self.embedder is not None and self.settings.knn:
            self._warm_task = asyncio.create_task(self._warm())
        if self._warm_task is not None:
            await self._warm_task

    async def stop(self) -> None:
        for task in (self._warm_task, self._loaded_task):
            if task is not None and not task.done():
                task.cancel()
        if self.measurements is not None:
            await self.measurements.stop()

    async def _warm(self) -> None:
        try:
            self.classifier.index = await asyncio.to_thread(self._build_index)
        except Exception:
            log.exception("routing: k-NN index could not be built; deciding by rules only")

    def _build_index(self) -> KnnIndex:
        assert self.embedder is not None
        examples = shipped_examples()
        texts = [e.text[:EMBED_CHARS] for e in examples]
        model_id = getattr(self.embedder, "model_id", "embedder")
        cached = dict(_shipped_vectors.get(model_id, {}))
        if len(cached) < len(set(texts)):
            cached.update(shipped_vectors(model_id))
        if self.store is not None and len(cached) < len(set(texts)):
            cached.update(self.store.cached_vectors(model_id, texts))
        missing = [t for t in dict.fromkeys(texts) if t not in cached]
        if missing:
            fresh = self.embedder.encode(missing)
            new = dict(zip(missing, fresh, strict=True))
            cached.update(new)
            if self.store is not None:
                self.store.save_vectors(model_id, new)
        _shipped_vectors[model_id] = {t: cached[t] for t in texts}
        vectors = [cached[t] for t in texts]
        tiers = [e.tier for e in examples]
        if self.store is not None:
            for _text, tier, vector in self.store.learned():
                vectors.append(vector)
                tiers.append(tier)
        return KnnIndex(np.vstack(vectors), tiers)

    # the decision --------------------------------------------------------------------------
    def virtual_models(self) -> list[ModelInfo]:
        descriptions = {
            "auto": "Roundhouse decides: local for easy and private work, cloud for hard work when allowed",
            "local": "the best available local model for the prompt",
            "private": "local only, never the cloud, whatever the content",
            "cloud": "the best cloud model within budget",
        }
        return [
            ModelInfo(
                id=name,
                backend="router",
                native=name,
                local=name != "cloud",
                virtual=True,
                description=descriptions[name],
            )
            for name in self.VIRTUAL
        ]

    async def decide(self, request: ChatRequest, *, dry_run: bool = False) -> Route:
        route, _signals, _ms = await self.decide_with_signals(request, dry_run=dry_run)
        return route

    async def decide_with_signals(
        self, request: ChatRequest, *, dry_run: bool = False
    ) -> tuple[Route, policy.Signals, float]:
        started = time.perf_counter()
        await self.catalog.refresh(wait=False)
        settings = self.settings
        asked = request.model
        explicit: ModelInfo | None = None
        if asked not in self.VIRTUAL:
            target = self.catalog.resolve(asked)
            if target is None or target.model.kind != "chat":
                names = ", ".join(
                    m.id for m in self.virtual_models() + self.catalog.models() if m.kind == "chat"
                )
                raise RoutingError(
                    f"model '{asked}' not found; available: {names}",
                    status=404,
                    kind="model_not_found",
                    param="model",
                )
            explicit = target.model

        kinds = self.detector.kinds_in(request.texts()) if settings.privacy.enabled else []
        masked: list[str] = []
        if kinds and settings.privacy.mode == "mask" and can_mask(kinds):
            masked, kinds = kinds, []  # the gateway masks them on the way to a cloud model
        sticky = self.sticky.is_sticky(request)
        # A local model asked for by name: how hard the prompt is, what the budget allows and
        # what is loaded cannot change where it goes, so none of them is looked up.
        named_local = explicit is not None and explicit.local
        verdict = None
        if not named_local:
            prompt = request.last_user_text() or request.text()
            vector = await self._embed(prompt) if explicit is None else None
            verdict = self.classifier.classify(prompt, vector)
        models, measured, from_measurements, tiers = self._tier_plan(settings)
        unavailable, cloud_healthy = self._availability(models)
        signals = policy.Signals(
            asked=asked,
            app=request.app,
            private_kinds=kinds,
            masked_kinds=masked,
            sticky=sticky,
            verdict=verdict,
            tokens=estimate_tokens(request),
            budget_block=None if named_local else self._budget_block(request.app),
            loaded=frozenset() if named_local else await self._loaded_models(),
            unavailable=unavailable,
            cloud_healthy=cloud_healthy,
            leaders={tier: measured.leaders[tier] for tier in from_measurements},
        )
        on_exhausted = "refuse" if self._on_exhausted() == "refuse" else "local"
        plan = policy.decide(signals, settings, tiers, explicit=explicit, on_exhausted=on_exhausted)
        if (
            explicit is None
            and plan.tier in from_measurements
            and plan.model.id in measured.ranked[plan.tier]
        ):
            plan.reasons.append(measured.reason(plan.tier, plan.model.id))
        route = Route(
            target=self._target(plan.model),
            tier=plan.tier,
            reasons=plan.reasons,
            fallbacks=[self._target(m) for m in plan.fallbacks],
            private=plan.private,
            cascade=plan.cascade,
        )
        if route.private:  # the policy guarantees it; this keeps it true whatever changes there
            route.fallbacks = [t for t in route.fallbacks if t.model.local]
            if not route.model.local:
                raise RoutingError("internal error: a private request was routed off the machine", status=500)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not dry_run:
            if route.private:
                fresh = self.sticky.remember(request)
                if self.store is not None:
                    self.store.save_private_keys(fresh)
            # Kept for the decision list on the loop's next turn, while the backend works: the
            # request is on its way by then (a control request made later is served after it).
            asyncio.get_running_loop().call_soon(self._record, request, route, signals, elapsed_ms)
        return route, signals, elapsed_ms

    def _target(self, model: ModelInfo) -> Target:
        backend = self.catalog.backends.get(model.backend)
        if backend is None:
            raise RoutingError(
                f"backend '{model.backend}' of {model.id} is gone", status=503, kind="no_backend"
            )
        return Target(model, backend)

    async def _embed(self, prompt: str) -> np.ndarray | None:
        if not self.settings.knn or self.embedder is None or self.classifier.index is None:
            return None
        vectors = await self.embedder.embed([prompt[:EMBED_CHARS]])
        return vectors[0] if len(vectors) else None

    def _budget_block(self, app: str) -> str | None:
        spend = self._spend()
        check = getattr(spend, "budget_block", None)
        if not callable(check):
            return None
        result = check(app)
        return str(result) if result else None

    def _availability(self, models: list[ModelInfo]) -> tuple[frozenset[str], bool]:
        """The models whose backend is down or cooling, and whether any cloud backend is up."""
        health = getattr(self.catalog, "health", None) or {}
        down = {name for name, h in health.items() if not getattr(h, "ok", True)}
        cooling = self.fallback.cooling_keys()
        if not down and not cooling:  # the usual case: no need to look at every model
            return frozenset(), True
        unavailable = frozenset(
            model.id
            for model in models
            if model.backend in down or FallbackPolicy.key_for(model.backend, model.id) in cooling
        )
        clouds = [b.name for b in self.catalog.backends.values() if not b.local]
        return unavailable, not clouds or any(name not in down for name in clouds)

    async def _loaded_models(self) -> frozenset[str]:
        """What residency reports as loaded, refreshed in the background every few seconds."""
        if time.monotonic() - self._loaded_at > RESIDENCY_TTL_S and (
            self._loaded_task is None or self._loaded_task.done()
        ):
            self._loaded_task = asyncio.create_task(self._refresh_loaded())
            if self._loaded_at == 0.0:
                try:
                    await asyncio.wait_for(asyncio.shield(self._loaded_task), 0.25)
                except TimeoutError:
                    pass
        return self._loaded

    async def _refresh_loaded(self) -> None:
        residency = self._residency()
        status = getattr(residency, "status", None)
        loaded: set[str] = set()
        if callable(status):
            try:
                report = await status()
            except Exception as exc:
                log.debug("residency status failed: %s", exc)
                report = {}
            for item in (report or {}).get("loaded", []) or []:
                if isinstance(item, str):
                    loaded.add(item)
                elif isinstance(item, dict) and item.get("id"):
                    loaded.add(str(item["id"]))
                elif getattr(item, "id", None):
                    loaded.add(str(item.id))
        self._loaded = frozenset(loaded)
        self._loaded_at = time.monotonic()

    # the record ----------------------------------------------------------------------------
    def _record(self, request: ChatRequest, route: Route, signals: policy.Signals, ms: float) -> None:
        # Kept as a tuple in Decision's field order: made a Decision only when someone reads it.
        self._decisions[request.request_id] = (
            request.request_id,
            request.received_at,
            request.app,
            request.model,
            route.model.id,
            route.backend.name,
            route.tier,
            route.private,
            route.cascade,
            list(route.reasons),
            [t.model.id for t in route.fallbacks],
            round(ms, 3),
            signals,
            request.last_user_text() or request.text(),
        )
        # This runs while the backend works (see `decide_with_signals`), so trimming here costs
        # the request nothing.
        if len(self._decisions) > self.settings.recent_decisions + TRIM_SLACK:
            self._trim_decisions()

    def _trim_decisions(self) -> None:
        decisions = self._decisions
        for request_id in list(decisions)[: max(0, len(decisions) - self.settings.recent_decisions)]:
            del decisions[request_id]

    def recent(self, limit: int = 50, app: str | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        limit = min(limit, self.settings.recent_decisions)  # a few more may wait to be let go
        for request_id in reversed(self._decisions):
            decision = self.decision(request_id)
            if decision is not None and (app is None or decision.app == app):
                rows.append(decision.as_dict())
                if len(rows) >= limit:
                    break
        return rows

    def decision(self, request_id: str) -> Decision | None:
        entry = self._decisions.get(request_id)
        if entry is None or isinstance(entry, Decision):
            return entry
        decision = Decision(*entry)
        self._decisions[request_id] = decision
        return decision

    # feedback ------------------------------------------------------------------------------
    async def feedback(self, request_id: str, verdict: str, tier: str | None = None) -> dict[str, Any]:
        """Learn from a user's judgement of a routed request. `good` confirms the tier, `bad`
        moves it one tier up, an explicit `tier` says where it should have gone."""
        decision = self.decision(request_id)
        if decision is None:
            raise KeyError(request_id)
        text = decision.prompt
        if verdict not in ("good", "bad"):
            raise ValueError("verdict must be 'good' or 'bad'")
        if tier is not None and tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}")
        decided = decision.tier if decision.tier in TIERS else None
        if tier is not None:
            label = tier
        elif verdict == "good":
            label = decided
        else:
            label = TIERS[min(TIERS.index(decided) + 1, len(TIERS) - 1)] if decided else None
        learned = False
        if label is not None and self.embedder is not None:
            stored_text = self.detector.redact(text)[:EMBED_CHARS]
            vector = (await self.embedder.embed([stored_text]))[0]
            if self.classifier.index is not None:
                self.classifier.index.add(vector.reshape(1, -1), [label])
            if self.store is not None:
                await self.store.add_example(stored_text, label, vector, request_id)
            learned = True
        if self.store is not None:
            await self.store.add_feedback(
                {
                    "request_id": request_id,
                    "ts": time.time(),
                    "app": decision.app,
                    "verdict": verdict,
                    "decided_tier": decision.tier,
                    "label_tier": label,
                }
            )
        return {
            "request_id": request_id,
            "decided_tier": decision.tier,
            "learned_tier": label,
            "learned": learned,
        }
