"""The prompt optimizer: finds repeated prompt patterns (Open WebUI's title and tag tasks are the
classic case) and proposes a cheaper route or a shorter system prompt, each checked by
replaying past requests before anything is suggested.

The ledger holds no prompt text. Samples of requests that went to a cloud model (they have
already left the machine) are kept by `observe`, which the gateway calls after such a reply;
secrets and personal data are redacted before anything is stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlite_utils

from roundhouse.daemon.agents.context import APP_PREFIX, AgentContext, CloudCapReached
from roundhouse.daemon.agents.protocol import AgentResult
from roundhouse.daemon.models import ChatRequest, content_text
from roundhouse.daemon.routing.route import Route
from roundhouse.daemon.store import Store

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

TABLE = "agent_prompt_samples"
MIGRATIONS: list[str] = [
    f"""
    CREATE TABLE {TABLE} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pattern TEXT NOT NULL,
        app TEXT NOT NULL,
        model TEXT NOT NULL,
        request_id TEXT NOT NULL,
        messages TEXT NOT NULL,
        answer TEXT NOT NULL,
        ts REAL NOT NULL
    )
    """,
    f"CREATE INDEX {TABLE}_pattern ON {TABLE}(pattern, ts)",
]
SAMPLES_PER_PATTERN = 12
HEAD_CHARS = 160
# Known task templates, recognised by words in their opening.
TASK_NAMES: tuple[tuple[str, str], ...] = (
    ("title", "title_generation"),
    ("tags", "tags_generation"),
    ("follow-up", "follow_up_generation"),
    ("search quer", "query_generation"),
    ("autocomplete", "autocomplete_generation"),
    ("emoji", "emoji_generation"),
)


def pattern_of(messages: list[dict[str, Any]]) -> tuple[str, str]:
    """A stable key for a templated prompt (the opening of its first message) and a name."""
    first = content_text(messages[0].get("content")) if messages else ""
    head = re.sub(r"\s+", " ", first[:HEAD_CHARS]).strip().lower()
    digest = hashlib.sha256(head.encode()).hexdigest()[:12]
    for word, name in TASK_NAMES:
        if word in head:
            return digest, name
    return digest, f"pattern-{digest[:6]}"


def _redactor(daemon: Any) -> Any:
    """Every private kind, whatever the routing policy lets go to the cloud: a policy that sends
    personal data to a cloud model has not asked for it to be kept on disk too."""
    from roundhouse.daemon.routing.privacy import PrivacyDetector

    routing = getattr(getattr(daemon, "router", None), "settings", None)  # with runtime edits
    if routing is None:
        routing = getattr(getattr(daemon, "settings", None), "routing", None)
    privacy = getattr(routing, "privacy", None)
    detector = PrivacyDetector(
        secrets=True,
        personal_data=True,
        keywords=getattr(privacy, "keywords", ()),
        patterns=getattr(privacy, "patterns", ()),
    )
    return detector.redact


async def observe(daemon: Daemon, request: ChatRequest, route: Route, answer: str) -> bool:
    """Keep a redacted sample of a completed cloud chat request; returns whether one was kept."""
    if route.model.local or route.private or request.kind != "chat" or not request.messages:
        return False
    if request.app.startswith(APP_PREFIX) or not answer.strip():
        return False
    pattern, _ = pattern_of(request.messages)
    redact = _redactor(daemon)
    messages = [
        {"role": m.get("role", "user"), "content": redact(content_text(m.get("content")))}
        for m in request.messages
    ]
    row = {
        "pattern": pattern,
        "app": request.app,
        "model": route.model.id,
        "request_id": request.request_id,
        "messages": json.dumps(messages),
        "answer": redact(answer)[:4000],
        "ts": time.time(),
    }

    def keep(db: sqlite_utils.Database) -> None:
        db[TABLE].insert(row)
        db.execute(
            f"DELETE FROM {TABLE} WHERE pattern = ? AND id NOT IN "
            f"(SELECT id FROM {TABLE} WHERE pattern = ? ORDER BY ts DESC LIMIT ?)",
            [pattern, pattern, SAMPLES_PER_PATTERN],
        )

    daemon.store.migrate("agents.prompts", MIGRATIONS)
    await daemon.store.write(keep)
    return True


def shorten(system: str) -> str:
    """A shorter system prompt with the same instructions: examples, repeated sentences,
    decoration and extra whitespace removed."""
    text = re.sub(r"(?is)\n#+\s*examples?\b.*?(?=\n#+\s|\Z)", "\n", system)
    text = re.sub(r"(?im)^\s*(?:e\.g\.|example:|for example).*$", "", text)
    text = re.sub(r"[*_`]{1,3}", "", text)
    seen: set[str] = set()
    sentences = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        key = re.sub(r"\W+", " ", sentence).strip().lower()
        if key and key not in seen:
            seen.add(key)
            sentences.append(sentence.strip())
    return " ".join(s for s in sentences if s)


@dataclass(slots=True)
class Replay:
    checked: int
    passed: int
    request_ids: list[str]

    @property
    def rate(self) -> float:
        return self.passed / self.checked if self.checked else 0.0


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class PromptOptimizer:
    name = "prompts"
    description = (
        "Finds repeated prompt patterns and proposes shorter prompts or cheaper routes, checked by replay"
    )
    default_every_s = 86400.0

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("agents.prompts", MIGRATIONS)

    def _patterns(self, min_samples: int) -> list[dict[str, Any]]:
        return list(
            self.store.db.query(
                f"SELECT pattern, app, model, COUNT(*) AS samples FROM {TABLE} GROUP BY pattern, app, model "
                "HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC",
                [min_samples],
            )
        )

    def _samples(self, pattern: str, limit: int) -> list[dict[str, Any]]:
        rows = self.store.db.query(
            f"SELECT * FROM {TABLE} WHERE pattern = ? ORDER BY ts DESC LIMIT ?", [pattern, limit]
        )
        return [{**r, "messages": json.loads(r["messages"])} for r in rows]

    async def _similar(self, ctx: AgentContext, a: list[str], b: list[str]) -> list[float]:
        vectors = await ctx.daemon.embedder.embed(a + b)
        left, right = vectors[: len(a)], vectors[len(a) :]
        return [float(np.dot(x, y)) for x, y in zip(left, right, strict=True)]

    async def _replay(
        self,
        ctx: AgentContext,
        samples: list[dict[str, Any]],
        model: str,
        system: str | None,
        threshold: float,
    ) -> Replay:
        answers, originals, ids = [], [], []
        for sample in samples:
            messages = [dict(m) for m in sample["messages"]]
            if system is not None and messages and messages[0]["role"] == "system":
                messages[0]["content"] = system
            max_tokens = max(16, min(256, _tokens(sample["answer"]) * 2))
            reply = await ctx.chat(messages, model=model, max_tokens=max_tokens)
            answers.append(reply.text)
            originals.append(sample["answer"])
            ids.append(reply.request_id)
        similarities = await self._similar(ctx, answers, originals) if answers else []
        passed = sum(1 for s, a in zip(similarities, answers, strict=True) if s >= threshold and a.strip())
        return Replay(len(answers), passed, ids)

    async def run(self, ctx: AgentContext) -> AgentResult:
        options = ctx.options
        min_samples = int(options.get("min_samples", 3))
        replays = int(options.get("replays", 5))
        threshold = float(options.get("similarity", 0.6))
        pass_rate = float(options.get("pass_rate", 0.8))
        local_model = str(options.get("local_model", "local"))
        proposals: list[dict[str, Any]] = []
        for pattern in self._patterns(min_samples)[: int(options.get("patterns", 3))]:
            samples = self._samples(pattern["pattern"], replays)
            _, task = pattern_of(samples[0]["messages"])
            label = f"{pattern['app']} {task}"
            # How much of the ledger this app-and-model pair is, over the last week.
            (volume,) = await ctx.ledger(
                "SELECT COUNT(*) AS requests, COALESCE(SUM(cost_usd), 0) AS usd, "
                "COALESCE(AVG(tokens_in), 0) AS avg_in "
                "FROM requests WHERE app = ? AND model_used = ? AND ts >= ?",
                [pattern["app"], pattern["model"], ctx.clock() - 7 * 86400],
            )
            # A cheaper route: the same requests on a local model.
            replay = await self._replay(ctx, samples, local_model, None, threshold)
            proposal: dict[str, Any] = {
                "ledger_7d": volume,
                "pattern": pattern["pattern"],
                "task": task,
                "app": pattern["app"],
                "model": pattern["model"],
                "local_replay": [replay.passed, replay.checked],
            }
            if replay.checked and replay.rate >= pass_rate:
                ctx.insight(
                    f"{label} requests sent to {pattern['model']} can run on a local model: "
                    f"{replay.passed} of {replay.checked} replays matched the original answers.",
                    importance=0.75, confidence=0.5 + 0.4 * replay.rate, actionability=0.95,
                    tags=["prompts", "route", f"app:{pattern['app']}"],
                    evidence={"replays": [replay.passed, replay.checked], "similarity_threshold": threshold,
                              "pattern": pattern["pattern"], "ledger_7d": volume},
                    request_ids=[s["request_id"] for s in samples] + replay.request_ids,
                )  # fmt: skip
                proposal["route"] = local_model
            # A shorter system prompt, checked on the pattern's own model when the cap allows.
            system = (
                samples[0]["messages"][0]["content"]
                if samples[0]["messages"][0]["role"] == "system"
                else None
            )
            if system:
                short = shorten(system)
                if _tokens(short) <= 0.8 * _tokens(system):
                    try:
                        check = await self._replay(ctx, samples, pattern["model"], short, threshold)
                    except CloudCapReached:
                        check = await self._replay(ctx, samples, local_model, short, threshold)
                    proposal["short_prompt_replay"] = [check.passed, check.checked]
                    if check.checked and check.rate >= pass_rate:
                        ctx.insight(
                            f"The system prompt of {label} requests can be cut to {_tokens(short)} tokens "
                            f"without losing quality.",
                            importance=0.6, confidence=0.5 + 0.4 * check.rate, actionability=0.9,
                            tags=["prompts", "system-prompt", f"app:{pattern['app']}"],
                            evidence={"from_tokens": _tokens(system), "to_tokens": _tokens(short),
                                      "proposed": short[:2000], "replays": [check.passed, check.checked]},
                            request_ids=check.request_ids,
                        )  # fmt: skip
                        proposal["short_prompt"] = short
            proposals.append(proposal)
        return AgentResult(summary=f"{len(proposals)} patterns checked", data={"proposals": proposals})


def create(daemon: Daemon) -> PromptOptimizer:
    return PromptOptimizer(daemon.store)
