"""The way of an image request: decide where it is drawn (ComfyUI here, or a cloud image model
when mode, budget and privacy allow), keep GPU room for it, draw it, keep it in the dataset,
and write its ledger row so budgets count it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.components import Residency, Spend
from roundhouse.daemon.events import EventBus
from roundhouse.daemon.fleet.hosts import LOOPBACK
from roundhouse.daemon.images import cloud
from roundhouse.daemon.images.comfyui import ComfyUIClient, ComfyUIError
from roundhouse.daemon.images.dataset import ImageDataset, ImageRecord
from roundhouse.daemon.images.settings import ImagesSettings, parse_size
from roundhouse.daemon.images.workflows import WorkflowError, fill, load_workflow
from roundhouse.daemon.secrets import Secrets
from roundhouse.daemon.store import Store

log = logging.getLogger(__name__)
GB = 1024**3
LOCAL_NAMES = frozenset({"comfyui", "local", "private"})
MIN_SIDE, MAX_SIDE = 16, 16384  # ComfyUI's EmptyLatentImage limits
MAX_SEED = 2**63 - 1  # what SQLite keeps
CLOUD_NAMES = frozenset({"cloud"})
Where = Literal["comfyui", "cloud"]


class ImageRefused(Exception):
    """The request cannot be drawn anywhere it may go; `status` is the HTTP answer."""

    def __init__(
        self, message: str, *, status: int = 400, code: str = "invalid_request", param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param


@dataclass(frozen=True, slots=True)
class AppRules:
    """What the routing policy says of an app: all its requests private, and why it may not use
    the cloud (routing mode local, `allow_cloud = false`), if it may not."""

    private: bool = False
    cloud_block: str | None = None


@dataclass(slots=True)
class ImageJob:
    prompt: str
    app: str
    model: str | None = None
    n: int = 1
    size: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    source: Literal["request", "trainer"] = "request"
    variant_of: str | None = None
    request_id: str = field(default_factory=lambda: "rh-img-" + secrets.token_hex(8))
    on_progress: Callable[[int, int], None] | None = None


@dataclass(slots=True)
class ImageRoute:
    where: Where
    model: str
    reasons: list[str]
    private: bool


@dataclass(slots=True)
class ImageResult:
    route: ImageRoute
    images: list[ImageRecord]
    data: list[bytes]
    cost_usd: float
    revised_prompt: str | None = None


class ImageService:
    def __init__(
        self,
        settings: ImagesSettings,
        *,
        dataset: ImageDataset,
        store: Store,
        events: EventBus,
        secrets: Secrets,
        residency: Callable[[], Residency],
        spend: Callable[[], Spend],
        private_kinds: Callable[[str], list[str]],
        app_rules: Callable[[str], AppRules],
        cloud_api_base: dict[str, str],
    ) -> None:
        self.settings = settings
        self.dataset = dataset
        self._store = store
        self._events = events
        self._secrets = secrets
        self._residency = residency
        self._spend = spend
        self._private_kinds = private_kinds
        self._app_rules = app_rules
        self._cloud_api_base = cloud_api_base
        self.comfyui: ComfyUIClient | None = (
            ComfyUIClient(settings.comfyui_url, timeout_s=settings.timeout_s)
            if settings.comfyui_url
            else None
        )
        self._one_at_a_time = asyncio.Lock()  # ComfyUI draws one prompt at a time anyway
        self._release: asyncio.TimerHandle | None = None
        self.drawn = 0

    async def start(self) -> None:
        if self.comfyui is None and self.settings.discover_local:
            found = ComfyUIClient(self.settings.local_url, timeout_s=self.settings.timeout_s)
            ok, detail = await found.health()
            if ok:
                log.info("images: found ComfyUI at %s (%s)", self.settings.local_url, detail)
                self.comfyui = found

    async def stop(self) -> None:
        if self._release is not None:
            self._release.cancel()

    # -- where it goes --------------------------------------------------------------------

    async def _comfyui_up(self) -> tuple[bool, str]:
        if self.comfyui is None:
            return False, "no ComfyUI is set up ([images] comfyui_url)"
        return await self.comfyui.health()

    async def decide(self, job: ImageJob) -> ImageRoute:
        asked = (job.model or "").strip()
        reasons: list[str] = []
        private_why = self._private_why(job, asked)
        wants: Where
        if asked in LOCAL_NAMES or asked.startswith("comfyui/"):
            wants = "comfyui"
            reasons.append(f"asked for {asked}")
        elif asked in CLOUD_NAMES or "/" in asked or asked.startswith(("dall-e", "gpt-image")):
            wants = "cloud"
            reasons.append(f"asked for {asked}")
        elif asked in ("", "auto"):
            wants = "cloud" if self.settings.mode == "cloud" else "comfyui"
            reasons.append(f"images mode {self.settings.mode}")
        else:
            raise ImageRefused(
                f"image model '{asked}' not found; use comfyui, auto, cloud or a cloud image model "
                "such as openai/gpt-image-1",
                status=404,
                code="model_not_found",
                param="model",
            )
        cloud_model = self._cloud_model(asked)
        local_ok, local_detail = await self._comfyui_up()
        cloud_block = self._cloud_block(job.app, cloud_model)
        if private_why:
            reasons.append(f"private ({private_why}): drawn on this machine only")
            if local_ok and not self._comfyui_here():
                local_ok, local_detail = (
                    False,
                    f"ComfyUI at {self.comfyui.base_url if self.comfyui else '?'} is another machine",
                )
            if not local_ok:
                raise ImageRefused(
                    f"this prompt is private ({private_why}) and stays on this machine, "
                    f"but ComfyUI is not reachable here: {local_detail}",
                    status=503,
                    code="local_unavailable",
                )
            return ImageRoute("comfyui", self._local_model(), reasons, True)
        if wants == "cloud" and cloud_block is None:
            return ImageRoute("cloud", cloud_model, reasons, False)
        if wants == "cloud":
            reasons.append(f"not the cloud: {cloud_block}")
        if local_ok:
            return ImageRoute("comfyui", self._local_model(), reasons, False)
        reasons.append(f"ComfyUI not reachable: {local_detail}")
        # Asked for ComfyUI by name, or the trainer's own render: never drawn in the cloud instead.
        named_local = asked in LOCAL_NAMES or asked.startswith("comfyui/") or job.source == "trainer"
        if self.settings.mode != "local" and cloud_block is None and not named_local:
            return ImageRoute("cloud", cloud_model, [*reasons, "fell back to the cloud"], False)
        if self.comfyui is None and cloud_block is not None:  # nothing set up: no such feature here
            raise ImageRefused(
                f"image generation has no backend here: {local_detail}, and the cloud is not allowed "
                f"({cloud_block})",
                status=404,
                code="no_backend",
            )
        raise ImageRefused(
            f"no image backend can draw this: {local_detail}"
            + (f"; the cloud is not allowed: {cloud_block}" if cloud_block else "; images mode is local"),
            status=503,
            code="no_backend",
        )

    def _cloud_model(self, asked: str) -> str:
        if "/" in asked and not asked.startswith("comfyui/"):
            return asked
        if asked.startswith(("dall-e", "gpt-image")):
            return f"openai/{asked}"
        return self.settings.cloud_model

    def _local_model(self) -> str:
        return f"comfyui/{self.settings.checkpoint or self.settings.workflow}"

    def _private_why(self, job: ImageJob, asked: str) -> str:
        """Why the prompt must stay on this machine (as for chat: 'private' asked, what the
        detector finds, the app's policy), or ''."""
        why = list(self._private_kinds(job.prompt + "\n" + (job.negative_prompt or "")))
        if asked == "private":
            why.insert(0, "'private' asked")
        if self._app_rules(job.app).private:
            why.append(f"app '{job.app}' is private by policy")
        return ", ".join(why)

    def _comfyui_here(self) -> bool:
        return self.comfyui is not None and (urlsplit(self.comfyui.base_url).hostname or "") in LOOPBACK

    def _cloud_block(self, app: str, model: str) -> str | None:
        policy = self._app_rules(app).cloud_block
        if policy:
            return policy
        blocked = self._spend().budget_block(app)
        if blocked:
            return blocked
        provider = cloud.provider_of(model)
        if not self._secrets.get(provider):
            return f"no API key for {provider}"
        return None

    # -- drawing --------------------------------------------------------------------------

    async def generate(self, job: ImageJob) -> ImageResult:
        started = time.perf_counter()
        route: ImageRoute | None = None
        try:
            self._check(job)
            route = await self.decide(job)
            if route.where == "comfyui":
                result = await self._draw_local(job, route)
            else:
                result = await self._draw_cloud(job, route)
        except (ImageRefused, BackendError, WorkflowError) as exc:
            status = getattr(exc, "status", 400)
            kind = getattr(exc, "code", None) or getattr(exc, "kind", "invalid_request")
            self._ledger(job, route, started, status=status, error_kind=str(kind), images=0, cost=0.0)
            raise
        self._ledger(
            job, route, started, status=200, error_kind=None, images=len(result.images), cost=result.cost_usd
        )
        return result

    def _check(self, job: ImageJob) -> None:
        if not job.prompt.strip():
            raise ImageRefused("prompt must not be empty", param="prompt")
        if not 1 <= job.n <= self.settings.max_n:
            raise ImageRefused(f"n must be between 1 and {self.settings.max_n}", param="n")
        try:
            width, height = parse_size(job.size or self.settings.size)
        except ValueError as exc:
            raise ImageRefused(str(exc), param="size") from None
        for side in (width, height):
            if not MIN_SIDE <= side <= MAX_SIDE or side % 8:
                raise ImageRefused(
                    f"each side of size is a multiple of 8 from {MIN_SIDE} to {MAX_SIDE}, not {side}",
                    param="size",
                )
        if job.seed is not None and job.seed + job.n - 1 > MAX_SEED:
            raise ImageRefused(f"seed + n - 1 must be at most {MAX_SEED}", param="seed")

    async def _draw_local(self, job: ImageJob, route: ImageRoute) -> ImageResult:
        assert self.comfyui is not None
        comfyui = self.comfyui
        width, height = parse_size(job.size or self.settings.size)
        steps = job.steps or self.settings.steps
        checkpoint = self.settings.checkpoint or next(iter(await comfyui.checkpoints()), None)
        if checkpoint is None:
            raise ImageRefused("ComfyUI has no checkpoint installed", status=503, code="no_checkpoint")
        route.model = f"comfyui/{checkpoint}"
        try:
            base = load_workflow(self.settings.workflow)
        except (WorkflowError, ValueError) as exc:  # the configured workflow, not the request
            raise ImageRefused(
                f"the image workflow is broken: {exc}", status=503, code="bad_workflow"
            ) from None
        seed0 = job.seed if job.seed is not None else secrets.randbelow(2**32)
        negative = workflow_negative(job, self.settings)
        # Filled before any GPU room is made: a value the workflow refuses costs no text model.
        workflows = [
            fill(
                base,
                prompt=job.prompt,
                negative_prompt=negative,
                width=width,
                height=height,
                steps=steps,
                seed=seed0 + i,
                checkpoint=checkpoint,
            )
            for i in range(job.n)
        ]
        records: list[ImageRecord] = []
        data: list[bytes] = []
        async with self._one_at_a_time, self._gpu_room(comfyui):
            if self._release is not None:
                self._release.cancel()
            try:
                for i, workflow in enumerate(workflows):
                    for image in (await comfyui.generate(workflow, on_progress=job.on_progress))[:1]:
                        records.append(
                            await self.dataset.add(
                                image.data,
                                request_id=job.request_id,
                                app=job.app,
                                source=job.source,
                                prompt=job.prompt,
                                negative_prompt=negative,
                                workflow=self.settings.workflow,
                                checkpoint=checkpoint,
                                model=route.model,
                                seed=seed0 + i,
                                steps=steps,
                                width=width,
                                height=height,
                                private=route.private,
                                variant_of=job.variant_of,
                            )
                        )
                        data.append(image.data)
            finally:  # after a failed job too: ComfyUI's models are released in their time
                self._schedule_release(comfyui)
        self.drawn += len(records)
        return ImageResult(route, records, data, 0.0)

    @contextlib.asynccontextmanager
    async def _gpu_room(self, comfyui: ComfyUIClient) -> Any:
        """On this machine, text models make room for the job; on another, its GPU is its own."""
        if (urlsplit(comfyui.base_url).hostname or "") not in LOOPBACK or self.settings.vram_gb <= 0:
            yield
            return
        need = int(self.settings.vram_gb * GB)
        with contextlib.suppress(ComfyUIError):
            stats = await comfyui.system_stats()
            devices = [
                d for d in stats.get("devices") or [] if isinstance(d, dict) and d.get("type") != "cpu"
            ]
            if devices:  # what ComfyUI holds already is counted as another app's on the GPU
                need = max(0, need - int(devices[0].get("torch_vram_total") or 0))
        async with self._residency().hold_memory(need, holder="comfyui"):
            yield

    def _schedule_release(self, comfyui: ComfyUIClient) -> None:
        if self.settings.release_after_s < 0:
            return
        loop = asyncio.get_running_loop()

        def release() -> None:
            task = loop.create_task(comfyui.free(unload_models=True))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
            self._events.publish("images.released", {"after_s": self.settings.release_after_s})

        self._release = loop.call_later(self.settings.release_after_s, release)

    async def _draw_cloud(self, job: ImageJob, route: ImageRoute) -> ImageResult:
        size = job.size or self.settings.size
        provider = cloud.provider_of(route.model)
        drawn = await cloud.generate(
            route.model,
            job.prompt,
            n=job.n,
            size=size,
            quality=self.settings.cloud_quality,
            secrets=self._secrets,
            api_base=self._cloud_api_base.get(provider),
            timeout_s=self.settings.timeout_s,
        )
        width, height = parse_size(size)
        records = [
            await self.dataset.add(
                data,
                request_id=job.request_id,
                app=job.app,
                source=job.source,
                prompt=job.prompt,
                model=route.model,
                width=width,
                height=height,
                variant_of=job.variant_of,
            )
            for data in drawn.images
        ]
        self.drawn += len(records)
        return ImageResult(route, records, drawn.images, drawn.cost_usd, drawn.revised_prompt)

    # -- the ledger -----------------------------------------------------------------------

    def _ledger(
        self,
        job: ImageJob,
        route: ImageRoute | None,
        started: float,
        *,
        status: int,
        error_kind: str | None,
        images: int,
        cost: float,
    ) -> None:
        latency_ms = (time.perf_counter() - started) * 1000
        backend = None if route is None else ("comfyui" if route.where == "comfyui" else "cloud")
        row = {
            "id": job.request_id,
            "ts": time.time(),
            "app": job.app,
            "dialect": "openai",
            "endpoint": "images",
            "model_asked": job.model or "auto",
            "model_used": route.model if route is not None else None,
            "backend": backend,
            "route_json": {"reasons": route.reasons, "private": route.private} if route is not None else None,
            "latency_ms": round(latency_ms, 3),
            "status": status,
            "error_kind": error_kind,
            "cost_usd": cost,
            "cache": "off",
            "images": images,
        }
        self._store.append("requests", row)
        self._events.publish(
            "request.done",
            {
                "id": job.request_id,
                "app": job.app,
                "model_used": row["model_used"],
                "backend": backend,
                "status": status,
                "cost_usd": cost,
                "cache": "off",
                "dialect": "openai",
                "model_asked": row["model_asked"],
                "local": backend == "comfyui" if backend else None,
                "latency_ms": latency_ms,
                "tokens_in": 0,
                "tokens_out": 0,
                "error_kind": error_kind,
                "images": images,
                "reasons": route.reasons if route is not None else [],
            },
        )

    async def status(self) -> dict[str, Any]:
        up, detail = await self._comfyui_up()
        vram = None
        checkpoints: list[str] = []
        if up and self.comfyui is not None:
            with contextlib.suppress(ComfyUIError):
                vram = await self.comfyui.vram()
                checkpoints = await self.comfyui.checkpoints()
        return {
            "enabled": self.settings.enabled,
            "mode": self.settings.mode,
            "comfyui": {
                "url": self.comfyui.base_url if self.comfyui else None,
                "up": up,
                "detail": detail,
                "vram_total_bytes": vram[0] if vram else None,
                "vram_free_bytes": vram[1] if vram else None,
                "checkpoints": checkpoints,
            },
            "cloud_model": self.settings.cloud_model,
            "drawn": self.drawn,
            "dataset": self.dataset.counts(),
        }


def workflow_negative(job: ImageJob, settings: ImagesSettings) -> str:
    return job.negative_prompt if job.negative_prompt is not None else settings.negative_prompt
