"""The Budget window: budgets overall and per app, spend by day and provider, forecast, savings."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from roundhouse.desktop import spend_api
from roundhouse.desktop.windows.chart import StackedBars
from roundhouse.desktop.windows.common import Page, usd

# Events after which the spend shown is out of date.
LIVE_EVENTS = ("request.done", "budget.threshold")


def ignore(_exc: Exception) -> None:
    """A live refresh that fails leaves the figures shown; the next event tries again."""


def money_box() -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0, 1_000_000)
    box.setDecimals(2)
    box.setPrefix("$")
    box.setSpecialValueText("no limit")
    return box


def limit_of(box: QDoubleSpinBox) -> float | None:
    return box.value() or None


def show_spent(label: QLabel, info: dict[str, Any]) -> None:
    """ "spent $1.36 (136 %)", in red and bold once the budget is reached."""
    percent = info.get("percent")
    over = percent is not None and float(percent) >= 100
    label.setText(
        f"spent {usd(info.get('spent_usd', 0))}"
        + (
            f" ({float(percent):.0f} %{' — over budget' if float(percent) > 100 else ''})"
            if percent is not None
            else ""
        )
    )
    label.setStyleSheet("color: #b3261e; font-weight: bold;" if over else "")


class BudgetWindow(Page):
    title = "Budget"
    required = spend_api.SUMMARY
    capability_name = "Spend tracking"

    def __init__(self, controller: Any, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.setWindowTitle("Roundhouse Budget")
        self.setWindowIcon(icon)
        self.resize(760, 640)
        layout = QVBoxLayout(self.body)

        budgets = QGroupBox("Overall budget")
        form = QFormLayout(budgets)
        self.daily = money_box()
        self.monthly = money_box()
        self.daily_state = QLabel()
        self.monthly_state = QLabel()
        form.addRow("Daily", self.daily)
        form.addRow("", self.daily_state)
        form.addRow("Monthly", self.monthly)
        form.addRow("", self.monthly_state)
        layout.addWidget(budgets)

        apps = QGroupBox("Per app (daily / monthly; 0 = no limit)")
        apps_box = QVBoxLayout(apps)
        self.apps = QTableWidget(0, 4)
        self.apps.setHorizontalHeaderLabels(["App", "Daily", "Monthly", "Spent this month"])
        self.apps.horizontalHeader().setStretchLastSection(True)
        apps_box.addWidget(self.apps)
        add_row = QHBoxLayout()
        self.new_app = QLineEdit()
        self.new_app.setPlaceholderText("app name (as in Apps & tokens)")
        add = QPushButton("Add app budget")
        add.clicked.connect(self.on_add_app)
        add_row.addWidget(self.new_app, 1)
        add_row.addWidget(add)
        apps_box.addLayout(add_row)
        layout.addWidget(apps)

        self.save = QPushButton("Save budgets")
        self.save.clicked.connect(self.on_save)
        layout.addWidget(self.save)

        self.chart = StackedBars()
        self.chart_note = QLabel()
        self.chart_title = QLabel("Spend by day")
        layout.addWidget(self.chart_title)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.chart_note)
        self.providers = QLabel()
        self.forecast = QLabel()
        self.saved = QLabel()
        for label in (self.providers, self.forecast, self.saved):
            label.setWordWrap(True)
            layout.addWidget(label)
        controller.monitor.event.connect(self._on_event)

    def reload(self) -> None:
        self.call(self.controller.client.get(spend_api.SUMMARY), self.show_summary)
        caps = self.controller.monitor.snapshot.capabilities
        path = spend_api.by_day_path(caps)
        if path is None:
            self.chart.set_data([], {})
            self.chart_note.setText("This daemon has no daily spend report yet, so there is no chart.")
        else:
            self.chart_note.setText("")
            self.call(self.controller.client.get(path), self.show_days)
        self.save.setEnabled(spend_api.budget_write_method(caps) is not None)
        if caps.has(spend_api.BY_PROVIDER):
            self.call(self.controller.client.get(spend_api.BY_PROVIDER), self.show_providers)

    def _on_event(self, event: dict[str, Any]) -> None:
        """A request just finished or a budget threshold passed: show what it cost, keeping any
        budget the user is typing."""
        if event.get("kind") in LIVE_EVENTS and self.isVisible() and not self.showing_notice:
            self.refresh_spend()

    def refresh_spend(self) -> None:
        client = self.controller.client
        self.call(client.get(spend_api.SUMMARY), self.show_spend, on_error=ignore)
        caps = self.controller.monitor.snapshot.capabilities
        path = spend_api.by_day_path(caps)
        if path is not None:
            self.call(client.get(path), self.show_days, on_error=ignore)
        if caps.has(spend_api.BY_PROVIDER):
            self.call(client.get(spend_api.BY_PROVIDER), self.show_providers, on_error=ignore)

    def show_days(self, data: Any) -> None:
        days, series = spend_api.chart_data(data)
        self.chart.set_data(days, series)
        by_provider = len(series) > 1 or (series and "all" not in series)
        self.chart_title.setText(
            "Spend by day and provider" if by_provider else "Spend by day (all providers)"
        )

    def on_add_app(self) -> None:
        name = self.new_app.text().strip()
        if not name:
            return
        row = self.apps.rowCount()
        self.apps.insertRow(row)
        self.apps.setItem(row, 0, QTableWidgetItem(name))
        self.apps.setCellWidget(row, 1, money_box())
        self.apps.setCellWidget(row, 2, money_box())
        self.apps.setItem(row, 3, QTableWidgetItem(usd(0)))
        self.new_app.clear()

    def show_providers(self, data: Any) -> None:
        rows = spend_api.provider_rows(data)
        parts = [f"{name} {usd(cost)} ({requests} requests)" for name, cost, requests in rows]
        self.providers.setText(
            "This month by provider: " + (", ".join(parts) if parts else "no requests yet")
        )

    def show_summary(self, summary: dict[str, Any]) -> None:
        budgets = summary.get("budgets") or {}
        overall = budgets.get("overall") or {}
        for box, window in ((self.daily, "daily"), (self.monthly, "monthly")):
            box.setValue(float((overall.get(window) or {}).get("budget_usd") or 0))
        apps = budgets.get("apps") or {}
        self.apps.setRowCount(len(apps))
        for row, (app, info) in enumerate(apps.items()):
            self.apps.setItem(row, 0, QTableWidgetItem(app))
            for column, window in ((1, "daily"), (2, "monthly")):
                box = money_box()
                box.setValue(float((info.get(window) or {}).get("budget_usd") or 0))
                self.apps.setCellWidget(row, column, box)
            self.apps.setItem(row, 3, QTableWidgetItem(usd((info.get("monthly") or {}).get("spent_usd", 0))))
        self.show_spend(summary)

    def show_spend(self, summary: dict[str, Any]) -> None:
        """What was spent and what it forecasts; the budgets being edited stay as they are."""
        budgets = summary.get("budgets") or {}
        overall = budgets.get("overall") or {}
        show_spent(self.daily_state, overall.get("daily") or {})
        show_spent(self.monthly_state, overall.get("monthly") or {})
        apps = budgets.get("apps") or {}
        for row in range(self.apps.rowCount()):
            item = self.apps.item(row, 0)
            info = apps.get(item.text()) if item else None
            if isinstance(info, dict):
                spent = (info.get("monthly") or {}).get("spent_usd", 0)
                self.apps.setItem(row, 3, QTableWidgetItem(usd(spent)))
        forecast = summary.get("forecast") or {}
        if forecast:
            over = " — over the monthly budget" if forecast.get("over_budget") else ""
            self.forecast.setText(
                f"Month-end forecast: {usd(forecast.get('forecast_usd'))} "
                f"({usd(forecast.get('spent_usd'))} so far, {usd(forecast.get('daily_rate_usd'))}/day){over}"
            )
        saved = summary.get("saved") or {}
        if saved:
            self.saved.setText(
                f"Local models saved {usd(saved.get('saved_usd'))} this month "
                f"compared with {saved.get('reference_model')}."
            )

    def patch(self) -> dict[str, Any]:
        apps: dict[str, Any] = {}
        for row in range(self.apps.rowCount()):
            daily, monthly = self.apps.cellWidget(row, 1), self.apps.cellWidget(row, 2)
            assert isinstance(daily, QDoubleSpinBox) and isinstance(monthly, QDoubleSpinBox)
            apps[self.apps.item(row, 0).text()] = {
                "daily_usd": limit_of(daily),
                "monthly_usd": limit_of(monthly),
            }
        return {
            "budget": {"daily_usd": limit_of(self.daily), "monthly_usd": limit_of(self.monthly)},
            "apps": apps,
        }

    def on_save(self) -> None:
        method = spend_api.budget_write_method(self.controller.monitor.snapshot.capabilities)
        if method is None:
            self.say("This daemon cannot change budgets at runtime.", error=True)
            return
        client = self.controller.client
        self.call(
            client.request(method.upper(), spend_api.BUDGETS, json=self.patch()),
            lambda _: self.reload(),
            done="Budgets saved.",
        )
