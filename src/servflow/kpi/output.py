"""KPI figures as people read them: a terminal table, CSV, and an HTML page with charts.

All three are built from one list of :class:`Row` (:func:`rows`), so they always agree.
Labels come from the procedure's titles in the chosen language and the fixed words below;
no case data is shown but counts and the values of the ``breakdown`` fields, which the
checks allow only for choice and boolean fields that are not ``pii``. The HTML page is
self-contained: inline CSS and SVG drawn from the figures, no script, nothing fetched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from servflow.engine import Engine
from servflow.kpi.figures import ProcedureFigures
from servflow.model import Procedure
from servflow.render.common import columns, localized
from servflow.render.labels import LABELS

__all__ = ["WORDS", "Row", "csv_text", "html_page", "rows", "table"]

#: The fixed words of the report, per language.
WORDS: dict[str, dict[str, str]] = {
    "zh-Hant": {
        "report": "客服關鍵績效指標", "period": "期間", "all": "全部",
        "cases": "個案", "opened": "新開", "closed": "已結案", "cancelled": "已取消",
        "open": "未結", "completion": "完成率", "on_time": "按時率（每項時限）",
        "measured": "已計", "met": "按時", "breached": "逾時", "rate": "比率",
        "steps": "各步驟工作時間", "visits": "次數", "median": "中位數", "p90": "第90百分位",
        "callback": "回訪率", "due": "應回訪", "reached": "已回訪", "unreachable": "無法聯繫",
        "satisfaction": "客戶滿意度", "answers": "回答", "satisfied": "滿意",
        "escalations": "升級（按層級）", "level": "層級", "breakdown": "分類統計",
        "none": "（未填）", "count": "數目", "no_cases": "此期間沒有個案。",
    },
    "zh-Hans": {
        "report": "客服关键绩效指标", "period": "期间", "all": "全部",
        "cases": "个案", "opened": "新开", "closed": "已结案", "cancelled": "已取消",
        "open": "未结", "completion": "完成率", "on_time": "按时率（每项时限）",
        "measured": "已计", "met": "按时", "breached": "逾时", "rate": "比率",
        "steps": "各步骤工作时间", "visits": "次数", "median": "中位数", "p90": "第90百分位",
        "callback": "回访率", "due": "应回访", "reached": "已回访", "unreachable": "无法联系",
        "satisfaction": "客户满意度", "answers": "回答", "satisfied": "满意",
        "escalations": "升级（按层级）", "level": "层级", "breakdown": "分类统计",
        "none": "（未填）", "count": "数目", "no_cases": "此期间没有个案。",
    },
    "en": {
        "report": "Service desk KPIs", "period": "Period", "all": "all",
        "cases": "Cases", "opened": "opened", "closed": "closed", "cancelled": "cancelled",
        "open": "open", "completion": "Completion rate", "on_time": "On time, per time limit",
        "measured": "measured", "met": "on time", "breached": "breached", "rate": "rate",
        "steps": "Business time per step", "visits": "visits", "median": "median",
        "p90": "90th pct", "callback": "Callback rate", "due": "due", "reached": "reached",
        "unreachable": "unreachable", "satisfaction": "Satisfaction", "answers": "answers",
        "satisfied": "satisfied", "escalations": "Escalations by level", "level": "level",
        "breakdown": "Cases by", "none": "(none)", "count": "cases",
        "no_cases": "No cases in this period.",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One figure: ``count`` out of ``total`` (a rate when both are known), or a time."""

    procedure: str
    figure: str
    key: str
    label: str
    count: float | None
    total: int | None = None

    @property
    def rate(self) -> float | None:
        if self.count is None or not self.total:
            return None
        return self.count / self.total


def _proc_title(proc: Procedure, lang: str) -> str:
    return localized(proc.title, lang, proc.id)


def rows(figures: Sequence[ProcedureFigures], engine: Engine, lang: str) -> list[Row]:
    """The figures as rows, labelled in ``lang`` (``zh-Hant``, ``zh-Hans`` or ``en``)."""
    w = WORDS[lang]
    out: list[Row] = []
    for f in figures:
        proc = engine.procedure(f.procedure)
        # Newest first: a time limit or state an older version alone has keeps its title.
        versions = sorted(
            (p for p in engine.procedures() if p.id == f.procedure),
            key=lambda p: p.version,
            reverse=True,
        )
        pid = f.procedure
        for key in ("opened", "closed", "cancelled", "open"):
            out.append(Row(pid, "cases", key, w[key], getattr(f, key)))
        out.append(Row(pid, "completion", "", w["completion"], f.closed, f.opened - f.cancelled))
        for lim in f.limits:
            spec = next(
                (v.time_limits[lim.name] for v in versions if lim.name in v.time_limits), None
            )
            label = localized(spec.title, lang, lim.name) if spec else lim.name
            out.append(Row(pid, "on_time", lim.name, label, lim.on_time, lim.measured))
            out.append(Row(pid, "breached", lim.name, label, lim.breached, lim.measured))
        for step in f.steps:
            state = next((v.states[step.state] for v in versions if step.state in v.states), None)
            label = localized(state.title, lang, step.state) if state else step.state
            out.append(Row(pid, "visits", step.state, label, step.visits))
            out.append(Row(pid, "median_seconds", step.state, label, step.median_seconds))
            out.append(Row(pid, "p90_seconds", step.state, label, step.p90_seconds))
        if f.callback is not None:
            cb = f.callback
            made = cb.reached + cb.unreachable
            out.append(Row(pid, "callback", "", w["callback"], made, cb.due))
            out.append(Row(pid, "callback", "reached", w["reached"], cb.reached, cb.due))
            out.append(
                Row(pid, "callback", "unreachable", w["unreachable"], cb.unreachable, cb.due)
            )
        if f.satisfaction is not None:
            sat = f.satisfaction
            out.append(Row(pid, "satisfaction", "", w["satisfaction"], sat.satisfied, sat.answers))
        for esc in f.escalations:
            level = int(esc.value)
            role = proc.roles.get(proc.escalation[level]) if level < len(proc.escalation) else None
            name = localized(role.title, lang, proc.escalation[level]) if role else esc.value
            label = f"{w['level']} {level}{LABELS[lang]['colon']}{name}"
            out.append(Row(pid, "escalations", esc.value, label, esc.cases, f.opened))
        for item in f.breakdown:
            field_spec = proc.fields.get(item.key)
            title = localized(field_spec.title, lang, item.key) if field_spec else item.key
            label = f"{title}{LABELS[lang]['colon']}{item.value or w['none']}"
            out.append(
                Row(pid, "breakdown", f"{item.key}={item.value}", label, item.cases, f.opened)
            )
    return out


# -- the terminal table ---------------------------------------------------------------------


def _fit(text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) and padded to ``width`` terminal columns."""
    if columns(text) > width:
        while columns(text) > width - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (width - columns(text))


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _number(value: float | None) -> str:
    return "—" if value is None else str(round(value))


def table(figures: Sequence[ProcedureFigures], engine: Engine, lang: str, period: str) -> str:
    """The figures as a plain-text table no wider than 100 columns."""
    w = WORDS[lang]
    lines = [f"{w['report']} · {w['period']}{LABELS[lang]['colon']}{period}"]
    if not figures:
        return "\n".join([*lines, w["no_cases"]]) + "\n"
    by_proc: dict[str, list[Row]] = {}
    for row in rows(figures, engine, lang):
        by_proc.setdefault(row.procedure, []).append(row)
    label_width = 44

    def line(label: str, *cells: str) -> str:
        shown = "".join(" " * (13 - columns(c)) + c for c in cells)
        return ("  " + _fit(label, label_width) + shown).rstrip()

    for f in figures:
        proc = engine.procedure(f.procedure)
        got = by_proc[f.procedure]
        lines += ["", f"{_proc_title(proc, lang)} ({f.procedure})"]
        counts = "  ".join(
            f"{w[k]} {getattr(f, k)}" for k in ("opened", "closed", "cancelled", "open")
        )
        lines.append(f"  {w['cases']}{LABELS[lang]['colon']}{counts}")
        lines.append(line(w["completion"], _percent(f.completion_rate)))
        lines.append(line(w["on_time"], w["measured"], w["met"], w["breached"], w["rate"]))
        for lim in f.limits:
            label = next(r.label for r in got if r.figure == "on_time" and r.key == lim.name)
            cells = (str(lim.measured), str(lim.on_time), str(lim.breached))
            lines.append(line("  " + label, *cells, _percent(lim.on_time_rate)))
        lines.append(line(w["steps"], w["visits"], w["median"], w["p90"]))
        for step in f.steps:
            label = next(r.label for r in got if r.figure == "visits" and r.key == step.state)
            lines.append(
                line(
                    "  " + label,
                    str(step.visits),
                    _hours(step.median_seconds),
                    _hours(step.p90_seconds),
                )
            )
        if f.callback is not None:
            cb = f.callback
            lines.append(line(w["callback"], w["due"], w["reached"], w["unreachable"], w["rate"]))
            lines.append(
                line("", str(cb.due), str(cb.reached), str(cb.unreachable), _percent(cb.rate))
            )
        if f.satisfaction is not None:
            sat = f.satisfaction
            lines.append(line(w["satisfaction"], w["answers"], w["satisfied"], "", w["rate"]))
            lines.append(line("", str(sat.answers), str(sat.satisfied), "", _percent(sat.rate)))
        for figure in ("escalations", "breakdown"):
            grouped = [r for r in got if r.figure == figure]
            if grouped:
                lines.append(line(w[figure], w["count"], w["rate"]))
            for row in grouped:
                lines.append(line("  " + row.label, _number(row.count), _percent(row.rate)))
    return "\n".join(lines) + "\n"


# -- CSV --------------------------------------------------------------------------------------


def csv_text(figures: Sequence[ProcedureFigures], engine: Engine, lang: str) -> str:
    """One line per figure: procedure, figure, key, label, count, total, rate."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["procedure", "figure", "key", "label", "count", "total", "rate"])
    for row in rows(figures, engine, lang):
        label = row.label
        if label[:1] in ("=", "+", "-", "@"):  # a spreadsheet would run it as a formula
            label = "'" + label
        count = "" if row.count is None else f"{row.count:g}"
        total = "" if row.total is None else str(row.total)
        rate = "" if row.rate is None else f"{row.rate:.4f}"
        writer.writerow([row.procedure, row.figure, row.key, label, count, total, rate])
    return buffer.getvalue()


# -- HTML -------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,"Noto Sans CJK TC","Noto Sans CJK SC",sans-serif;margin:2rem;
color:#1f2933;max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:2px solid #d9e2ec;padding-bottom:.3rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
.meta{color:#52606d}.tiles{display:flex;gap:.8rem;flex-wrap:wrap}
.tile{border:1px solid #d9e2ec;border-radius:6px;padding:.5rem .9rem;min-width:7rem}
.tile span{display:block}.tile span::first-letter{text-transform:uppercase}
.tile b{display:block;font-size:1.4rem}.grid{display:grid;
grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1rem 2rem}
table{border-collapse:collapse;font-size:.85rem}td,th{padding:.15rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}svg text{font-size:12px;fill:#1f2933}
"""


def _bars(items: Sequence[tuple[str, float, str]], maximum: float, colour: str) -> str:
    """A horizontal bar chart: one bar per (label, value, text shown beside it)."""
    if not items:
        return ""
    label_w, bar_w, row_h = 230, 200, 22
    height = row_h * len(items) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 130}" '
        f'height="{height}" role="img">'
    ]
    for i, (label, value, shown) in enumerate(items):
        y = i * row_h + 4
        length = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * bar_w
        short = label if columns(label) <= 34 else _fit(label, 34).rstrip()
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="16" fill="#f0f4f8"/>'
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="16" fill="{colour}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 14}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def html_page(figures: Sequence[ProcedureFigures], engine: Engine, lang: str, period: str) -> str:
    """A self-contained HTML page: the figures as tiles, bar charts and a table."""
    w = WORDS[lang]
    colon = LABELS[lang]["colon"]
    body = [f"<h1>{escape(w['report'])}</h1>", f'<p class="meta">{escape(w["period"])}{colon}'
            f"{escape(period)}</p>"]  # fmt: skip
    if not figures:
        body.append(f"<p>{escape(w['no_cases'])}</p>")
    all_rows = rows(figures, engine, lang)
    for f in figures:
        proc = engine.procedure(f.procedure)
        got = [r for r in all_rows if r.procedure == f.procedure]
        body.append(
            f"<h2>{escape(_proc_title(proc, lang))} <small>({escape(f.procedure)})</small></h2>"
        )
        tiles = [(w[k], str(getattr(f, k))) for k in ("opened", "closed", "cancelled", "open")]
        tiles.append((w["completion"], _percent(f.completion_rate)))
        if f.callback is not None:
            tiles.append((w["callback"], _percent(f.callback.rate)))
        if f.satisfaction is not None:
            tiles.append((w["satisfaction"], _percent(f.satisfaction.rate)))
        body.append(
            '<div class="tiles">'
            + "".join(
                f'<div class="tile"><span>{escape(t)}</span><b>{escape(v)}</b></div>'
                for t, v in tiles
            )
            + "</div>"
        )
        charts = []
        on_time = [
            (r.label, r.rate or 0.0, f"{_percent(r.rate)} ({_number(r.count)}/{r.total})")
            for r in got
            if r.figure == "on_time"
        ]
        charts.append((w["on_time"], _bars(on_time, 1.0, "#2f9e44")))
        medians = [r for r in got if r.figure == "median_seconds"]
        p90s = {r.key: r.count for r in got if r.figure == "p90_seconds"}
        longest = max((v for v in p90s.values() if v is not None), default=0.0)
        steps = [
            (r.label, r.count or 0.0, f"{_hours(r.count)} / {_hours(p90s.get(r.key))}")
            for r in medians
        ]
        charts.append(
            (f"{w['steps']} ({w['median']} / {w['p90']})", _bars(steps, longest, "#1971c2"))
        )
        for figure, title in (("escalations", w["escalations"]), ("breakdown", w["breakdown"])):
            items = [
                (r.label, r.count or 0.0, f"{_number(r.count)} ({_percent(r.rate)})")
                for r in got
                if r.figure == figure
            ]
            if items:
                charts.append((title, _bars(items, float(f.opened), "#e8590c")))
        body.append(
            '<div class="grid">'
            + "".join(f"<div><h3>{escape(t)}</h3>{svg}</div>" for t, svg in charts if svg)
            + "</div>"
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(w['report'])}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
