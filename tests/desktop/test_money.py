"""Money reads as money in every window: the chart's axis, the budget lines, the request costs."""

from __future__ import annotations

from typing import Any

from tests.desktop.conftest import DaemonProcess


def test_money_is_formatted_alike_and_over_budget_stands_out(
    qtbot: Any, daemon: DaemonProcess, make_controller: Any
) -> None:
    from roundhouse.desktop.money import usd

    assert [usd(v) for v in (0.00066, 0.0143, 12.5, 0, 0.00001)] == [
        "$0.0007",
        "$0.01",
        "$12.50",
        "$0.00",
        "<$0.0001",
    ]
    controller = make_controller(daemon.url)
    qtbot.waitUntil(lambda: controller.monitor.snapshot.reachable, timeout=15_000)
    window = controller.open_budget()
    qtbot.waitExposed(window)
    # The window's own reading of the daemon lands first; then the figures below are shown.
    qtbot.waitUntil(lambda: "forecast" in window.forecast.text(), timeout=10_000)

    window.chart.set_data(["2026-12-03", "2026-12-04"], {"all": [0.0021, 0.0143]})
    assert window.chart.axis_top() >= max(window.chart.totals()), "the axis never reads below a bar"
    assert usd(window.chart.axis_top()) == "$0.02"

    window.show_summary(
        {
            "budgets": {
                "overall": {
                    "daily": {"budget_usd": 0.01, "spent_usd": 0.0136, "percent": 136.0},
                    "monthly": {"budget_usd": 5.0, "spent_usd": 0.00066, "percent": 0.0132},
                }
            }
        }
    )
    assert window.daily_state.text() == "spent $0.01 (136 % — over budget)"
    assert "#b3261e" in window.daily_state.styleSheet()
    assert window.monthly_state.text() == "spent $0.0007 (0 %)"
    assert window.monthly_state.styleSheet() == ""

    status = controller.show_status()
    status.show_requests(
        [{"app": "editor", "model_used": "m", "backend": "openai", "status": 200, "cost_usd": 0.00066}]
    )
    assert status.requests.item(0, 4).text() == "$0.0007"
