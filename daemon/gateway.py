"""The way of a request: route, cache, single-flight, residency, queue, backend, ledger.

The API faces parse into a ChatRequest, call `Gateway.open`, put `Exchange.headers` on the
response and render `Exchange.chunks` in their dialect. Everything after the parse lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from roundhouse.daemon.agents.builtin.prompts import observe
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import CacheLookup, QueueFull
from roundhouse.daemon.limits import CLAMP_HEADER, clamp_output
from roundhouse.daemon.memory.inject import inject as inject_memories
from roundhouse.daemon.models import ChatChunk, ChatRequest, ModelInfo, Usage
from roundhouse.daemon.routing import masking
from roundhouse.daemon.routing.cascade import cascade
from roundhouse.daemon.routing.deadlines import (
    TIMEOUT_KINDS,
    Deadline,
    DeadlineSettings,
    Watchdogs,
    timed_out,
)
from roundhouse.daemon.routing.route import Route, RoutingError, Target
from roundhouse.daemon.scheduling.factory import EMBEDDINGS_LANE

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)


class FallbackPolicy(Protocol):
    """What the gateway tells the router's reliability layer about each attempt, and asks it."""

    retries: int  # upstream calls a request may make after its first failed

    def is_cooling(self, target: Target) -> bool: ...

    def hung(self, target: Target) -> float: ...

    def delay(self, attempt: int) -> float: ...

    def report_failure(self, target: Target, error: BackendError) -> None: ...

    def report_success(self, target: Target) -> None: ...


@dataclass
class Exchange:
    request: ChatRequest
    route: Route
    cache: CacheLookup
    chunks: AsyncIterator[ChatChunk]
    clamped: int | None = None  # max_tokens as lowered to fit the model (see limits.py)

    @property
    def headers(self) -> dict[str, str]:
        """How the request was routed, as response headers. Read them once the first chunk is
        in: a fallback or a cascade's escalation has then named the model that answers."""
        headers = route_headers(self.route, self.request.request_id)
        headers["x-roundhouse-cache"] = self.cache.status
        if self.clamped is not None:
            headers[CLAMP_HEADER] = str(self.clamped)
        return headers


@dataclass
class Outcome:
    """What one request did, for its ledger row."""

    status: int = 200
    error_kind: str | None = None
    model_used: str | None = None
    backend: str | None = None
    usage: Usage = field(default_factory=Usage)
    ttft_ms: float | None = None
    latency_ms: float | None = None
    cascade: str | None = None


def route_headers(route: Route, request_id: str) -> dict[str, str]:
    reasons = "; ".join(route.reasons)
    return {
        "x-roundhouse-request-id": request_id,
        "x-roundhouse-route-model": route.model.id,
        "x-roundhouse-route-backend": route.backend.name,
        "x-roundhouse-route-tier": route.tier or "",
        # Header values must be latin-1; reasons are ours, but keep them safe anyway.
        "x-roundhouse-route-reasons": reasons.encode("ascii", "replace").decode()[:1000],
    }


def _fell_back(route: Route, target: Target, error: BackendError | None) -> None:
    route.reasons.append(f"fell back to {target.model.id} after: {error}")
    route.target = target


_DEFAULT_DEADLINES = DeadlineSettings()


def _missed(
    target: Target, request: ChatRequest, limits: DeadlineSettings, produced: list[ChatChunk]
) -> BackendError:
    if produced:
        return timed_out(target.model, "idle_timeout", limits.idle_s(target.model))
    return timed_out(target.model, "first_byte_timeout", limits.first_byte_s(target.model, request))


def _retry_wait(error: BackendError, last: bool, policy: FallbackPolicy | None, attempt: int) -> float | None:
    """How long to wait before calling the same target again, or None to move on to the next
    (or give up on the last). The same request is not sent again where that cannot help: a
    silent host, an internal error, an answer that made no sense."""
    if error.status == 429 and error.retry_after is not None:
        return error.retry_after
    if error.kind in TIMEOUT_KINDS or error.status == 500 or error.kind == "bad_upstream_answer":
        return None
    if not last or policy is None:
        return None
    return policy.delay(attempt)


def _refuse_if_hung(policy: FallbackPolicy, target: Target) -> None:
    """The only target left missed a deadline a moment ago: say so now, not after another wait."""
    cooling_s = policy.hung(target)
    if cooling_s > 0:
        raise BackendError(
            f"{target.model.id} did not answer in time a moment ago; it is not asked again for "
            f"{cooling_s:.0f} s",
            status=503,
            kind="cooling_down",
            retry_after=cooling_s,
        )


class Gateway:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watchdogs = Watchdogs()  # the deadlines of attempts waiting on a backend
        # Requests being answered whose ledger row is not queued yet.
        self.unfinished = 0

    def _background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _decide(self, request: ChatRequest) -> tuple[Route, int | None]:
        """The route, and max_tokens fitted to its model; a refusal leaves its ledger row."""
        started = time.perf_counter()
        try:
            route = await self.daemon.router.decide(request)
            return route, clamp_output(request, route.model, self.daemon.settings.limits.max_output_tokens)
        except RoutingError as exc:
            self.record(request, None, Outcome(status=exc.status, error_kind=exc.kind), started)
            raise

    async def open(self, request: ChatRequest) -> Exchange:
        d = self.daemon
        await inject_memories(d, request)
        route, clamped = await self._decide(request)
        route = d.fleet.place(route, d.catalog.models(), d.catalog.backends)
        route = masking.for_cloud(d.router, request, route)
        lookup = await d.cache.lookup(request, route)
        outcome = Outcome(model_used=route.model.id, backend=route.backend.name)
        if lookup.status == "hit" and lookup.chunks is not None:
            if lookup.model is not None and lookup.model != route.model.id:
                route = self._answered_by(route, lookup.model)
            source: AsyncIterator[ChatChunk] = _replay(lookup.chunks)
        elif route.cascade and route.fallbacks:
            source = d.flights.run(lookup.key, lambda: self._cascade(request, route, lookup, outcome))
        else:
            source = d.flights.run(lookup.key, lambda: self._execute(request, route, lookup))
        return Exchange(
            request=request,
            route=route,
            cache=lookup,
            chunks=self._account(request, route, lookup, source, outcome),
            clamped=clamped,
        )

    def _answered_by(self, route: Route, model: str) -> Route:
        """The route of a cached answer that another model gave (after a fallback or a
        cascade's escalation), so that the response and the ledger name that model. A copy:
        the decision list keeps what was decided."""
        reasons = [*route.reasons, f"an earlier answer of {model}, from the cache"]
        target = self.daemon.catalog.resolve(model)
        return dataclasses.replace(route, target=target or route.target, reasons=reasons)

    async def _cascade(
        self, request: ChatRequest, route: Route, lookup: CacheLookup, outcome: Outcome
    ) -> AsyncIterator[ChatChunk]:
        """Answer locally first; escalate to the route's first fallback only when a cheap check
        of the local answer fails. Only the answer the client gets is cached."""
        local = Route(target=route.target, tier=route.tier, reasons=route.reasons, private=route.private)
        escalation = Route(
            target=route.fallbacks[0], tier=route.tier, reasons=route.reasons, fallbacks=route.fallbacks[1:]
        )

        def decided(verdict: str) -> None:
            outcome.cascade = verdict
            if verdict != "kept":
                route.target = escalation.target
                route.reasons.append(f"cascade {verdict}")

        answer: list[ChatChunk] = []
        async for chunk in cascade(
            self._execute(request, local, lookup, store=False),
            lambda: self._execute(request, escalation, lookup, store=False),
            decided,
        ):
            if not answer and outcome.cascade != "kept":
                route.target = escalation.target  # the escalation may have fallen back in turn
            answer.append(chunk)
            yield chunk
        await self.daemon.cache.store(request, route, lookup, answer)

    async def _execute(
        self, request: ChatRequest, route: Route, lookup: CacheLookup, *, store: bool = True
    ) -> AsyncIterator[ChatChunk]:
        """Run on the route's target, falling back in order on retryable failures that happen
        before the first chunk, within the request's deadlines and its budget of upstream
        calls (the one attempt loop; see routing/fallback.py and routing/deadlines.py). Stores
        the whole answer in the cache when it completes."""
        d = self.daemon
        policy: FallbackPolicy | None = getattr(d.router, "fallback", None)
        routing = getattr(d.router, "settings", None)
        limits: DeadlineSettings = getattr(routing, "deadlines", None) or _DEFAULT_DEADLINES
        targets = [route.target, *route.fallbacks]
        calls_left = 1 + (policy.retries if policy is not None else 0)
        deadline = Deadline()
        last_error: BackendError | None = None
        index = same_target_retries = 0
        loop = asyncio.get_running_loop()
        while True:
            target = targets[index]
            last = index == len(targets) - 1
            if policy is not None and policy.is_cooling(target):
                if not last:
                    index += 1
                    continue
                _refuse_if_hung(policy, target)
            calls_left -= 1
            produced: list[ChatChunk] = []
            try:
                # A local model is made resident first (a load waits in line, it does not fail).
                async with (
                    d.fleet.attempt(target),
                    d.residency.hold(target, request) if target.model.local else contextlib.nullcontext(),
                    d.scheduler.slot(target.backend.name, request.priority),
                ):
                    first_at = deadline.first_chunk_at(limits, target.model, request)
                    watch = self._watchdogs.start(first_at, limits.idle_s(target.model))
                    chunks = target.backend.chat(request, target.model)
                    try:
                        while True:
                            # Only the wait on the backend is timed, not what the reader does
                            # with a chunk.
                            watch.begin(loop.time() if produced else None)
                            try:
                                chunk = await anext(chunks)
                            except StopAsyncIteration:
                                break
                            except asyncio.CancelledError:
                                if watch.missed():
                                    raise _missed(target, request, limits, produced) from None
                                raise
                            watch.waiting = False
                            if not produced and index > 0:
                                _fell_back(route, target, last_error)  # before the client sees a byte
                            produced.append(chunk)
                            yield chunk
                    finally:
                        self._watchdogs.stop(watch)
                        aclose = getattr(chunks, "aclose", None)
                        if aclose is not None:
                            await aclose()
            except BackendError as exc:
                last_error = exc
                if policy is not None:
                    policy.report_failure(target, exc)
                if produced or not exc.retryable or calls_left <= 0 or deadline.left() <= 0:
                    raise
                wait = _retry_wait(exc, last, policy, same_target_retries + 1)
                again = wait is not None and wait < deadline.left()
                if not again and last:
                    raise
                log.warning(
                    "request %s: %s failed (%s), trying %s",
                    request.request_id,
                    target.model.id,
                    exc,
                    f"again in {wait:.2g} s" if again else targets[index + 1].model.id,
                )
                if again:
                    same_target_retries += 1
                    await asyncio.sleep(wait or 0.0)  # outside the slot and the residency hold
                else:
                    index += 1
                    same_target_retries = 0
                continue
            if policy is not None:
                policy.report_success(target)
            if index > 0 and route.target is not target:  # it answered without a chunk
                _fell_back(route, target, last_error)
            if store:
                await d.cache.store(request, route, lookup, produced)
            if not target.model.local:
                # The prompt optimizer learns from redacted samples of cloud requests.
                self._background(observe(d, request, route, "".join(c.content for c in produced)))
            return

    async def _account(
        self,
        request: ChatRequest,
        route: Route,
        lookup: CacheLookup,
        source: AsyncIterator[ChatChunk],
        outcome: Outcome,
    ) -> AsyncIterator[ChatChunk]:
        started = time.perf_counter()
        completion_parts = 0
        committed: Future[None] | None = None
        self.unfinished += 1
        try:
            async for chunk in source:
                if outcome.ttft_ms is None and (chunk.content or chunk.tool_calls):
                    outcome.ttft_ms = (time.perf_counter() - started) * 1000
                if chunk.content:
                    completion_parts += 1
                if chunk.usage is not None:
                    outcome.usage = chunk.usage
                yield chunk
        except BackendError as exc:
            outcome.status, outcome.error_kind = exc.status, exc.kind
            raise
        except QueueFull:
            outcome.status, outcome.error_kind = 503, "queue_full"
            raise
        except (GeneratorExit, asyncio.CancelledError):
            # The client went away (the stream was closed or its task cancelled).
            outcome.status, outcome.error_kind = 499, "client_closed"
            raise
        except Exception as exc:
            outcome.status, outcome.error_kind = 500, type(exc).__name__
            raise
        finally:
            if outcome.usage.completion_tokens == 0 and completion_parts:
                outcome.usage = Usage(outcome.usage.prompt_tokens, completion_parts)
            outcome.model_used = route.model.id
            outcome.backend = route.backend.name
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            try:
                committed = self.record(
                    request,
                    route.model,
                    outcome,
                    started,
                    route=route,
                    cache=lookup.status,
                    publish_later=True,
                )
            finally:
                self.unfinished -= 1
        # Only after the stream ended well: the answer's last bytes wait on its ledger row, so
        # that a kill -9 never loses the row of an answer a client saw.
        await _until_committed(committed)

    def record(
        self,
        request: ChatRequest,
        model: ModelInfo | None,
        outcome: Outcome,
        started: float,
        *,
        route: Route | None = None,
        cache: str = "off",
        endpoint: str | None = None,
        publish_later: bool = False,
    ) -> Future[None]:
        """Queue the request's ledger row on the store's writer, which builds it there, off the
        request's path; the future is done once the row is committed. `publish_later` sends the
        `request.done` event on the loop's next turn, after what this one sends."""
        d = self.daemon
        latency_ms = outcome.latency_ms
        if latency_ms is None:
            latency_ms = (time.perf_counter() - started) * 1000
        cost_usd = d.spend.cost(model, outcome.usage) if model is not None and cache != "hit" else 0.0

        def row() -> dict[str, Any]:
            return {
                "id": request.request_id,
                "ts": request.received_at,
                "app": request.app,
                "dialect": request.dialect,
                "endpoint": endpoint or request.kind,
                "model_asked": request.model,
                "model_used": outcome.model_used,
                "backend": outcome.backend,
                "tier": route.tier if route else None,
                "route_json": route.explain() if route else None,
                "tokens_in": outcome.usage.prompt_tokens,
                "tokens_out": outcome.usage.completion_tokens,
                "latency_ms": round(latency_ms, 3),
                "ttft_ms": round(outcome.ttft_ms, 3) if outcome.ttft_ms is not None else None,
                "status": outcome.status,
                "error_kind": outcome.error_kind,
                "cost_usd": cost_usd,
                "cache": cache,
                "cascade": outcome.cascade,
                "chat_id": request.chat_id,
            }

        committed = d.store.append("requests", row)
        done = {
            "id": request.request_id,
            "app": request.app,
            "model_used": outcome.model_used,
            "backend": outcome.backend,
            "tier": route.tier if route else None,
            "status": outcome.status,
            "cost_usd": cost_usd,
            "cache": cache,
            # For /metrics and the dashboard, which read the bus rather than the ledger.
            "dialect": request.dialect,
            "model_asked": request.model,
            "local": model.local if model is not None else None,
            "received_at": request.received_at,
            "latency_ms": latency_ms,
            "ttft_ms": outcome.ttft_ms,
            "tokens_in": outcome.usage.prompt_tokens,
            "tokens_out": outcome.usage.completion_tokens,
            "error_kind": outcome.error_kind,
            "reasons": route.reasons if route else [],
        }
        if publish_later:
            try:
                asyncio.get_running_loop().call_soon(d.events.publish, "request.done", done)
                return committed
            except RuntimeError:  # a stream finalized outside the loop
                pass
        d.events.publish("request.done", done)
        return committed

    async def embed(
        self, request: ChatRequest, inputs: list[str], endpoint: str
    ) -> tuple[ModelInfo, list[list[float]]]:
        d = self.daemon
        started = time.perf_counter()
        await d.catalog.refresh()
        target = d.catalog.resolve(request.model)
        if target is None or target.model.kind != "embedding":
            available = ", ".join(m.id for m in d.catalog.models() if m.kind == "embedding")
            status, kind = (404, "model_not_found") if target is None else (400, "not_an_embedding_model")
            self.record(request, None, Outcome(status=status, error_kind=kind), started, endpoint=endpoint)
            what = "not found" if target is None else "not an embedding model"
            raise RoutingError(
                f"model '{request.model}' is {what}; embedding models here: {available}",
                status=status,
                kind=kind,
                param="model",
            )
        outcome = Outcome(model_used=target.model.id, backend=target.backend.name)
        try:
            # Embeddings have their own lane so concurrent requests reach the embedder together
            # and are encoded as one batch.
            async with d.scheduler.slot(target.backend.name + EMBEDDINGS_LANE, request.priority):
                vectors = await target.backend.embed(target.model, inputs)
        except BackendError as exc:
            outcome.status, outcome.error_kind = exc.status, exc.kind
            raise
        finally:
            outcome.usage = Usage(sum(len(t.split()) for t in inputs), 0)
            committed = self.record(request, target.model, outcome, started, endpoint=endpoint)
        await _until_committed(committed)
        return target.model, vectors


async def _until_committed(committed: Future[None] | None) -> None:
    if committed is None:
        return
    with contextlib.suppress(Exception):  # logged by the store; not the ledger's answer to refuse
        await asyncio.wrap_future(committed)


async def _replay(chunks: list[ChatChunk]) -> AsyncIterator[ChatChunk]:
    for chunk in chunks:
        yield chunk
