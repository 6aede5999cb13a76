"""Settings → Routing: mode, which models serve each tier, privacy rules, and per-app policy."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop.routing_api import MODES, POLICY, policy_of, write_method
from roundhouse.desktop.slots import bind, bind_checked
from roundhouse.desktop.windows.common import Page, fit_columns

TIERS = ("fast", "balanced", "reasoning", "cloud")
TIERS_NOW = "/control/v1/routing/tiers"


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def exclude_cloud(cloud: QCheckBox, private: bool) -> None:
    """An app that is always private never goes to the cloud, so both never show as on."""
    if private:
        cloud.setChecked(False)
    cloud.setEnabled(not private)


class RoutingPage(Page):
    title = "Routing"
    required = POLICY
    capability_name = "Routing policy"

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        layout = QVBoxLayout(self.body)

        modes = QGroupBox("Mode")
        row = QHBoxLayout(modes)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for mode, label in MODES.items():
            button = QRadioButton(label)
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            row.addWidget(button)
        layout.addWidget(modes)

        tiers = QGroupBox("Tiers → models (best first, comma-separated; empty = chosen by size)")
        form = QFormLayout(tiers)
        self.tier_edits: dict[str, QLineEdit] = {}
        for tier in TIERS:
            self.tier_edits[tier] = QLineEdit()
            form.addRow(tier, self.tier_edits[tier])
        layout.addWidget(tiers)

        privacy = QGroupBox("Privacy: prompts matching these stay on this machine")
        grid = QHBoxLayout(privacy)
        self.keywords = QPlainTextEdit()
        self.keywords.setPlaceholderText("keywords, one per line")
        self.patterns = QPlainTextEdit()
        self.patterns.setPlaceholderText("regular expressions, one per line")
        grid.addWidget(self.keywords)
        grid.addWidget(self.patterns)
        layout.addWidget(privacy)

        apps = QGroupBox("Per-app policy")
        apps_box = QVBoxLayout(apps)
        self.apps = QTableWidget(0, 4)
        self.apps.setHorizontalHeaderLabels(["App", "Always private", "Cloud allowed", "Default tier"])
        fit_columns(self.apps)
        apps_box.addWidget(self.apps)
        add = QPushButton("Add app")
        add.clicked.connect(bind(self._add_app_row, "", {}))
        apps_box.addWidget(add)
        layout.addWidget(apps, 1)

        self.save = QPushButton("Save routing")
        self.save.clicked.connect(self.on_save)
        layout.addWidget(self.save)
        self.decisions = QLabel()
        self.decisions.setWordWrap(True)
        layout.addWidget(self.decisions)

    def reload(self) -> None:
        self.call(self.controller.client.get(POLICY), self.show_policy)
        if self.controller.monitor.snapshot.capabilities.has(TIERS_NOW):
            self.call(self.controller.client.get(TIERS_NOW), self.show_tiers_now)

    def show_tiers_now(self, data: dict[str, Any]) -> None:
        """What serves each tier now, as the hint of an empty field."""
        for tier, models in (data.get("tiers") or {}).items():
            if tier in self.tier_edits:
                now = ", ".join(models) if models else "no model available"
                self.tier_edits[tier].setPlaceholderText(f"now: {now}")

    def show_policy(self, data: dict[str, Any]) -> None:
        policy = policy_of(data)
        mode = str(policy.get("mode", "hybrid"))
        if mode in self.mode_buttons:
            self.mode_buttons[mode].setChecked(True)
        for tier, edit in self.tier_edits.items():
            edit.setText(", ".join((policy.get("tiers") or {}).get(tier, [])))
        privacy = policy.get("privacy") or {}
        self.keywords.setPlainText("\n".join(privacy.get("keywords", [])))
        self.patterns.setPlainText("\n".join(privacy.get("patterns", [])))
        self.apps.setRowCount(0)
        for app, rules in (policy.get("apps") or {}).items():
            self._add_app_row(app, rules)

    def _add_app_row(self, app: str, rules: dict[str, Any]) -> None:
        row = self.apps.rowCount()
        self.apps.insertRow(row)
        self.apps.setItem(row, 0, QTableWidgetItem(app))
        private = QCheckBox()
        cloud = QCheckBox()
        cloud.setChecked(bool(rules.get("allow_cloud", True)))
        cloud.setToolTip("An app that is always private never goes to the cloud.")
        private.toggled.connect(bind_checked(exclude_cloud, cloud))
        private.setChecked(bool(rules.get("private")))
        exclude_cloud(cloud, private.isChecked())
        tier = QComboBox()
        tier.addItems(["(by complexity)", *TIERS])
        if rules.get("default_tier") in TIERS:
            tier.setCurrentText(str(rules["default_tier"]))
        self.apps.setCellWidget(row, 1, private)
        self.apps.setCellWidget(row, 2, cloud)
        self.apps.setCellWidget(row, 3, tier)

    def patch(self) -> dict[str, Any]:
        mode = next((m for m, b in self.mode_buttons.items() if b.isChecked()), "hybrid")
        apps: dict[str, Any] = {}
        for row in range(self.apps.rowCount()):
            item = self.apps.item(row, 0)
            name = item.text().strip() if item else ""
            if not name:
                continue
            private = self.apps.cellWidget(row, 1)
            cloud = self.apps.cellWidget(row, 2)
            tier = self.apps.cellWidget(row, 3)
            assert (
                isinstance(private, QCheckBox)
                and isinstance(cloud, QCheckBox)
                and isinstance(tier, QComboBox)
            )
            apps[name] = {
                "private": private.isChecked(),
                "allow_cloud": cloud.isChecked() and not private.isChecked(),
                "default_tier": tier.currentText() if tier.currentIndex() > 0 else None,
            }
        return {
            "mode": mode,
            "tiers": {
                t: [m.strip() for m in e.text().split(",") if m.strip()] for t, e in self.tier_edits.items()
            },
            "privacy": {
                "keywords": lines(self.keywords.toPlainText()),
                "patterns": lines(self.patterns.toPlainText()),
            },
            "apps": apps,
        }

    def on_save(self) -> None:
        method = write_method(self.controller.monitor.snapshot.capabilities)
        if method is None:
            self.say("This daemon cannot change routing at runtime.", error=True)
            return
        client = self.controller.client
        self.call(
            client.request(method.upper(), POLICY, json=self.patch()),
            lambda data: (self.show_policy(data or {}), self.controller.monitor.refresh_soon()),
            done="Routing saved.",
        )
