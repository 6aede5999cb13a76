"""The privacy tester: synthetic sensitive prompts go through the router in dry run; none may
be routed off the machine. A leak is a high-importance insight and an alert for the tray."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roundhouse.daemon.agents.context import AgentContext
from roundhouse.daemon.agents.protocol import AgentResult
from roundhouse.daemon.models import ChatRequest, Priority
from roundhouse.daemon.routing.route import RoutingError

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


@dataclass(frozen=True, slots=True)
class Probe:
    kind: str
    prompt: str


def _token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def card_number(rng: random.Random) -> str:
    """A Luhn-valid Visa-like number that is not one of the well-known test cards."""
    digits = [4] + [rng.randint(0, 9) for _ in range(14)]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = digit * 2 if index % 2 == 0 else digit
        total += value - 9 if value > 9 else value
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


def probes(seed: int) -> list[Probe]:
    """Fresh synthetic secrets each run (valid formats and checksums; none of them real)."""
    rng = random.Random(seed)
    return [
        Probe("openai_key", f'Why does this fail? client = OpenAI(api_key="sk-proj-{_token(rng, 40)}")'),
        Probe(
            "aws_key", f"aws_access_key_id = AKIA{_token(rng, 16, string.ascii_uppercase + string.digits)}"
        ),
        Probe(
            "github_token", f"git clone https://ghp_{_token(rng, 36)}@github.com/acme/tools.git fails, help"
        ),
        Probe(
            "private_key",
            "Is this key format right?\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + _token(rng, 60),
        ),
        Probe("card", f"Please check my order, card {card_number(rng)} exp 09/29, the total looks wrong."),
        Probe("iban", "Send the refund to DE89 3704 0044 0532 0130 00 and confirm by mail."),
        Probe(
            "password",
            f"My password is {_token(rng, 6)}#{rng.randint(10, 99)} and the site still rejects it, why?",
        ),
        Probe("email_phone", "Draft a reply to jane.doe@example.org, her number is +44 20 7946 0958."),
        Probe(
            "connection_string",
            f"postgres://admin:{_token(rng, 14)}@db.internal:5432/prod is slow to connect",
        ),
    ]


class PrivacyTester:
    name = "privacy"
    description = "Checks that synthetic sensitive prompts would never leave the machine"
    default_every_s = 86400.0

    async def run(self, ctx: AgentContext) -> AgentResult:
        await ctx.daemon.catalog.refresh()
        asked = [
            "auto",
            "cloud",
            *[m.id for m in ctx.daemon.catalog.models() if not m.local and m.kind == "chat"][:3],
        ]
        apps = ctx.options.get("apps") or ["open-webui", "unknown"]
        checked = refused = 0
        leaks: list[dict[str, str]] = []
        for probe in probes(int(ctx.clock())):
            for model in asked:
                for app in apps:
                    request = ChatRequest(
                        model=model,
                        messages=[{"role": "user", "content": probe.prompt}],
                        app=app,
                        priority=Priority.BACKGROUND,
                        dialect="control",
                    )
                    checked += 1
                    try:
                        route = await ctx.route(request)
                    except RoutingError:
                        refused += 1  # refusing is as safe as staying local
                        continue
                    if not route.model.local or any(not t.model.local for t in route.fallbacks):
                        where = route.model.id if not route.model.local else "a cloud fallback"
                        leaks.append({"kind": probe.kind, "asked": model, "app": app, "routed_to": where})
        kinds = sorted({leak["kind"] for leak in leaks})
        if leaks:
            first = leaks[0]
            ctx.insight(
                f"Privacy leak: prompts containing {', '.join(kinds)} would be sent to {first['routed_to']} "
                f"when an app asks for {first['asked']}.",
                importance=1.0,
                confidence=0.95,
                actionability=1.0,
                tags=["privacy", "leak"],
                evidence={"leaks": leaks[:20], "checked": checked},
            )
            ctx.alert(
                "privacy_leak",
                f"{len(leaks)} of {checked} sensitive test prompts would leave the machine",
                kinds=kinds,
            )
        else:
            ctx.insight(
                f"All {len(asked)} ways of asking kept synthetic secrets and personal data on local models "
                f"({checked} checks, {refused} refused).",
                importance=0.35,
                confidence=0.9,
                tags=["privacy"],
                evidence={"checked": checked, "refused": refused, "asked": asked},
            )
        return AgentResult(
            summary=f"{checked} checks, {len(leaks)} leaks, {refused} refused",
            data={"checked": checked, "leaks": leaks, "refused": refused},
        )


def create(daemon: Daemon) -> PrivacyTester:
    return PrivacyTester()
