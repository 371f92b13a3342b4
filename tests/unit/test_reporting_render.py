"""Render every report from the sample data and check the numbers in HTML, PDF text, XLSX cells and CSV files
against the inputs (not against the renderer's own summary)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from orchestration.reporting import (
    MONTHLY_BUSINESS_REVIEW,
    WEEKLY_CHURN_RISK,
    WEEKLY_USAGE_COST,
    ReportDataError,
    churn_risk,
    monthly_review,
    render_report,
    weekly_usage,
)
from orchestration.reporting.formatting import integer, money, pct, signed_pct
from orchestration.reporting.frames import MASKED_NAME
from orchestration.reporting.render import render_html
from orchestration.reporting.sample_data import sample_churn_risk, sample_monthly_review, sample_weekly_usage


@pytest.fixture(scope="module")
def inputs():
    return {
        MONTHLY_BUSINESS_REVIEW: sample_monthly_review("2026-10"),
        WEEKLY_USAGE_COST: sample_weekly_usage("2026-W43"),
        WEEKLY_CHURN_RISK: sample_churn_risk("2026-W43"),
    }


@pytest.fixture(scope="module")
def rendered(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return {name: render_report(name, data, out, mask_names=False) for name, data in inputs.items()}


def html_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def pdf_text(path: Path) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return re.sub(r"[ \t]+", " ", text)


def sheet_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    workbook = openpyxl.load_workbook(path)
    rows = list(workbook[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def period_row(frame: pd.DataFrame, column: str, month: str) -> pd.Series:
    return frame.loc[pd.to_datetime(frame[column]) == pd.Timestamp(month)].iloc[0]


# ---- files -----------------------------------------------------------------------------------------------------------


def test_files_have_stable_names_and_checksums(rendered):
    mbr = rendered[MONTHLY_BUSINESS_REVIEW]
    assert mbr.directory.parts[-2:] == (MONTHLY_BUSINESS_REVIEW, "2026-10")
    assert mbr.html.name == "monthly_business_review_2026-10.html"
    assert mbr.pdf.name == "monthly_business_review_2026-10.pdf"
    assert mbr.xlsx.name == "monthly_business_review_2026-10.xlsx"
    assert {"headline_kpis", "mrr_movements", "plan_mix", "cash_view", "accounts_at_risk", "open_alerts"} <= set(
        mbr.csvs
    )
    assert rendered[WEEKLY_USAGE_COST].directory.name == "2026-W43"
    for report in rendered.values():
        assert not [p for p in report.directory.iterdir() if p.name.endswith(".tmp")]
        for file in report.files:
            assert hashlib.sha256(file.path.read_bytes()).hexdigest() == file.sha256
            assert file.path.stat().st_size == file.size_bytes
        assert report.pdf.read_bytes().startswith(b"%PDF")
        assert len(PdfReader(report.pdf).pages) >= 2


def test_html_is_self_contained_and_responsive(rendered):
    for report in rendered.values():
        html = html_text(report.html)
        assert '<meta name="viewport"' in html
        assert "@media print" in html and "@media screen and (max-width" in html
        # No external resources: every image is inline, no stylesheet or script links.
        assert not re.search(r"<(link|script)\b", html)
        assert not re.search(r'src="(?!data:)', html)
    assert html_text(rendered[MONTHLY_BUSINESS_REVIEW].html).count('src="data:image/svg+xml;base64,') == 8


# ---- monthly business review -----------------------------------------------------------------------------------------


def test_monthly_review_headline_numbers(inputs, rendered):
    kpi = inputs[MONTHLY_BUSINESS_REVIEW].kpi_monthly
    now, before, year_ago = (period_row(kpi, "month", m) for m in ("2026-10-01", "2026-09-01", "2025-10-01"))
    report = rendered[MONTHLY_BUSINESS_REVIEW]
    html, text = html_text(report.html), pdf_text(report.pdf)
    expected = [
        money(now["mrr"]),
        money(now["arr"]),
        integer(now["paying_customers"]),
        pct(now["nrr"]),
        pct(now["grr"]),
        pct(now["logo_churn_rate"]),
        f"{now['quick_ratio']:.2f}",
        money(now["arpa"]),
        pct(now["gross_margin_pct"] / 100),
        signed_pct(now["mrr"] / before["mrr"] - 1),
        signed_pct(now["mrr"] / year_ago["mrr"] - 1),
    ]
    for value in expected:
        assert value in html, value
        assert value in text, value
    # Open month after the period is never shown as if closed.
    open_month = kpi.loc[~kpi["is_closed_month"].astype(bool)].iloc[0]
    assert money(open_month["mrr"]) not in html

    cells = {row["Metric"]: row for row in sheet_rows(report.xlsx, "headline_kpis")}
    assert cells["MRR"]["Value"] == pytest.approx(now["mrr"])
    assert cells["MRR"]["Change vs prior month"] == pytest.approx(now["mrr"] / before["mrr"] - 1)
    assert cells["NRR (trailing 12 months)"]["Change vs prior year"] == pytest.approx(now["nrr"] - year_ago["nrr"])
    assert cells["Paying customers"]["Value"] == now["paying_customers"]


def test_monthly_review_movements_hold_the_identity(inputs, rendered):
    movements = period_row(inputs[MONTHLY_BUSINESS_REVIEW].mrr_movements, "month", "2026-10-01")
    report = rendered[MONTHLY_BUSINESS_REVIEW]
    csv = pd.read_csv(report.csvs["mrr_movements"]).set_index("movement")["amount"]
    columns = [
        "starting_mrr",
        "new_mrr",
        "reactivation_mrr",
        "expansion_mrr",
        "contraction_mrr",
        "churned_mrr",
        "fx_adjustment",
        "ending_mrr",
    ]
    assert csv.to_numpy() == pytest.approx(movements[columns].astype(float).to_numpy())
    assert csv.iloc[:-1].sum() == pytest.approx(csv["Ending MRR"])
    xlsx = {row["Movement"]: row["Amount"] for row in sheet_rows(report.xlsx, "mrr_movements")}
    assert xlsx["Churn"] == pytest.approx(movements["churned_mrr"]) and xlsx["Churn"] < 0
    text = pdf_text(report.pdf)
    for column in ("starting_mrr", "churned_mrr", "fx_adjustment", "ending_mrr"):
        assert money(movements[column]) in text


def test_monthly_review_tables_match_inputs(inputs, rendered):
    data = inputs[MONTHLY_BUSINESS_REVIEW]
    report = rendered[MONTHLY_BUSINESS_REVIEW]
    billing = period_row(data.billing_monthly, "month", "2026-10-01")
    cash = pd.read_csv(report.csvs["cash_view"])
    assert cash.loc[cash["month"] == "2026-10-01", "billings_reporting"].item() == pytest.approx(
        billing["billings_reporting"]
    )
    assert money(billing["collections_reporting"]) in pdf_text(report.pdf)
    plans = data.mrr_by_plan.loc[pd.to_datetime(data.mrr_by_plan["month"]) == "2026-10-01"]
    plan_mix = pd.read_csv(report.csvs["plan_mix"])
    assert plan_mix["mrr"].sum() == pytest.approx(plans["mrr"].sum())
    assert plan_mix["share_of_mrr"].sum() == pytest.approx(1.0)
    top = data.churn_predictions.nlargest(10, "mrr_at_risk")
    at_risk = pd.read_csv(report.csvs["accounts_at_risk"])
    assert at_risk["customer_id"].tolist() == top["customer_id"].tolist()
    html = html_text(report.html)
    for name in top["customer_name"]:
        assert name in html
    # Names appear only in the at-risk table: a customer outside it is not in the report.
    others = data.churn_predictions.loc[~data.churn_predictions["customer_id"].isin(top["customer_id"])]
    assert not [n for n in others["customer_name"] if n in html and n not in set(top["customer_name"])]
    assert len(pd.read_csv(report.csvs["open_alerts"])) == len(data.metric_alerts)
    for term in ("MRR movements", "NRR (trailing 12 months)", "Quick ratio", "Cash view", "LTV (simple)"):
        assert term in html


def test_xlsx_is_typed_with_frozen_headers(rendered):
    report = rendered[MONTHLY_BUSINESS_REVIEW]
    workbook = openpyxl.load_workbook(report.xlsx)
    assert workbook.sheetnames[0] == "headline_kpis"
    assert set(workbook.sheetnames) == set(report.csvs)
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(cell.font.b for cell in sheet[1])
    cash = workbook["cash_view"]
    header = [c.value for c in cash[1]]
    month_cell = cash.cell(2, header.index("Month") + 1)
    billings_cell = cash.cell(2, header.index("Billings") + 1)
    failed_cell = cash.cell(2, header.index("Failed payments") + 1)
    assert isinstance(month_cell.value, dt.datetime) and month_cell.number_format == "mmm yyyy"
    assert isinstance(billings_cell.value, float) and billings_cell.number_format == "#,##0"
    assert isinstance(failed_cell.value, int | float)
    plan = workbook["plan_mix"]
    share = next(c for c in plan[2] if plan.cell(1, c.column).value == "Share of MRR")
    assert share.number_format == "0.0%" and 0 < share.value < 1


# ---- weekly usage & cost ---------------------------------------------------------------------------------------------


def test_weekly_usage_numbers(inputs, rendered):
    data = inputs[WEEKLY_USAGE_COST]
    report = rendered[WEEKLY_USAGE_COST]
    usage = data.usage_by_model
    cost, prev = usage["cost_usd"].sum(), usage["cost_usd_prev_week"].sum()
    html, text = html_text(report.html), pdf_text(report.pdf)
    for value in (
        money(cost),
        signed_pct(cost / prev - 1),
        integer(usage["requests"].sum()),
        integer(usage["total_tokens"].sum()),
    ):
        assert value in html and value in text, value
    by_model = {(r["Service"], r["Model"]): r for r in sheet_rows(report.xlsx, "usage_by_model")}
    for row in usage.itertuples():
        cell = by_model[(row.service, row.model)]
        assert cell["Cost"] == pytest.approx(row.cost_usd)
        assert cell["Requests"] == row.requests
        assert cell["Cost WoW"] == pytest.approx(row.cost_usd / row.cost_usd_prev_week - 1)
    negative = pd.read_csv(report.csvs["negative_margin_customers"])
    expected = data.customer_margin.loc[data.customer_margin["gross_margin"] < 0]
    assert sorted(negative["customer_id"]) == sorted(expected["customer_id"])
    # This week's actual cost in the trend equals the sum of the daily costs of the ISO week.
    trend = pd.read_csv(report.csvs["cost_trend"]).set_index("week")
    daily = data.cost_daily.assign(day=pd.to_datetime(data.cost_daily["day"]))
    week = daily.loc[(daily["day"] >= "2026-10-19") & (daily["day"] <= "2026-10-25"), "cost_usd"].sum()
    assert trend.loc["2026-W43", "actual"] == pytest.approx(week)
    assert trend["forecast_mean"].notna().any()
    savings = data.cost_recommendations["estimated_monthly_saving_usd"].sum()
    assert money(savings) in text
    perf = pd.read_csv(report.csvs["service_performance"]).set_index("service")
    assert set(perf.index) == set(data.service_performance["service"])
    assert "customer_name" not in html


# ---- churn-risk list -------------------------------------------------------------------------------------------------


def test_churn_risk_lists_every_high_and_medium_customer(inputs, rendered):
    predictions = inputs[WEEKLY_CHURN_RISK].churn_predictions
    report = rendered[WEEKLY_CHURN_RISK]
    listed = predictions.loc[predictions["risk_band"].isin(["high", "medium"])]
    csv = pd.read_csv(report.csvs["churn_risk_list"])
    assert sorted(csv["customer_id"]) == sorted(listed["customer_id"])
    assert csv["risk_band"].tolist() == sorted(csv["risk_band"], key=["high", "medium"].index)
    html, text = html_text(report.html), pdf_text(report.pdf)
    top = listed.sort_values("mrr_at_risk", ascending=False).iloc[0]
    assert top["customer_name"] in html and top["customer_name"] in text
    assert money(top["mrr_at_risk"]) in text
    low = predictions.loc[predictions["risk_band"] == "low", "customer_id"]
    assert not set(low) & set(csv["customer_id"])
    rows = sheet_rows(report.xlsx, "churn_risk_list")
    assert len(rows) == len(listed)
    assert isinstance(rows[0]["Last active"], dt.datetime) and isinstance(rows[0]["Tenure (months)"], int | float)
    assert money(listed.loc[listed["risk_band"] == "high", "mrr_at_risk"].sum()) in html


# ---- determinism, masking, bad input ---------------------------------------------------------------------------------


def test_rerendering_gives_identical_files(inputs, rendered, tmp_path):
    for name in (WEEKLY_CHURN_RISK, MONTHLY_BUSINESS_REVIEW):
        again = render_report(name, inputs[name], tmp_path, mask_names=False)
        first = {f.path.name: f.sha256 for f in rendered[name].files}
        second = {f.path.name: f.sha256 for f in again.files}
        assert first == second  # HTML, CSV, XLSX and PDF: same bytes from the same inputs


def test_masked_names_never_appear(inputs, tmp_path):
    for name in (WEEKLY_CHURN_RISK, MONTHLY_BUSINESS_REVIEW):
        report = render_report(name, inputs[name], tmp_path, mask_names=True)
        names = set(inputs[name].churn_predictions["customer_name"])
        texts = [html_text(report.html), pdf_text(report.pdf)] + [p.read_text() for p in report.csvs.values()]
        workbook = openpyxl.load_workbook(report.xlsx)
        texts += [str(c.value) for s in workbook.worksheets for row in s.iter_rows() for c in row if c.value]
        assert not [n for n in names if any(n in t for t in texts)]
        assert MASKED_NAME in texts[0]
        assert "Confidential" not in texts[0]


def test_bad_inputs_are_named(inputs, tmp_path):
    data = inputs[MONTHLY_BUSINESS_REVIEW]
    with pytest.raises(ReportDataError, match=r"MonthlyReviewData.kpi_monthly is missing column\(s\) nrr"):
        render_report(
            MONTHLY_BUSINESS_REVIEW,
            replace(data, kpi_monthly=data.kpi_monthly.drop(columns="nrr")),
            tmp_path,
            mask_names=False,
        )
    broken = data.mrr_movements.copy()
    broken.loc[pd.to_datetime(broken["month"]) == "2026-10-01", "new_mrr"] += 100
    with pytest.raises(ReportDataError, match="identity"):
        render_report(MONTHLY_BUSINESS_REVIEW, replace(data, mrr_movements=broken), tmp_path, mask_names=False)
    with pytest.raises(ReportDataError, match="not closed"):
        render_report(MONTHLY_BUSINESS_REVIEW, replace(data, period="2026-11"), tmp_path, mask_names=False)
    with pytest.raises(ReportDataError, match="needs a WeeklyUsageData"):
        render_report(WEEKLY_USAGE_COST, data, tmp_path, mask_names=False)
    assert not (tmp_path / MONTHLY_BUSINESS_REVIEW).exists()


def test_warehouse_types_are_accepted(inputs):
    """DuckDB/Postgres hand decimals as Decimal objects and months as dates; the numbers must not change."""
    data = inputs[WEEKLY_CHURN_RISK]
    predictions = data.churn_predictions.copy()
    predictions["mrr_at_risk"] = [Decimal(f"{v:.2f}") for v in predictions["mrr_at_risk"]]
    predictions["churn_probability"] = [Decimal(str(v)) for v in predictions["churn_probability"]]
    from_floats = churn_risk.build(data, mask_names=False).summary
    from_decimals = churn_risk.build(replace(data, churn_predictions=predictions), mask_names=False).summary
    assert from_decimals == pytest.approx(from_floats)


def test_empty_inputs_render_with_explanations(inputs):
    churn = inputs[WEEKLY_CHURN_RISK]
    all_low = replace(churn, churn_predictions=churn.churn_predictions.assign(risk_band="low"))
    content = churn_risk.build(all_low, mask_names=False)
    assert content.summary["high_risk_customers"] == 0
    assert "No customer is in the high or medium band." in render_html(content, masked=False)
    usage = inputs[WEEKLY_USAGE_COST]
    quiet = replace(
        usage,
        metric_alerts=usage.metric_alerts.iloc[0:0],
        cost_recommendations=usage.cost_recommendations.iloc[0:0],
        customer_margin=usage.customer_margin.assign(gross_margin=1.0),
    )
    html = render_html(weekly_usage.build(quiet, mask_names=False), masked=False)
    for text in ("No anomalies this week.", "No recommendations.", "No customer has a negative margin."):
        assert text in html


def test_a_retrospectively_scored_snapshot_is_marked_and_footnoted(inputs, rendered):
    for name in (WEEKLY_CHURN_RISK, MONTHLY_BUSINESS_REVIEW):
        assert "scored retrospectively" not in html_text(rendered[name].html)
        data = inputs[name]
        retrospective = replace(data, churn_predictions=data.churn_predictions.assign(scored_retrospectively=True))
        module = churn_risk if name == WEEKLY_CHURN_RISK else monthly_review
        content = module.build(retrospective, mask_names=False)
        html = render_html(content, masked=False)
        month = "Sep 2026" if name == WEEKLY_CHURN_RISK else "Oct 2026"
        assert f"snapshot {month}*" in html
        assert f"* The {month} churn snapshot was scored retrospectively" in html


def test_a_forecast_made_after_the_month_is_left_out_of_its_review(inputs):
    """ml.mrr_forecast keeps the latest forecast only: an older month's review must not draw it as its own."""
    data = inputs[MONTHLY_BUSINESS_REVIEW]
    later = data.mrr_forecast.assign(month=pd.to_datetime(data.mrr_forecast["month"]) + pd.DateOffset(months=2))
    content = monthly_review.build(replace(data, mrr_forecast=later), mask_names=False)
    trend = next(s for s in content.sections if s.anchor == "trend")
    assert trend.intro == "Month-end MRR; the stored forecast starts in Jan 2027, so it is not shown."
    assert trend.tables[0].frame["forecast_mean"].isna().all()
    current = next(s for s in monthly_review.build(data, mask_names=False).sections if s.anchor == "trend")
    assert current.tables[0].frame["forecast_mean"].notna().sum() == 12
