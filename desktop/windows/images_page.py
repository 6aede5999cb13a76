"""Settings → Images: what ComfyUI is doing, the images drawn here to rate 1-5 (the image trainer
learns from the ratings), and the dataset saved as a zip."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.images_api import (
    EXPORT,
    EXPORT_NAME,
    IMAGES,
    RECENT,
    SCORES,
    comfyui_text,
    dataset_text,
    details_text,
    images_of,
    rating_path,
    read_bytes,
    score_of,
)
from roundhouse.desktop.monitor import Snapshot
from roundhouse.desktop.slots import bind
from roundhouse.desktop.windows.common import Page

THUMBNAIL = 160
CARD_WIDTH = THUMBNAIL + 20
SPACING = 8
SHOWN = 24
NO_IMAGES = (
    "No images yet. Images drawn through Roundhouse (POST /v1/images/generations, e.g. Open WebUI's "
    "image button) show here to rate; private prompts' images never do."
)
# ComfyUI's state changes on its own: read it again at most this often while the page shows.
REREAD_S = 15.0
# A read that has not answered in this long is taken as lost, and the next poll reads again.
STALE_READ_S = 30.0


class ImageCard(QFrame):
    """One image: its thumbnail, prompt, settings, and five buttons that rate it."""

    def __init__(self, image: dict[str, Any], on_rate: Any) -> None:
        super().__init__()
        self.image_id = str(image["id"])
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(CARD_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.picture = QLabel("loading…")
        self.picture.setFixedSize(THUMBNAIL, THUMBNAIL)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.picture)
        self.prompt = QLabel()
        self.prompt.setWordWrap(True)
        self.prompt.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.prompt)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setStyleSheet("color: #5a6270;")
        layout.addWidget(self.details)
        self.badge = QLabel("Trainer variant")
        self.badge.setWordWrap(True)
        self.badge.setStyleSheet("color: #23395d; font-weight: bold;")
        layout.addWidget(self.badge)
        row = QHBoxLayout()
        row.setSpacing(2)
        self.buttons: dict[int, QToolButton] = {}
        for score in SCORES:
            button = QToolButton()
            button.setText(str(score))
            button.setCheckable(True)
            button.setToolTip(f"Rate it {score} of 5")
            button.clicked.connect(bind(on_rate, self.image_id, score))
            row.addWidget(button)
            self.buttons[score] = button
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)
        self.show_image(image)

    def show_image(self, image: dict[str, Any]) -> None:
        self.image = image
        self.prompt.setText(str(image.get("prompt") or ""))
        negative = image.get("negative_prompt")
        self.prompt.setToolTip(f"Negative prompt: {negative}" if negative else "")
        self.details.setText(details_text(image))
        self.details.setToolTip(str(image.get("model") or ""))
        self.badge.setVisible(image.get("source") == "trainer")
        if image.get("variant_of"):
            self.badge.setToolTip(f"The image trainer's variant of {image['variant_of']}")
        self.show_score(score_of(image))

    def show_score(self, score: int | None) -> None:
        for value, button in self.buttons.items():
            button.setChecked(value == score)

    def show_picture(self, pixmap: QPixmap | None) -> None:
        if pixmap is None:
            self.picture.setText("not available")
        else:
            self.picture.setPixmap(pixmap)


class CardGrid(QWidget):
    """Cards in as many columns as the width allows; it never asks for more width than it has."""

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(SPACING)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.cards: list[ImageCard] = []
        self._columns = 0

    def columns_for(self, width: int) -> int:
        return max(1, (width + SPACING) // (CARD_WIDTH + SPACING))

    def set_cards(self, cards: list[ImageCard]) -> None:
        for card in self.cards:
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards = cards
        self._columns = 0
        self._place()

    def _place(self) -> None:
        columns = self.columns_for(self.width())
        if columns == self._columns:
            return
        self._columns = columns
        for card in self.cards:
            self.grid.removeWidget(card)
        for index, card in enumerate(self.cards):
            self.grid.addWidget(card, index // columns, index % columns)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._place()


class ImagesPage(Page):
    title = "Images"
    required = RECENT
    capability_name = "Image rating"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)
        intro = QLabel(
            "Images Roundhouse drew, newest first. Rate them 1 (bad) to 5 (best): the image trainer "
            "learns from your ratings which settings suit which prompts."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.comfyui = QLabel()
        self.comfyui.setWordWrap(True)
        self.comfyui.setObjectName("comfyui")
        layout.addWidget(self.comfyui)
        self.dataset = QLabel()
        self.dataset.setWordWrap(True)
        layout.addWidget(self.dataset)
        buttons = QHBoxLayout()
        self.export = QPushButton("Export dataset…")
        self.export.setToolTip("Save every rated and unrated image, with its prompt and settings, as a zip.")
        buttons.addWidget(self.export)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.empty = QLabel(NO_IMAGES)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("empty")
        layout.addWidget(self.empty)
        self.grid = CardGrid()
        layout.addWidget(self.grid)
        layout.addStretch(1)

        self._images: list[dict[str, Any]] | None = None
        self._pixmaps: dict[str, QPixmap | None] = {}
        self._reading_since: float | None = None
        self._read_at = 0.0
        self.export.clicked.connect(self.on_export)
        controller.monitor.event.connect(self._on_event)
        self.show_images({"images": []})

    @property
    def cards(self) -> dict[str, ImageCard]:
        return {card.image_id: card for card in self.grid.cards}

    # -- reading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self._read(self.fail_or_missing)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        busy = self._reading_since is not None and time.monotonic() - self._reading_since < STALE_READ_S
        if not busy and time.monotonic() - self._read_at >= REREAD_S:
            self._read(lambda _exc: None)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("kind", ""))
        drew = kind == "request.done" and bool((event.get("data") or {}).get("images"))
        if (drew or kind.startswith("images.")) and self.isVisible() and not self.showing_notice:
            self._read(lambda _exc: None)

    def _read(self, on_error: Any) -> None:
        self._reading_since = self._read_at = time.monotonic()
        client = self.controller.client

        async def both() -> tuple[Any, Any]:
            return await asyncio.gather(client.get(IMAGES), client.get(RECENT, limit=SHOWN))

        def done(answers: tuple[Any, Any]) -> None:
            self._reading_since = None
            self.show_status(answers[0])
            self.show_images(answers[1])

        def failed(exc: Exception) -> None:
            self._reading_since = None
            on_error(exc)

        self.call(both(), done, on_error=failed)

    def show_status(self, status: Any) -> None:
        status = status if isinstance(status, dict) else {}
        self.comfyui.setText(comfyui_text(status))
        up = bool((status.get("comfyui") or {}).get("up"))
        self.comfyui.setStyleSheet("" if up else "color: #b3261e;")
        self.dataset.setText(dataset_text(status))

    def show_images(self, data: Any) -> None:
        images = images_of(data)
        if images == self._images:
            return  # nothing changed: leave the cards (and the pointer over one) alone
        cards = self.cards
        if self._images is not None and [i["id"] for i in images] == [i["id"] for i in self._images]:
            for image in images:
                cards[str(image["id"])].show_image(image)
        else:
            made = [ImageCard(image, self.on_rate) for image in images]
            self.grid.set_cards(made)
            for card in made:
                self._show_thumbnail(card)
        self._images = images
        self.grid.setVisible(bool(images))
        self.empty.setVisible(not images)

    def _show_thumbnail(self, card: ImageCard) -> None:
        image_id = card.image_id
        if image_id in self._pixmaps:
            card.show_picture(self._pixmaps[image_id])
            return
        url = str(card.image.get("url") or "")

        def loaded(data: bytes) -> None:
            pixmap = QPixmap()
            if pixmap.loadFromData(data):
                pixmap = pixmap.scaled(
                    THUMBNAIL,
                    THUMBNAIL,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
                self._pixmaps[image_id] = pixmap
            shown = self.cards.get(image_id)
            if shown is not None:
                shown.show_picture(self._pixmaps.get(image_id))

        def missing(_exc: Exception) -> None:
            shown = self.cards.get(image_id)
            if shown is not None:
                shown.show_picture(None)

        self.call(read_bytes(self.controller.client, url), loaded, on_error=missing)

    # -- changing ------------------------------------------------------------------------------

    def on_rate(self, image_id: str, score: int) -> None:
        card = self.cards.get(image_id)
        if card is None:
            return
        before = score_of(card.image)
        card.show_score(score)

        def rated(answer: Any) -> None:
            image = answer.get("image") if isinstance(answer, dict) else None
            shown = self.cards.get(image_id)
            if isinstance(image, dict) and shown is not None:
                merged = {**shown.image, **image}
                shown.show_image(merged)
                if self._images is not None:
                    self._images = [merged if i["id"] == image_id else i for i in self._images]
            self.say(f"Rated it {score} of 5.")
            self._read(lambda _exc: None)  # the dataset's counts

        def refused(exc: Exception) -> None:
            shown = self.cards.get(image_id)
            if shown is not None:
                shown.show_score(before)
            self.fail(exc)

        self.call(
            self.controller.client.post(rating_path(image_id), {"score": score}), rated, on_error=refused
        )

    def on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the image dataset", str(Path.home() / EXPORT_NAME), "Zip archives (*.zip)"
        )
        if path:
            self.save_export(Path(path))

    def save_export(self, path: Path) -> None:
        """Save the dataset (dataset.jsonl and the images) as a zip at `path`."""
        self.export.setEnabled(False)

        def save(data: bytes) -> None:
            self.export.setEnabled(True)
            try:
                path.write_bytes(data)
            except OSError as exc:
                self.say(f"Could not save {path}: {exc.strerror or exc}", error=True)
                return
            self.say(f"Saved the dataset to {path}.")

        def failed(exc: Exception) -> None:
            self.export.setEnabled(True)
            self.fail(exc)

        self.call(
            read_bytes(self.controller.client, EXPORT, timeout_s=300.0),
            save,
            busy="Exporting the dataset…",
            on_error=failed,
        )
