"""Routing fixtures: the shipped examples embedded once per run (the routers reuse them)."""

from __future__ import annotations

import pytest

from roundhouse.daemon.cache.embedder import Embedder
from roundhouse.daemon.routing.complexity import KnnIndex
from roundhouse.daemon.routing.router import PolicyRouter
from roundhouse.daemon.routing.settings import RoutingSettings


@pytest.fixture(scope="session")
def shipped_index(embedder: Embedder) -> KnnIndex:
    return PolicyRouter(catalog=None, settings=RoutingSettings(), embedder=embedder)._build_index()
