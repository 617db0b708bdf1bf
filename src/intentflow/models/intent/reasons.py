"""Why a score is what it is: one feature's value and its part in the score, in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    """One feature's part in a score: its value and its SHAP contribution (log-odds).

    >>> Reason("add_to_carts_1h", 2.0, 1.234, "add-to-carts in 1h").words()
    'add-to-carts in 1h: 2, raises the intent (+1.23 log-odds)'
    """

    feature: str
    value: float | str | None
    contribution: float
    description: str = ""

    def words(self) -> str:
        """The reason in plain words."""
        what = self.description or self.feature.replace("_", " ")
        value = "missing" if self.value is None else _number(self.value)
        direction = "raises" if self.contribution > 0 else "lowers"
        return f"{what}: {value}, {direction} the intent ({self.contribution:+.2f} log-odds)"

    def to_json(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": self.value,
            "contribution": round(self.contribution, 4),
            "text": self.words(),
        }


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:g}" if float(value).is_integer() else f"{value:.3g}"
