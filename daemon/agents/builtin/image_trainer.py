"""The image trainer: in idle time, draws variants of the user's recent image requests on this
machine's ComfyUI, and learns from the user's ratings which settings (steps, negative prompt)
score best for which kind of prompt.

Variants come from a text model (routed like any request, within the agent's cloud cap) asked
for a JSON list; a small local model often answers something else, so deterministic variants
(other step counts, the negative prompt on or off) make up the rest. Each variant keeps the
original's seed and size, so only the setting differs.

Scores are the user's ratings only. No image scorer (CLIP, an aesthetic predictor) ships in an
installed package here, and one downloaded at run time is not an option, so unrated images stay
unscored and the learning step reads rated images alone.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from statistics import mean
from typing import TYPE_CHECKING, Any

import numpy as np

from roundhouse.daemon.agents.context import AgentContext, CloudCapReached
from roundhouse.daemon.agents.protocol import AgentResult
from roundhouse.daemon.backends.base import BackendError
from roundhouse.daemon.images.dataset import ImageRecord
from roundhouse.daemon.images.service import ImageJob, ImageRefused, ImageService
from roundhouse.daemon.images.workflows import WorkflowError

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

STEP_LADDER = (20, 30, 40)
MAX_STEPS = 200
MAX_PROMPT_CHARS = 2000
LABEL_CHARS = 60
SYSTEM = (
    "You improve prompts for an image generator. Reply with a JSON list only, no other text. "
    'Each item is an object with the keys "prompt" (the image description), "negative_prompt" '
    '(what to avoid) and "steps" (an integer from 10 to 60).'
)


@dataclass(slots=True)
class Variant:
    prompt: str
    negative_prompt: str
    steps: int
    made_by: str  # "model" or "fallback"


@dataclass(slots=True)
class Group:
    """Rated images whose original prompts are alike: the originals and their variants."""

    label: str
    vector: np.ndarray
    images: list[ImageRecord] = field(default_factory=list)


def setting_of(record: ImageRecord) -> tuple[int | None, str]:
    return record.steps, (record.negative_prompt or "").strip()


def describe(steps: int | None, negative: str) -> str:
    steps_text = f"{steps} steps" if steps is not None else "the default steps"
    return (
        f"{steps_text} with negative prompt '{negative}'"
        if negative
        else f"{steps_text} without a negative prompt"
    )


# What a comparison looks at: the whole setting first, then each half of it on its own.
DIMENSIONS: tuple[tuple[str, Callable[[ImageRecord], Hashable], Callable[[Any], str]], ...] = (
    ("setting", setting_of, lambda key: describe(*key)),
    ("steps", lambda r: r.steps, lambda key: f"{key} steps"),
    (
        "negative_prompt",
        lambda r: (r.negative_prompt or "").strip(),
        lambda key: f"negative prompt '{key}'" if key else "no negative prompt",
    ),
)


def parse_variants(text: str, original: ImageRecord, limit: int) -> list[Variant]:
    """The model's variants that are usable: a JSON list (or one object) of prompts, each with
    a negative prompt and steps in range; anything else in the answer is ignored."""
    start, end = text.find("["), text.rfind("]")
    candidates: list[Any] = []
    if start != -1 and end > start:
        try:
            loaded = json.loads(text[start : end + 1])
            candidates = loaded if isinstance(loaded, list) else []
        except json.JSONDecodeError:
            candidates = []
    if not candidates:
        start, end = text.find("{"), text.rfind("}")
        if start != -1 and end > start:
            try:
                candidates = [json.loads(text[start : end + 1])]
            except json.JSONDecodeError:
                return []
    found: list[Variant] = []
    seen = {_key(original.prompt or "", original.negative_prompt or "", original.steps)}
    for item in candidates:
        if not isinstance(item, dict):
            continue
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
            continue
        negative = item.get("negative_prompt")
        negative = negative if isinstance(negative, str) else (original.negative_prompt or "")
        steps = item.get("steps")
        if isinstance(steps, str) and steps.strip().isdigit():
            steps = int(steps)
        if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
            steps = original.steps or STEP_LADDER[0]
        variant = Variant(prompt.strip(), negative.strip()[:MAX_PROMPT_CHARS], steps, "model")
        key = _key(variant.prompt, variant.negative_prompt, variant.steps)
        if key not in seen:
            seen.add(key)
            found.append(variant)
        if len(found) >= limit:
            break
    return found


def fallback_variants(original: ImageRecord, default_negative: str, limit: int) -> list[Variant]:
    """The same prompt at other step counts, and with the negative prompt turned off (or on)."""
    prompt = original.prompt or ""
    steps = original.steps or STEP_LADDER[0]
    negative = (original.negative_prompt or "").strip()
    other_steps = [s for s in STEP_LADDER if s != steps]
    toggled = "" if negative else default_negative.strip()
    ordered = [
        Variant(prompt, negative, other_steps[0], "fallback"),
        Variant(prompt, toggled, steps, "fallback"),
        *(Variant(prompt, negative, s, "fallback") for s in other_steps[1:]),
    ]
    seen = {_key(prompt, negative, steps)}
    found = []
    for variant in ordered:
        key = _key(variant.prompt, variant.negative_prompt, variant.steps)
        if key not in seen:
            seen.add(key)
            found.append(variant)
    return found[:limit]


def _key(prompt: str, negative: str, steps: int | None) -> tuple[str, str, int | None]:
    return re.sub(r"\s+", " ", prompt).strip().lower(), negative.strip().lower(), steps


class ImageTrainer:
    name = "image_trainer"
    description = (
        "Draws variants of recent image requests on this machine and learns from your ratings "
        "which settings score best"
    )
    default_every_s = 6 * 3600.0

    async def run(self, ctx: AgentContext) -> AgentResult:
        images: ImageService | None = getattr(ctx.daemon, "images", None)
        if images is None or not images.settings.enabled:
            return AgentResult(
                summary="image generation is off; nothing to do", data={"skipped": "images off"}
            )
        up, detail = await _comfyui(images)
        if not up:
            return AgentResult(
                summary=f"ComfyUI is not reachable ({detail}); nothing rendered",
                data={"skipped": "comfyui unreachable", "detail": detail},
            )
        rendered, asks, notes = await self._render(ctx, images)
        learned = await self._learn(ctx, images)
        by_model = sum(1 for r in rendered if r["made_by"] == "model")
        summary = (
            f"{len(rendered)} variants rendered ({by_model} from the model, "
            f"{len(rendered) - by_model} fallback); {len(learned)} insights"
        )
        if any(a.get("cloud_cap_reached") for a in asks):
            summary += "; the daily cloud cap is spent, local models only"
        return AgentResult(
            summary=summary,
            data={"rendered": rendered, "asks": asks, "notes": notes, "insights": learned},
        )

    # rendering -----------------------------------------------------------------------------
    async def _render(
        self, ctx: AgentContext, images: ImageService
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        options = ctx.options
        dataset = images.dataset
        done = {r.variant_of for r in dataset.recent(100_000, source="trainer")}
        recent = dataset.recent(200, source="request")
        # Several images of one request share its settings: one of them stands for the request.
        done_requests = {r.request_id or r.id for r in recent if r.id in done}
        originals: dict[str, ImageRecord] = {}
        for record in recent:
            key = record.request_id or record.id
            if record.prompt and key not in done_requests and key not in originals:
                originals[key] = record
        rendered: list[dict[str, Any]] = []
        asks: list[dict[str, Any]] = []
        notes: list[str] = []
        model = str(options.get("text_model", "auto"))
        for original in list(originals.values())[: int(options.get("prompts", 3))]:
            count = int(options.get("variants", 2))
            variants, model, ask = await self._ask(ctx, original, count, model)
            asks.append(ask)
            taken = {_key(v.prompt, v.negative_prompt, v.steps) for v in variants}
            extra = fallback_variants(original, images.settings.negative_prompt, count)
            variants += [v for v in extra if _key(v.prompt, v.negative_prompt, v.steps) not in taken][
                : count - len(variants)
            ]
            for variant in variants:
                up, detail = await _comfyui(images)
                if not up:  # the trainer draws here or not at all: never on a cloud image model
                    notes.append(f"ComfyUI went away: {detail}")
                    return rendered, asks, notes
                job = ImageJob(
                    prompt=variant.prompt,
                    app=ctx.app,
                    model="comfyui",
                    size=f"{original.width}x{original.height}"
                    if original.width and original.height
                    else None,
                    negative_prompt=variant.negative_prompt,
                    seed=original.seed,
                    steps=variant.steps,
                    source="trainer",
                    variant_of=original.id,
                )
                ctx.request_ids.append(job.request_id)
                try:
                    result = await images.generate(job)
                except (ImageRefused, BackendError, WorkflowError) as exc:
                    notes.append(f"a variant of {original.id} could not be drawn: {exc}")
                    continue
                for record in result.images:
                    rendered.append(
                        {
                            "image_id": record.id,
                            "variant_of": original.id,
                            "made_by": variant.made_by,
                            "prompt": variant.prompt,
                            "negative_prompt": variant.negative_prompt,
                            "steps": variant.steps,
                            "seed": record.seed,
                        }
                    )
        return rendered, asks, notes

    async def _ask(
        self, ctx: AgentContext, original: ImageRecord, count: int, model: str
    ) -> tuple[list[Variant], str, dict[str, Any]]:
        """The text model's usable variants, the model to ask next (local once the cloud cap is
        spent), and what happened, for the run's record."""
        question = (
            f"Write {count} improved variants of this image prompt.\n"
            f"Prompt: {original.prompt}\n"
            f"Negative prompt: {original.negative_prompt or ''}\n"
            f"Steps: {original.steps}"
        )
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        max_tokens = int(ctx.options.get("max_tokens", 256))
        ask: dict[str, Any] = {"variant_of": original.id, "asked": model}
        try:
            try:
                reply = await ctx.chat(messages, model=model, max_tokens=max_tokens, temperature=0.7)
            except CloudCapReached:
                ask["cloud_cap_reached"] = True
                model = "local"
                reply = await ctx.chat(messages, model=model, max_tokens=max_tokens, temperature=0.7)
        except Exception as exc:  # a text model is a nicety here: the fallback variants still run
            return [], model, {**ask, "usable": 0, "error": f"{type(exc).__name__}: {exc}"[:500]}
        variants = parse_variants(reply.text, original, count)
        return (
            variants,
            model,
            {**ask, "answered_by": reply.model, "local": reply.local, "usable": len(variants)},
        )

    # learning ------------------------------------------------------------------------------
    async def _learn(self, ctx: AgentContext, images: ImageService) -> list[dict[str, Any]]:
        options = ctx.options
        min_ratings = int(options.get("min_ratings", 3))
        margin = float(options.get("margin", 1.0))
        rated = images.dataset.recent(int(options.get("window", 2000)), rated=True)
        if not rated:
            return []
        groups = await self._groups(ctx, images, rated, float(options.get("similarity", 0.7)))
        learned = []
        for group in groups:
            found = _winner(group.images, min_ratings, margin)
            if found is None:
                continue
            dimension, winner, runner_up, text_of = found
            best, other = winner[1], runner_up[1]
            text = (
                f"For prompts like '{group.label}', {text_of(winner[0])} scored best "
                f"(mean {mean(best):.1f} over {len(best)} ratings vs {mean(other):.1f} for "
                f"{text_of(runner_up[0])})."
            )
            evidence = {
                "dimension": dimension,
                "group": group.label,
                "winner": {"setting": _jsonable(winner[0]), "mean": mean(best), "ratings": len(best)},
                "runner_up": {"setting": _jsonable(runner_up[0]), "mean": mean(other), "ratings": len(other)},
                "image_ids": [r.id for r in group.images],
            }
            ctx.insight(
                text,
                importance=0.5,
                confidence=min(0.9, 0.4 + 0.05 * (len(best) + len(other))),
                actionability=0.8,
                tags=["images", "image-settings", f"images:{dimension}"],
                evidence=evidence,
                request_ids=sorted({r.request_id for r in group.images if r.request_id}),
            )
            learned.append({"text": text, **evidence})
        return learned

    async def _groups(
        self, ctx: AgentContext, images: ImageService, rated: list[ImageRecord], similarity: float
    ) -> list[Group]:
        """Rated images by the prompt of their original, alike originals together (by embedding)."""
        by_root: dict[str, list[ImageRecord]] = defaultdict(list)
        prompts: dict[str, str] = {}
        for record in rated:
            root = record.variant_of or record.id
            if root not in prompts:
                original = record if record.variant_of is None else images.dataset.get(root)
                if original is None or not original.prompt:
                    continue
                prompts[root] = original.prompt
            by_root[root].append(record)
        roots = sorted(by_root, key=lambda r: -len(by_root[r]))
        vectors = await ctx.daemon.embedder.embed([prompts[r] for r in roots])
        groups: list[Group] = []
        for root, vector in zip(roots, vectors, strict=True):
            home = next((g for g in groups if float(np.dot(g.vector, vector)) >= similarity), None)
            if home is None:
                home = Group(label=_label(prompts[root]), vector=np.asarray(vector))
                groups.append(home)
            home.images.extend(by_root[root])
        return groups


def _winner(
    records: list[ImageRecord], min_ratings: int, margin: float
) -> tuple[str, tuple[Any, list[float]], tuple[Any, list[float]], Callable[[Any], str]] | None:
    """The first dimension in which one value, rated often enough, beats every other by `margin`."""
    for dimension, key_of, text_of in DIMENSIONS:
        scores: dict[Any, list[float]] = defaultdict(list)
        for record in records:
            if record.score is not None:
                scores[key_of(record)].append(float(record.score))
        enough = sorted(
            ((k, v) for k, v in scores.items() if len(v) >= min_ratings), key=lambda kv: -mean(kv[1])
        )
        if len(enough) >= 2 and mean(enough[0][1]) - mean(enough[1][1]) >= margin:
            return dimension, enough[0], enough[1], text_of
    return None


def _label(prompt: str) -> str:
    text = re.sub(r"\s+", " ", prompt).strip()
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def _jsonable(key: Any) -> Any:
    return list(key) if isinstance(key, tuple) else key


async def _comfyui(images: ImageService) -> tuple[bool, str]:
    state = (await images.status())["comfyui"]
    return bool(state["up"]), str(state["detail"])


def create(daemon: Daemon) -> ImageTrainer:
    return ImageTrainer()
