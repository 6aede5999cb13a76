"""Builds the image service (called from app.py, after the router: privacy uses its detector)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roundhouse.daemon.images.dataset import ImageDataset
from roundhouse.daemon.images.service import AppRules, ImageService
from roundhouse.daemon.routing.settings import RoutingSettings

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


def build(daemon: Daemon) -> ImageService:
    settings = daemon.settings

    def private_kinds(text: str) -> list[str]:
        detector = getattr(daemon.router, "detector", None)  # the router may still be starting
        if detector is None or not settings.routing.privacy.enabled:
            return []
        return list(detector.kinds_in([text]))

    def routing() -> RoutingSettings:
        live = getattr(daemon.router, "settings", None)  # changed at run time through the control API
        return live if isinstance(live, RoutingSettings) else settings.routing

    def app_rules(app: str) -> AppRules:
        rules = routing()
        policy = rules.apps.get(app)
        private = policy is not None and policy.private
        if rules.mode == "local":
            return AppRules(private, "routing mode is local only")
        if policy is not None and not policy.allow_cloud:
            return AppRules(private, f"app '{app}' may not use the cloud")
        return AppRules(private, None)

    return ImageService(
        settings.images,
        dataset=ImageDataset(daemon.store, daemon.data_dir / "images"),
        store=daemon.store,
        events=daemon.events,
        secrets=daemon.secrets,
        residency=lambda: daemon.residency,
        spend=lambda: daemon.spend,
        private_kinds=private_kinds,
        app_rules=app_rules,
        cloud_api_base=settings.cloud.api_base,
    )
