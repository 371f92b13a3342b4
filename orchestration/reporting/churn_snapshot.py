"""The churn-model snapshot a report shows (monthly review's at-risk table, weekly churn-risk list).

A snapshot scored after newer months had closed (ml.churn_predictions.scored_retrospectively: the first scoring
of an existing history) carries a mark and a footnote: its model was trained on later data, including that
snapshot's outcomes, so it is not what the model would have said at the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from orchestration.reporting.formatting import month_label

MARK = "*"


@dataclass(frozen=True)
class ChurnSnapshot:
    month: str  # 'Oct 2026', or '–' without predictions
    retrospective: bool

    @classmethod
    def of(cls, predictions: pd.DataFrame) -> ChurnSnapshot:
        """The newest snapshot among `predictions` (the report queries select one)."""
        months = pd.to_datetime(predictions["snapshot_month"])
        if months.isna().all():
            return cls(month_label(None), retrospective=False)
        newest = months == months.max()
        retrospective = bool(predictions.loc[newest, "scored_retrospectively"].eq(True).any())
        return cls(month_label(months.max()), retrospective)

    @property
    def label(self) -> str:
        """The month, marked when the footnote applies."""
        return self.month + (MARK if self.retrospective else "")

    @property
    def notes(self) -> list[str]:
        if not self.retrospective:
            return []
        return [
            f"{MARK} The {self.month} churn snapshot was scored retrospectively, by a model trained on later data "
            "that includes its outcomes."
        ]
