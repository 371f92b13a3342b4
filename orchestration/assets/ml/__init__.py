"""ML assets (group `ml`): thin wrappers that read marts, call the plain-Python library `models_ml` and write
`ml.*` tables stamped with the run (and model version) that produced them, the evaluation attached as metadata.

    churn_model (weekly training) -> churn_predictions (daily scoring)
    mrr_forecast + forecast_backtests, ltv_projection, metric_alerts, cost_recommendations (daily)
"""

from __future__ import annotations

import dagster as dg

from orchestration.assets.ml.alerts import build_alert_assets
from orchestration.assets.ml.churn import build_churn_assets
from orchestration.assets.ml.common import ML_GROUP, WEEKLY_TRAINING_TAGS
from orchestration.assets.ml.forecasts import build_forecast_assets
from orchestration.assets.ml.recommendations import build_recommendation_assets
from orchestration.assets.ml.retention import build_retention_assets
from orchestration.settings import Settings

__all__ = ["ML_GROUP", "WEEKLY_TRAINING_TAGS", "build_ml_assets"]


def build_ml_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    return [
        *build_churn_assets(settings),
        *build_forecast_assets(settings),
        *build_retention_assets(settings),
        *build_alert_assets(settings),
        *build_recommendation_assets(settings),
    ]
