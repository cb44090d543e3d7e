"""Charts drawn on the server as inline SVG: no script, nothing the page's Content Security
Policy forbids (colours come from classes in ``dashboard.css``, never from style attributes).

Each chart is an image with a title and a description (``role="img"``, ``aria-labelledby``);
the page puts the same numbers in a table next to it, so nothing is shown only as a shape.
Pure functions: the caller passes translated texts and gets `Markup` back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 190
BAR_AREA = 300
VALUE_WIDTH = 70


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its name (for the legend) and one value per point."""

    name: str
    values: Sequence[int | float]
    css: str = "series-1"


def _head(ident: str, width: int, height: int, title: str, desc: str, css: str) -> str:
    ident = str(escape(ident))
    return (
        f'<svg class="chart {css}" id="{ident}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
    )


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(
    ident: str,
    title: str,
    desc: str,
    items: Sequence[tuple[str, int | float]],
    *,
    highlight: Sequence[bool] | None = None,
) -> Markup:
    """Horizontal bars, one per ``(label, value)``, longest scaled to the chart's width;
    ``highlight`` marks bars (a threshold warning) with a second class and a sign."""
    n = max(len(items), 1)
    height = n * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    top = max((v for _, v in items), default=0) or 1
    parts = [_head(ident, width, height, title, desc, "bars")]
    for i, (label, value) in enumerate(items):
        y = BAR_GAP + i * (BAR_HEIGHT + BAR_GAP)
        length = max(BAR_AREA * value / top, 1 if value else 0)
        marked = bool(highlight and highlight[i])
        shown = label if len(label) <= 16 else label[:15] + "…"
        parts.append(
            f'<g class="bar{" marked" if marked else ""}">'
            f'<text class="label" x="{LABEL_WIDTH - 6}" y="{y + BAR_HEIGHT * 0.7:.1f}" '
            f'text-anchor="end">{escape(shown)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" rx="2">'
            f"<title>{escape(label)}: {escape(_number(value))}</title></rect>"
            f'<text class="value" x="{LABEL_WIDTH + length + 6:.1f}" '
            f'y="{y + BAR_HEIGHT * 0.7:.1f}">{escape(_number(value))}'
            f"{' ⚠' if marked else ''}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it went through escape())


def _ticks(top: float) -> list[float]:
    """Three or four round values from 0 to at least ``top``."""
    if top <= 0:
        return [0, 1]
    raw = top / 3
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = math.ceil(top / step)
    return [step * k for k in range(count + 1)]


def line_chart(
    ident: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
) -> Markup:
    """Lines over evenly spaced points (a time series), with a y axis of round values and
    the first, middle and last labels on the x axis."""
    width, height = 640, 260
    left, right, top_pad, bottom = 56, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max((v for s in series for v in s.values), default=0)
    ticks = _ticks(float(top))
    y_max = ticks[-1] or 1
    n = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h - plot_h * v / y_max

    parts = [_head(ident, width, height, title, desc, "lines")]
    for t in ticks:
        parts.append(
            f'<g class="grid"><line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" '
            f'y2="{y(t):.1f}"/><text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">'
            f"{escape(_number(t))}</text></g>"
        )
    for i in sorted({0, (n - 1) // 2, n - 1}):
        if i < len(labels):
            anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
            parts.append(
                f'<text class="axis" x="{x(i):.1f}" y="{height - bottom + 18}" '
                f'text-anchor="{anchor}">{escape(labels[i])}</text>'
            )
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<g class="line {s.css}"><polyline points="{points}" fill="none"/>')
        if len(s.values) <= 62:
            for i, v in enumerate(s.values):
                label = labels[i] if i < len(labels) else ""
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5">'
                    f"<title>{escape(s.name)} · {escape(label)}: {escape(_number(v))}</title>"
                    "</circle>"
                )
        parts.append("</g>")
    for k, s in enumerate(series):
        lx = left + k * 180
        parts.append(
            f'<g class="legend {s.css}"><line x1="{lx}" x2="{lx + 24}" y1="{height - 8}" '
            f'y2="{height - 8}"/><text x="{lx + 30}" y="{height - 4}">{escape(s.name)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it went through escape())


def gauge(ident: str, title: str, desc: str, share: float | None, shown: str) -> Markup:
    """A half ring filled to ``share`` (0..1) with ``shown`` (the share in words) under it;
    an empty ring when there is no share."""
    width, height, r, cx, cy = 200, 120, 80, 100, 100
    parts = [_head(ident, width, height, title, desc, "gauge")]
    parts.append(f'<path class="track" d="M {cx - r} {cy} A {r} {r} 0 0 1 {cx + r} {cy}"/>')
    if share is not None and share > 0:
        value = min(max(share, 0.0), 1.0)
        angle = math.pi * (1 - value)
        ex, ey = cx + r * math.cos(angle), cy - r * math.sin(angle)
        level = "good" if value >= 0.9 else "fair" if value >= 0.7 else "poor"
        parts.append(
            f'<path class="fill {level}" d="M {cx - r} {cy} A {r} {r} 0 0 1 {ex:.1f} {ey:.1f}"/>'
        )
    parts.append(
        f'<text class="gauge-value" x="{cx}" y="{cy - 10}" text-anchor="middle">'
        f"{escape(shown)}</text></svg>"
    )
    return Markup("".join(parts))  # noqa: S704 (every text in it went through escape())
