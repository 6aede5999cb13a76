"""Builds the image service (called from app.py, after the router: privacy uses its detector)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roundhouse.daemon.images.dataset import ImageDataset
from roundhouse.daemon.images.service import ImageService

if TYPE_CHECKING:
    from roundhouse.daemon.app import Daemon


def build(daemon: Daemon) -> ImageService:
    settings = daemon.settings

    def private_kinds(text: str) -> list[str]:
        detector = getattr(daemon.router, "detector", None)  # the router may still be starting
        if detector is None or not settings.routing.privacy.enabled:
            return []
        return list(detector.kinds_in([text]))

    return ImageService(
        settings.images,
        dataset=ImageDataset(daemon.store, daemon.data_dir / "images"),
        store=daemon.store,
        events=daemon.events,
        secrets=daemon.secrets,
        residency=lambda: daemon.residency,
        spend=lambda: daemon.spend,
        private_kinds=private_kinds,
        cloud_api_base=settings.cloud.api_base,
    )
