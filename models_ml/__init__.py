"""Plain-Python modelling library of the SaaS metrics warehouse (no Dagster here: DataFrames in, results out).

Modules: churn (calibrated churn classifier), forecast (monthly forecasts with calibrated intervals), retention
(shifted-beta-geometric retention and projected LTV), anomalies (metric alerts), recommendations (cost and plan
recommendations), evaluation (shared metrics), synthetic (known-answer inputs for tests and benchmarks).
"""
