"""Every chart the pages draw: plotly figure specs as plain dicts, plus the score sparkline, in ONE palette.

The specs are rendered by static/js/charts.js from a json_script block (no inline script). Views pass in
what scoring.analytics and accounts.selectors computed; nothing here reads the database. Colours come only
from the palette below, so the same thing (revenue, CM, a warning) looks the same on every page.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scoring.analytics.dashboard import Dashboard

# --- The palette ------------------------------------------------------------------------------------------

INK = "#172033"  # text, and the capacity marks
GRID = "#e5e9f0"
MUTED = "#9aa5b4"  # reference lines: equal shares, cut-offs, the zero line
WHITE = "#ffffff"
TRANSPARENT = "rgba(0,0,0,0)"
BLUE = "#1d4ed8"
AMBER = "#b45309"
GREEN = "#0f6b3a"
RED = "#b42318"

REVENUE_COLOUR = BLUE
CM_COLOUR = AMBER
CM_PCT_COLOUR = GREEN
GOOD, WARNING, DANGER = GREEN, AMBER, RED
DANGER_ZONE = "rgba(180, 35, 24, 0.07)"  # RED, washed out: the "big accounts, thin margins" corner
HEAT_EMPTY, HEAT_LOW = "#f8fafc", "#dbe8ff"  # the migration heatmap runs HEAT_EMPTY (0), HEAT_LOW .. BLUE
TIER_COLOURS = {"A": "#4c1d95", "B": "#2563eb", "C": "#0d9488", "D": "#8a94a6"}
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12, "color": INK}


def _num(value, digits: int = 4):
    """A JSON-safe number: NaN and infinities become None (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _nums(values, digits: int = 4) -> list:
    return [_num(v, digits) for v in values]


def _layout(**extra) -> dict:
    layout = {
        "height": 320,
        "margin": {"l": 56, "r": 16, "t": 12, "b": 48},
        "font": dict(FONT),
        "paper_bgcolor": TRANSPARENT,
        "plot_bgcolor": WHITE,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "hoverlabel": {"bgcolor": WHITE},
    }
    return layout | extra


def _axis(title: str, **extra) -> dict:
    return {"title": {"text": title}, "gridcolor": GRID, "zeroline": False, "automargin": True} | extra


# --- The portfolio dashboard and the capacity page ---------------------------------------------------------


def dashboard_figures(dash: Dashboard) -> dict:
    if dash.run is None:
        return {}
    return {
        "pareto": pareto_figure(dash.concentration),
        "margin": margin_figure(dash.margin_map, dash.names),
        "distribution": distribution_figure(dash.distribution),
        "migration": migration_figure(dash.migration) if dash.migration is not None else None,
        "compliance": compliance_figure(dash.compliance_top),
        "workload": workload_figure(dash.workload_top.to_dict("records")),
    }


def pareto_figure(conc: dict) -> dict:
    p = conc["pareto"]
    x = _nums(p["account_share"] * 100, 2)
    data = [
        {
            "type": "scatter", "mode": "lines", "name": "Revenue", "x": x, "y": _nums(p["revenue_share"] * 100, 2),
            "line": {"color": REVENUE_COLOUR, "width": 3},
            "hovertemplate": "Largest %{x:.1f}% of accounts: %{y:.1f}% of revenue<extra></extra>",
        },
        {
            "type": "scatter", "mode": "lines", "name": "Contribution margin", "x": x,
            "y": _nums(p["cm_share"] * 100, 2), "line": {"color": CM_COLOUR, "width": 3, "dash": "dash"},
            "hovertemplate": "Largest %{x:.1f}% of accounts: %{y:.1f}% of CM<extra></extra>",
        },
        {
            "type": "scatter", "mode": "lines", "name": "Equal shares", "x": [0, 100], "y": [0, 100],
            "line": {"color": MUTED, "width": 1, "dash": "dot"}, "hoverinfo": "skip",
        },
    ]  # fmt: skip
    layout = _layout(
        xaxis=_axis("Accounts, largest revenue first", ticksuffix="%", range=[0, 100]),
        yaxis=_axis("Cumulative share", ticksuffix="%", rangemode="tozero"),
        shapes=[{"type": "line", "x0": 20, "x1": 20, "yref": "paper", "y0": 0, "y1": 1,
                 "line": {"color": MUTED, "width": 1, "dash": "dot"}}],
    )  # fmt: skip
    return {"data": data, "layout": layout}


def margin_figure(mm: dict, names: dict) -> dict:
    points = mm["points"]
    data = []
    for tier in ("A", "B", "C", "D"):
        # Key accounts last: they draw on top, and the legend shows the plain (circle) marker.
        part = points[points["tier"] == tier].sort_values("is_key", kind="stable")
        if part.empty:
            continue
        data.append(
            {
                "type": "scattergl" if len(points) > 800 else "scatter",
                "mode": "markers",
                "name": f"Tier {tier}",
                "x": _nums(part["revenue"], 2),
                "y": _nums(part["cm_pct"] * 100, 2),
                "text": [
                    f"{names.get(int(i), i)}{' (key)' if k else ''}"
                    for i, k in zip(part["account_id"], part["is_key"], strict=True)
                ],
                "marker": {
                    "color": TIER_COLOURS[tier],
                    "size": [11 if k else 7 for k in part["is_key"]],
                    "symbol": ["diamond" if k else "circle" for k in part["is_key"]],
                    "line": {"color": WHITE, "width": 0.5},
                    "opacity": 0.85,
                },
                "hovertemplate": "%{text}<br>Revenue %{x:,.0f}<br>CM %{y:.1f}%<extra>Tier "
                + tier
                + "</extra>",
            }
        )
    shapes, annotations = [], []
    big, pooled = mm["big_revenue"], mm["portfolio_cm_pct"]
    if big and pooled is not None and len(points):
        top = float(points["revenue"].max())
        low = min(float(points["cm_pct"].min() * 100), 0.0) - 5
        shapes = [
            # plotly.js 3 places shapes on a log axis in data units (not log10 of them).
            {"type": "rect", "x0": big, "x1": top * 1.6, "y0": low, "y1": pooled * 100,
             "fillcolor": DANGER_ZONE, "line": {"width": 0}, "layer": "below"},
            {"type": "line", "x0": big, "x1": big, "yref": "paper", "y0": 0, "y1": 1,
             "line": {"color": MUTED, "width": 1, "dash": "dot"}},
            {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": pooled * 100, "y1": pooled * 100,
             "line": {"color": MUTED, "width": 1, "dash": "dot"}},
        ]  # fmt: skip
        annotations = [
            {"xref": "paper", "yref": "paper", "x": 1, "y": 0.02, "xanchor": "right", "yanchor": "bottom",
             "text": "<b>Big accounts, thin margins</b>", "showarrow": False, "font": {"color": DANGER}},
        ]  # fmt: skip
    layout = _layout(
        height=360,
        xaxis=_axis("Revenue, last 12 months (log scale)", type="log", dtick=1),
        yaxis=_axis("CM %", ticksuffix="%"),
        shapes=shapes,
        annotations=annotations,
        hovermode="closest",
    )
    return {"data": data, "layout": layout}


def distribution_figure(stats) -> dict:
    data = []
    for tier, row in stats.iterrows():
        if not row["accounts"]:
            continue
        data.append(
            {
                "type": "box",
                "name": f"Tier {tier}",
                "x": [f"Tier {tier}"],
                "q1": [_num(row["q1"], 2)],
                "median": [_num(row["median"], 2)],
                "q3": [_num(row["q3"], 2)],
                "lowerfence": [_num(row["min"], 2)],
                "upperfence": [_num(row["max"], 2)],
                "mean": [_num(row["mean"], 2)],
                "marker": {"color": TIER_COLOURS[tier]},
                "line": {"color": TIER_COLOURS[tier]},
                "fillcolor": TIER_COLOURS[tier] + "33",
                "hoverinfo": "y",
            }
        )
    layout = _layout(showlegend=False, xaxis=_axis(""), yaxis=_axis("Score", range=[0, 100]))
    return {"data": data, "layout": layout}


def migration_figure(matrix) -> dict:
    rows = [str(r) for r in matrix.index]
    cols = [str(c) for c in matrix.columns]
    z = matrix.to_numpy().tolist()
    data = [
        {
            "type": "heatmap",
            "z": z,
            "x": ["Gone" if c == "gone" else f"To {c}" for c in cols],
            "y": ["New" if r == "new" else f"From {r}" for r in rows],
            "text": z,
            "texttemplate": "%{text}",
            "colorscale": [[0, HEAT_EMPTY], [0.0001, HEAT_LOW], [1, BLUE]],
            "showscale": False,
            "hovertemplate": "%{y} %{x}: %{z} accounts<extra></extra>",
            "xgap": 2,
            "ygap": 2,
        }
    ]
    layout = _layout(
        height=300,
        xaxis=_axis("", side="top"),
        yaxis=_axis("", autorange="reversed"),
        margin={"l": 72, "r": 8, "t": 32, "b": 8},
    )
    return {"data": data, "layout": layout}


def compliance_figure(compliance) -> dict:
    rows = compliance.sort_values(["compliance", "name"], ascending=[False, True])
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": rows["name"].tolist(),
            "x": _nums(rows["compliance"] * 100, 1),
            "text": [
                f"{int(a)} of {int(b)}" for a, b in zip(rows["on_track"], rows["with_cadence"], strict=True)
            ],
            "textposition": "auto",
            "marker": {
                "color": [GOOD if c >= 0.8 else WARNING if c >= 0.6 else DANGER for c in rows["compliance"]]
            },
            "hovertemplate": "%{y}: %{x:.0f}% on track (%{text})<extra></extra>",
        }
    ]
    layout = _layout(
        height=max(200, 60 + 36 * len(rows)),
        showlegend=False,
        # Short: plotly does not wrap axis titles, and on a phone the plot is ~200 px wide.
        xaxis=_axis("On track", ticksuffix="%", range=[0, 104], dtick=25),
        yaxis=_axis("", automargin=True),
        margin={"l": 8, "r": 16, "t": 8, "b": 48},
    )
    return {"data": data, "layout": layout}


def workload_figure(kams: list[dict]) -> dict:
    rows = list(reversed(kams))  # plotly draws the first bar at the bottom; the table lists it first
    names = [k["name"] for k in rows]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Visits needed a month",
            "y": names,
            "x": [_num(k["visits_needed"], 1) for k in rows],
            "marker": {"color": [DANGER if k["overload"] > 0 else BLUE for k in rows]},
            "hovertemplate": "%{y}: %{x:.1f} visits a month needed<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "Capacity",
            "y": names,
            "x": [k["capacity"] for k in rows],
            "marker": {
                "symbol": "line-ns-open",
                "size": 26,
                "color": INK,
                "line": {"width": 3, "color": INK},
            },
            "hovertemplate": "%{y}: capacity %{x} visits a month<extra></extra>",
        },
    ]
    layout = _layout(
        height=max(220, 90 + 40 * len(rows)),
        xaxis=_axis("Visits a month", rangemode="tozero"),
        yaxis=_axis("", automargin=True),
        margin={"l": 8, "r": 16, "t": 8, "b": 48},
        bargap=0.4,
    )
    return {"data": data, "layout": layout}


# --- The account page ----------------------------------------------------------------------------------------


def orders_figure(months: list[dict]) -> dict | None:
    """Monthly revenue and CM as bars, CM % as a line on a second axis; None without any revenue."""
    if not any(m["revenue"] for m in months):
        return None
    x = [m["month"].isoformat() for m in months]
    hover = "%{x|%b %Y}: %{y:,.0f}<extra>%{fullData.name}</extra>"
    data = [
        {"type": "bar", "name": "Revenue", "x": x, "y": [float(m["revenue"]) for m in months],
         "marker": {"color": REVENUE_COLOUR}, "hovertemplate": hover},
        {"type": "bar", "name": "Contribution margin", "x": x, "y": [float(m["cm"]) for m in months],
         "marker": {"color": CM_COLOUR}, "hovertemplate": hover},
        {"type": "scatter", "mode": "lines+markers", "name": "CM %", "x": x, "yaxis": "y2",
         "y": [None if m["cm_pct"] is None else round(float(m["cm_pct"]), 4) for m in months],
         "line": {"color": CM_PCT_COLOUR, "width": 2}, "marker": {"size": 5}, "connectgaps": False,
         "hovertemplate": "%{x|%b %Y}: %{y:.1%} CM<extra></extra>"},
    ]  # fmt: skip
    axis = {"gridcolor": GRID, "zeroline": True, "zerolinecolor": MUTED, "automargin": True}
    layout = _layout(
        height=300,
        margin={"l": 56, "r": 48, "t": 8, "b": 40},
        barmode="group",
        bargap=0.25,
        xaxis=axis | {"type": "date", "tickformat": "%b %y", "zeroline": False},
        yaxis=axis | {"tickformat": "~s", "rangemode": "tozero"},
        yaxis2=axis | {"overlaying": "y", "side": "right", "tickformat": ".0%", "showgrid": False,
                       "rangemode": "tozero", "zeroline": False, "tickmode": "auto", "nticks": 6},
    )  # fmt: skip
    return {"data": data, "layout": layout}


def sparkline(values: list[float], *, width: int = 120, height: int = 32, pad: int = 3) -> dict | None:
    """SVG polyline points for a score trend, scaled to the box (scores run 0..100, but the spread matters)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / (len(values) - 1)
    points = [
        (round(pad + i * step, 1), round(height - pad - (v - low) / span * (height - 2 * pad), 1))
        for i, v in enumerate(values)
    ]
    return {
        "width": width,
        "height": height,
        "points": " ".join(f"{x},{y}" for x, y in points),
        "last": points[-1],
        "first_value": values[0],
        "last_value": values[-1],
        "runs": len(values),
    }
