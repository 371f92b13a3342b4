"""Report charts: matplotlib figures returned as self-contained SVG data URIs.

Uses the object-oriented `Figure` API (no pyplot global state, safe in threads). SVG output is made
reproducible: fixed hash salt for element ids, no date in the metadata. Text stays text (`svg.fonttype`
none): a third of the size of glyph paths, faster for WeasyPrint, and searchable in the PDF; the viewer
uses DejaVu Sans when it has it, else its own sans-serif.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from orchestration.reporting.formatting import CURRENCY_SYMBOLS

PALETTE = ["#1f5f8b", "#e07b39", "#3a9d5d", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
ACTUAL = "#1f5f8b"
FORECAST = "#e07b39"
POSITIVE = "#3a9d5d"
NEGATIVE = "#c44e52"
NEUTRAL = "#8c8c8c"

STYLE = {
    "svg.hashsalt": "saas-metrics-warehouse",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 8.5,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
}
WIDTH_IN = 7.2
HEIGHT_IN = 3.0


def new_figure(height: float = HEIGHT_IN, ncols: int = 1) -> tuple[Figure, list]:
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0].tolist()
    return fig, axes


def to_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def money_formatter(currency: str) -> FuncFormatter:
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")

    def short(value: float, _pos: object = None) -> str:
        magnitude = abs(value)
        sign = "-" if value < 0 else ""
        if magnitude >= 1e6:
            return f"{sign}{symbol}{magnitude / 1e6:.1f}M"
        if magnitude >= 1e3:
            text = f"{magnitude / 1e3:.0f}" if magnitude >= 1e4 else f"{magnitude / 1e3:.1f}".removesuffix(".0")
            return f"{sign}{symbol}{text}k"  # one decimal below 10k keeps $1.5k and $2k distinct
        return f"{sign}{symbol}{magnitude:.0f}"

    return FuncFormatter(short)


def _month_ticks(ax, months: Sequence[pd.Timestamp], every: int = 3) -> None:
    ticks = list(months)[::every]
    ax.set_xticks(ticks)
    ax.set_xticklabels([t.strftime("%b %y") for t in ticks])


def forecast_fan(
    actual: pd.Series, forecast: pd.DataFrame, title: str, currency: str, actual_label: str = "Actual"
) -> str:
    """Actual monthly values with the forecast mean and its 80% / 95% bands."""
    fig, (ax,) = new_figure()
    with mpl.rc_context(STYLE):
        x_actual = pd.to_datetime(pd.Series(actual.index))
        ax.plot(x_actual, actual.values, color=ACTUAL, linewidth=2, label=actual_label, marker="o", markersize=2.5)
        if not forecast.empty:
            fc = forecast.sort_values("month")
            x_fc = pd.to_datetime(fc["month"])
            # Join the fan to the last actual point so the two lines meet.
            x_join = pd.concat([x_actual.tail(1), x_fc], ignore_index=True)
            last = actual.values[-1]

            def joined(column: str) -> np.ndarray:
                return np.concatenate([[last], fc[column].to_numpy(dtype=float)])

            ax.fill_between(x_join, joined("lo_95"), joined("hi_95"), color=FORECAST, alpha=0.15, label="95% band")
            ax.fill_between(x_join, joined("lo_80"), joined("hi_80"), color=FORECAST, alpha=0.30, label="80% band")
            ax.plot(x_join, joined("mean"), color=FORECAST, linewidth=1.8, linestyle="--", label="Forecast")
        ax.yaxis.set_major_formatter(money_formatter(currency))
        months = list(x_actual) + (list(pd.to_datetime(forecast["month"])) if not forecast.empty else [])
        _month_ticks(ax, sorted(set(months)))
        ax.set_title(title)
        ax.legend(loc="upper left", ncols=4)
        ax.set_ylim(bottom=0)
    return to_data_uri(fig)


def waterfall(
    start: tuple[str, float], steps: Sequence[tuple[str, float]], end: tuple[str, float], title: str, currency: str
) -> str:
    """Starting total, signed movements as floating bars, ending total."""
    fig, (ax,) = new_figure(height=3.2)
    with mpl.rc_context(STYLE):
        labels = [start[0], *[s[0] for s in steps], end[0]]
        bottoms, heights, colors = [0.0], [start[1]], [ACTUAL]
        running = start[1]
        for _, amount in steps:
            bottoms.append(running if amount >= 0 else running + amount)
            heights.append(abs(amount))
            colors.append(POSITIVE if amount >= 0 else NEGATIVE)
            running += amount
        bottoms.append(0.0)
        heights.append(end[1])
        colors.append(ACTUAL)
        x = np.arange(len(labels))
        ax.bar(x, heights, bottom=bottoms, color=colors, width=0.62)
        fmt = money_formatter(currency)
        symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
        values = [start[1], *[s[1] for s in steps], end[1]]
        for xi, bottom, height, value in zip(x, bottoms, heights, values, strict=True):
            sign = "" if xi in (0, len(labels) - 1) else ("+" if value >= 0 else "-")
            text = f"{sign}{symbol}{abs(value):,.0f}"
            ax.annotate(
                text,
                (xi, bottom + height),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
            )
        ax.set_xticks(x)
        ax.set_xticklabels(labels)
        ax.yaxis.set_major_formatter(fmt)
        low = min([*bottoms[1:-1], start[1], end[1]]) if steps else 0
        top = max(b + h for b, h in zip(bottoms, heights, strict=True))
        ax.set_ylim(max(0.0, low - (top - low) * 0.6), top * 1.06)
        ax.set_title(title)
    return to_data_uri(fig)


def stacked_bars(pivot: pd.DataFrame, title: str, currency: str) -> str:
    """Rows: months (datetime-like index); columns: categories stacked."""
    fig, (ax,) = new_figure()
    with mpl.rc_context(STYLE):
        x = pd.to_datetime(pd.Series(pivot.index))
        bottom = np.zeros(len(pivot))
        for i, column in enumerate(pivot.columns):
            values = pivot[column].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, width=22, color=PALETTE[i % len(PALETTE)], label=str(column))
            bottom += values
        ax.yaxis.set_major_formatter(money_formatter(currency))
        _month_ticks(ax, list(x))
        ax.legend(loc="upper left", ncols=min(len(pivot.columns), 5))
        ax.set_ylim(0, bottom.max() * 1.18 if len(bottom) else 1)
        ax.set_title(title)
    return to_data_uri(fig)


def rate_lines(frame: pd.DataFrame, x: str, series: dict[str, str], title: str, reference: float | None = 1.0) -> str:
    """Rates (fractions) over months, shown as percentages."""
    fig, (ax,) = new_figure(height=2.7)
    with mpl.rc_context(STYLE):
        months = pd.to_datetime(frame[x])
        for i, (column, label) in enumerate(series.items()):
            ax.plot(
                months,
                frame[column].astype(float),
                color=PALETTE[i],
                linewidth=2,
                label=label,
                marker="o",
                markersize=2.5,
            )
        if reference is not None:
            ax.axhline(reference, color=NEUTRAL, linewidth=0.8, linestyle=":")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        _month_ticks(ax, list(months))
        ax.legend(loc="lower left", ncols=len(series))
        ax.set_title(title)
    return to_data_uri(fig)


def heatmap(pivot: pd.DataFrame, title: str, xlabel: str) -> str:
    """Rows: cohorts; columns: months since start; values: fractions (NaN = not observed yet)."""
    rows = len(pivot)
    fig, (ax,) = new_figure(height=max(2.6, 0.24 * rows + 1.0))
    with mpl.rc_context(STYLE):
        values = pivot.to_numpy(dtype=float)
        masked = np.ma.masked_invalid(values)
        cmap = mpl.colormaps["Blues"].with_extremes(bad="#ffffff")
        ax.imshow(masked, aspect="auto", cmap=cmap, vmin=0.3, vmax=1.1, interpolation="nearest")
        for (r, c), value in np.ndenumerate(values):
            if not np.isnan(value):
                ax.text(
                    c,
                    r,
                    f"{value * 100:.0f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if value > 0.8 else "#222222",
                )
        ax.set_xticks(range(len(pivot.columns)))
        ax.set_xticklabels([str(c) for c in pivot.columns])
        ax.set_yticks(range(rows))
        ax.set_yticklabels([pd.Timestamp(i).strftime("%b %Y") for i in pivot.index])
        ax.set_xlabel(xlabel)
        ax.grid(False)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(title)
    return to_data_uri(fig)


def bars_vs_prior(
    labels: Sequence[str],
    current: Sequence[float],
    prior: Sequence[float],
    title: str,
    currency: str,
    current_label: str = "This week",
    prior_label: str = "Previous week",
) -> str:
    """Horizontal grouped bars, largest first, current vs prior period."""
    n = len(labels)
    fig, (ax,) = new_figure(height=max(2.4, 0.32 * n + 0.9))
    with mpl.rc_context(STYLE):
        y = np.arange(n)
        ax.barh(y - 0.2, list(current), height=0.38, color=ACTUAL, label=current_label)
        ax.barh(y + 0.2, list(prior), height=0.38, color="#a9c4d9", label=prior_label)
        ax.set_yticks(y)
        ax.set_yticklabels(list(labels))
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.grid(axis="x", color="#e3e3e3")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right")
        ax.set_title(title)
    return to_data_uri(fig)


def weekly_vs_forecast(weeks: pd.DataFrame, title: str, currency: str) -> str:
    """Weekly actual cost bars against the forecast weekly run-rate (mean line with 80% band).

    `weeks` columns: week_start, actual, forecast_mean, forecast_lo_80, forecast_hi_80 (NaN where no forecast).
    """
    fig, (ax,) = new_figure()
    with mpl.rc_context(STYLE):
        x = pd.to_datetime(weeks["week_start"])
        ax.bar(x, weeks["actual"].astype(float), width=5, color=ACTUAL, label="Actual cost")
        has_fc = weeks["forecast_mean"].notna()
        if has_fc.any():
            ax.fill_between(
                x[has_fc],
                weeks.loc[has_fc, "forecast_lo_80"].astype(float),
                weeks.loc[has_fc, "forecast_hi_80"].astype(float),
                color=FORECAST,
                alpha=0.25,
                label="Forecast 80% band",
                step="mid",
            )
            ax.plot(
                x[has_fc],
                weeks.loc[has_fc, "forecast_mean"].astype(float),
                color=FORECAST,
                linestyle="--",
                linewidth=1.8,
                label="Forecast",
                drawstyle="steps-mid",
            )
        ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_xticks(list(x)[::2])
        ax.set_xticklabels([d.strftime("%d %b") for d in list(x)[::2]])
        ax.legend(loc="upper left", ncols=3)
        ax.set_ylim(bottom=0)
        ax.set_title(title)
    return to_data_uri(fig)


def bars_and_line(
    frame: pd.DataFrame,
    x: str,
    bars: dict[str, str],
    line: tuple[str, str],
    title: str,
    currency: str,
    line_is_rate: bool = True,
) -> str:
    """Grouped monthly money bars with a second measure as a line on the right axis (a rate or a count)."""
    fig, (ax,) = new_figure()
    with mpl.rc_context(STYLE):
        months = pd.to_datetime(frame[x])
        width = 26 / max(len(bars), 1)
        offsets = (np.arange(len(bars)) - (len(bars) - 1) / 2) * width
        for i, (column, label) in enumerate(bars.items()):
            ax.bar(
                months + pd.to_timedelta(offsets[i], unit="D"),
                frame[column].astype(float),
                width=width * 0.9,
                color=PALETTE[i],
                label=label,
            )
        ax.yaxis.set_major_formatter(money_formatter(currency))
        line_axis = ax.twinx()
        values = frame[line[0]].astype(float)
        line_axis.plot(months, values, color=NEGATIVE, linewidth=1.8, marker="o", markersize=2.5, label=line[1])
        line_axis.grid(False)
        line_axis.spines["right"].set_visible(True)
        if line_is_rate:
            line_axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            line_axis.set_ylim(max(0.0, values.min() - 0.3), min(1.0, values.max() + 0.05))
        else:
            line_axis.set_ylim(0, values.max() * 1.6 if values.max() > 0 else 1)
        _month_ticks(ax, list(months), every=2)
        handles, labels = ax.get_legend_handles_labels()
        line_handles, line_labels = line_axis.get_legend_handles_labels()
        ax.legend(handles + line_handles, labels + line_labels, loc="upper left", ncols=4)
        ax.set_ylim(0, frame[list(bars)].to_numpy(dtype=float).max() * 1.3)
        ax.set_title(title)
    return to_data_uri(fig)


def service_panels(daily: pd.DataFrame, title: str) -> str:
    """Two panels per day and service: p95 latency (ms) and error rate."""
    fig, (left, right) = new_figure(height=2.9, ncols=2)
    with mpl.rc_context(STYLE):
        for i, (service, rows) in enumerate(daily.sort_values("day").groupby("service", sort=True)):
            days = pd.to_datetime(rows["day"])
            for ax, column in ((left, "latency_p95_ms"), (right, "error_rate")):
                ax.plot(
                    days,
                    rows[column].astype(float),
                    color=PALETTE[i % len(PALETTE)],
                    marker="o",
                    markersize=2.5,
                    linewidth=1.6,
                    label=service,
                )
        left.set_title("p95 latency (ms)")
        right.set_title("Error rate")
        right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        for ax in (left, right):
            ticks = sorted(pd.to_datetime(daily["day"]).unique())[::3]
            ax.set_xticks(ticks)
            ax.set_xticklabels([pd.Timestamp(t).strftime("%d %b") for t in ticks])
            ax.set_ylim(bottom=0)
        fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=len(left.lines))
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=10)
    return to_data_uri(fig)
