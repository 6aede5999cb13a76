"""Builds the fleet: a backend for every host in config.toml and in the registry, and a host
record for each built-in backend that runs on the user's own machines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from roundhouse.daemon.backends.base import Backend
from roundhouse.daemon.backends.ollama import OllamaBackend
from roundhouse.daemon.backends.openai_compat import OpenAICompatBackend
from roundhouse.daemon.fleet.fleet import Fleet, Host, Origin, built_in_settings
from roundhouse.daemon.fleet.hosts import IN_PROCESS, HostSettings, key_name
from roundhouse.daemon.fleet.registry import HostRegistry

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon

log = logging.getLogger(__name__)


def backend_for(host: HostSettings, api_key: str | None, *, timeout_s: float = 300.0) -> Backend:
    if host.kind == "ollama":
        return OllamaBackend(host.name, host.url, timeout_s=timeout_s, local=host.local, api_key=api_key)
    return OpenAICompatBackend(host.name, host.api_base, api_key=api_key, local=host.local)


def _built_in(backend: Backend) -> Host | None:
    if not backend.local:
        return None
    if isinstance(backend, OllamaBackend):
        return Host(built_in_settings(backend, backend.host, "ollama"), "built-in", backend)
    if isinstance(backend, OpenAICompatBackend):
        return Host(
            built_in_settings(backend, backend.base_url.removesuffix("/v1"), "openai"), "built-in", backend
        )
    if backend.name == "embedded":
        return Host(built_in_settings(backend, IN_PROCESS, "llamacpp"), "built-in", backend)
    return None


class FleetWiring:
    """Keeps the catalog's backends, the fleet's hosts and the registry in step; a host added
    or removed by another process (the CLI) is picked up on the fleet's next look."""

    def __init__(self, daemon: Daemon, fleet: Fleet, registry: HostRegistry) -> None:
        self.daemon = daemon
        self.fleet = fleet
        self.registry = registry
        self._version: tuple[int, float] | None = None
        self._detached: list[Host] = []

    def configured(self) -> list[HostSettings]:
        return list(self.daemon.settings.hosts)

    def _attach(self, host: HostSettings, origin: Origin) -> None:
        key = self.daemon.secrets.get(key_name(host.name)) if host.has_key or origin == "config" else None
        backend = backend_for(host, key, timeout_s=self.daemon.settings.ollama.timeout_s)
        self.daemon.catalog.backends[host.name] = backend
        self.fleet.add(Host(host, origin, backend, api_key=key))

    def attach_all(self) -> None:
        for backend in list(self.daemon.catalog.backends.values()):
            host = _built_in(backend)
            if host is not None:
                self.fleet.add(host)
        taken = set(self.daemon.catalog.backends)
        for host in self.configured():
            if host.name in taken:
                log.warning("fleet: host name %s is taken by a built-in backend; skipped", host.name)
                continue
            self._attach(host, "config")
            taken.add(host.name)
        self.sync_registry()

    def sync_registry(self) -> bool:
        """Attach added hosts and detach removed ones; True when anything changed."""
        version = self.registry.version()
        if version == self._version:
            return False
        self._version = version
        wanted = {h.name: h for h in self.registry.list()}
        changed = False
        for name, host in list(self.fleet.hosts.items()):
            if host.origin == "added" and (name not in wanted or wanted[name] != host.settings):
                self.fleet.remove(name)
                self.daemon.catalog.backends.pop(name, None)
                self.daemon.catalog.health.pop(name, None)
                self._detached.append(host)  # closed once the requests it is answering are done
                changed = True
        for name, settings in wanted.items():
            if name in self.fleet.hosts or name in self.daemon.catalog.backends:
                continue
            self._attach(settings, "added")
            changed = True
        return changed

    async def sync(self) -> None:
        if self.sync_registry():
            await self.daemon.catalog.refresh(force=True)
        idle = [host for host in self._detached if host.in_flight == 0]
        self._detached = [host for host in self._detached if host.in_flight > 0]
        for host in idle:
            await host.backend.close()


def build(daemon: Daemon) -> tuple[Fleet, FleetWiring]:
    fleet = Fleet(daemon.settings.fleet, publish=daemon.events.publish)
    wiring = FleetWiring(daemon, fleet, HostRegistry(daemon.store, daemon.secrets))
    wiring.attach_all()
    fleet.sync = wiring.sync
    return fleet, wiring
