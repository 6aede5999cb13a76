"""Samples the prompt optimizer keeps on disk hold no private data, whatever the routing policy."""

from __future__ import annotations

from roundhouse.daemon.agents.builtin.prompts import TABLE, observe
from roundhouse.daemon.app import Daemon
from roundhouse.daemon.models import ChatRequest


async def test_samples_are_redacted_even_when_personal_data_may_go_to_the_cloud(daemon: Daemon) -> None:
    # This user lets personal data reach cloud models; that is no reason to keep it on disk.
    await daemon.router.update_policy({"privacy": {"personal_data": False}})
    email = "jane.doe@example.com"
    request = ChatRequest(
        model="cloudy/gpt-4o-mini",
        messages=[{"role": "user", "content": f"Write a title for a mail to {email} about the invoice."}],
        app="open-webui",
    )
    exchange = await daemon.gateway.open(request)
    answer = "".join([c.content async for c in exchange.chunks])
    assert not exchange.route.model.local, "the request went to the cloud model"
    assert await observe(daemon, request, exchange.route, answer)
    # (the gateway keeps its own sample of the same request in the background, too)
    kept = [row["messages"] for row in daemon.store.db.query(f"SELECT messages FROM {TABLE}")]
    assert kept and all(email not in text and "about the invoice" in text for text in kept)
