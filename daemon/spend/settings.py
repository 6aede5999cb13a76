"""Settings of the spend component (the [spend] table of config.toml).

Budgets are editable at runtime through `/control/v1/spend/budgets`; runtime edits are
kept in the database and win over the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator


class Budget(BaseModel):
    """US dollars; None means no limit for that window."""

    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)


class Price(BaseModel):
    """A price override, US dollars per million tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class SpendSettings(BaseModel):
    budget: Budget = Field(default_factory=Budget)
    apps: dict[str, Budget] = Field(default_factory=dict)
    # What `auto` and `cloud` do once a budget is spent: serve locally, or refuse with 402.
    on_exhausted: Literal["local", "refuse"] = "local"
    thresholds: list[int] = Field(default_factory=lambda: [50, 80, 100])
    # The cloud model whose prices give the "saved" figure for locally served requests.
    reference_model: str = "gpt-4o"
    prices: dict[str, Price] = Field(default_factory=dict)
    # How long budget totals read from the ledger are reused before reading again.
    refresh_s: float = Field(default=2.0, ge=0)

    @field_validator("thresholds")
    @classmethod
    def _percentages(cls, values: list[int]) -> list[int]:
        if any(v <= 0 or v > 100 for v in values):
            raise ValueError("thresholds are percentages between 1 and 100")
        return sorted(set(values))
