"""Dashboard numbers (aggregated in SQL) and their pictures (PNG drawn by matplotlib).

PNG rather than inline SVG because matplotlib's SVG carries inline styles, which the app's
Content-Security-Policy forbids. matplotlib is imported only when a chart is drawn, and the
object API (Figure + Agg canvas) is used instead of pyplot, which is not thread-safe.
"""

from __future__ import annotations

import io
import sqlite3

from nigehbaan.review.labels import BANDS, INDICATORS, STATUSES, UNSCORED_BAND, indicator_label

CHARTS = ("risk", "indicators", "languages", "bands", "decisions")
_STATUS_COLOURS = {
    "new": "#9aa5b1",
    "confirmed": "#c0392b",
    "dismissed": "#2e7d32",
    "escalated": "#e67e22",
}
_ACTION_COLOURS = {
    "confirm": "#c0392b",
    "dismiss": "#2e7d32",
    "escalate": "#e67e22",
    "reopen": "#9aa5b1",
}
_BAND_COLOURS = {"high": "#c0392b", "medium": "#e67e22", "low": "#2e86c1", UNSCORED_BAND: "#9aa5b1"}
_BINS = 20


def summary(conn: sqlite3.Connection) -> dict:
    """Headline counts: ads by status and by band."""
    by_status = dict(conn.execute("SELECT status, COUNT(*) FROM ads GROUP BY status").fetchall())
    by_band = dict(conn.execute("SELECT band, COUNT(*) FROM ads GROUP BY band").fetchall())
    return {
        "total": sum(by_status.values()),
        "status": {s: by_status.get(s, 0) for s in STATUSES},
        "band": {b: by_band.get(b, 0) for b in (*BANDS, UNSCORED_BAND)},
    }


def _data(conn: sqlite3.Connection, name: str):
    if name == "risk":
        # `rank` is the risk of scored ads (and -1 otherwise) and lives in an index; `risk` does not.
        rows = conn.execute(
            f"SELECT band, MIN(CAST(rank * {_BINS} AS INTEGER), {_BINS - 1}) AS bin, COUNT(*) "
            "FROM ads WHERE rank >= 0 GROUP BY band, bin"
        ).fetchall()
        return {
            b: [sum(n for band, i, n in rows if band == b and i == k) for k in range(_BINS)]
            for b in BANDS
        }
    if name == "indicators":
        sums = ", ".join("TOTAL(instr(indicators, ?) > 0)" for _ in INDICATORS)
        row = conn.execute(f"SELECT {sums} FROM ads", [f" {i} " for i in INDICATORS]).fetchone()
        return {i: int(n) for i, n in zip(INDICATORS, row, strict=True)}
    if name == "languages":
        return dict(
            conn.execute("SELECT lang, COUNT(*) FROM ads GROUP BY lang ORDER BY 2 DESC").fetchall()
        )
    if name == "bands":
        rows = conn.execute(
            "SELECT band, status, COUNT(*) FROM ads GROUP BY band, status"
        ).fetchall()
        return {
            s: [
                sum(n for b, st, n in rows if b == band and st == s)
                for band in (*BANDS, UNSCORED_BAND)
            ]
            for s in STATUSES
        }
    if name == "decisions":
        rows = conn.execute(
            "SELECT substr(at, 1, 10) AS day, action, COUNT(*) FROM decisions "
            "GROUP BY day, action ORDER BY day"
        ).fetchall()
        days = sorted({d for d, _, _ in rows})
        return days, {
            a: [sum(n for d, act, n in rows if d == day and act == a) for day in days]
            for a in _ACTION_COLOURS
        }
    raise KeyError(name)


def render_png(conn: sqlite3.Connection, name: str) -> bytes:
    """Draw chart `name` (one of CHARTS) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    data = _data(conn, name)
    fig = Figure(figsize=(6.4, 3.6 if name != "indicators" else 5.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if name == "risk":
        xs = [(k + 0.5) / _BINS for k in range(_BINS)]
        bottom = [0] * _BINS
        for band in reversed(BANDS):
            ax.bar(
                xs,
                data[band],
                width=1 / _BINS,
                bottom=bottom,
                color=_BAND_COLOURS[band],
                label=band,
            )
            bottom = [b + v for b, v in zip(bottom, data[band], strict=True)]
        ax.set(xlabel="risk", ylabel="ads", title="Risk distribution", xlim=(0, 1))
        ax.legend(frameon=False)
    elif name == "indicators":
        labels = [indicator_label(i) for i in data]
        ax.barh(labels[::-1], list(data.values())[::-1], color="#5b6abf")
        ax.set(xlabel="ads", title="Ads by indicator")
    elif name == "languages":
        ax.bar(list(data), list(data.values()), color="#5b6abf")
        ax.set(ylabel="ads", title="Ads by language")
    elif name == "bands":
        bands = [*BANDS, UNSCORED_BAND]
        bottom = [0] * len(bands)
        for status, counts in data.items():
            ax.bar(bands, counts, bottom=bottom, color=_STATUS_COLOURS[status], label=status)
            bottom = [b + v for b, v in zip(bottom, counts, strict=True)]
        ax.set(ylabel="ads", title="Ads by band and status")
        ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    else:
        days, series = data
        if not days:
            ax.text(0.5, 0.5, "no decisions yet", ha="center", va="center", transform=ax.transAxes)
        bottom = [0] * len(days)
        for action, counts in series.items():
            if any(counts):
                ax.bar(
                    days,
                    counts,
                    width=0.7,
                    bottom=bottom,
                    label=action,
                    color=_ACTION_COLOURS[action],
                )
                bottom = [b + v for b, v in zip(bottom, counts, strict=True)]
        ax.set(ylabel="decisions", title="Decisions per day (UTC)")
        ax.tick_params(axis="x", labelrotation=45)
        if days:
            ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
            ax.set_xlim(-0.5, max(len(days), 10) - 0.5)  # narrow bars while there are few days
    # Counts are whole numbers; fractional ticks on a count axis read as a bug.
    count_axis = ax.xaxis if name == "indicators" else ax.yaxis
    count_axis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
