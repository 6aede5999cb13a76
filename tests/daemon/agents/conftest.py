"""Agents run against a real daemon in the test's event loop, with a stand-in cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roundhouse.daemon.app import Daemon
from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.secrets import Secrets
from tests.daemon.memory.daemon_helpers import running_daemon
from tests.standins.openai_server import OpenAIStandin


@pytest.fixture
async def daemon(
    rh_home: Path, embedder: Embedder, test_secrets: Secrets, openai_standin: OpenAIStandin
) -> AsyncIterator[Daemon]:
    async with running_daemon(rh_home, embedder, test_secrets, cloud_url=openai_standin.url) as running:
        yield running
