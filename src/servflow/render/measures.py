"""The ``measures:`` of a procedure as the SOP shows them: what the KPI report counts.

Kept apart from :mod:`servflow.render.sop`, which only places the rows this module makes:
a heading, an introduction and one ``(what, how)`` pair per measure the file names, in
Traditional Chinese, Simplified Chinese or English.
"""

from __future__ import annotations

from collections.abc import Callable

from servflow.model import Clause, Procedure, name_list
from servflow.render.common import localized
from servflow.render.escape import markdown_text

__all__ = ["MEASURE_WORDS", "measure_rows"]

MEASURE_WORDS: dict[str, dict[str, str]] = {
    "zh-Hant": {
        "heading": "績效統計口徑",
        "intro": "`servflow report` 依以下定義，從稽核紀錄計算完成率、回訪率、客戶滿意度、各時限按時率及分類統計（見 docs/kpi.md）。",
        "what": "指標", "how": "計算依據",
        "cancelled": "不計入完成率的取消狀態", "due": "應回訪", "reached": "已回訪",
        "unreachable": "無法聯繫（計為已回訪）", "satisfied": "客戶滿意度欄位",
        "breakdown": "分類統計欄位",
    },
    "zh-Hans": {
        "heading": "绩效统计口径",
        "intro": "`servflow report` 依以下定义，从稽核记录计算完成率、回访率、客户满意度、各时限按时率及分类统计（见 docs/kpi.md）。",
        "what": "指标", "how": "计算依据",
        "cancelled": "不计入完成率的取消状态", "due": "应回访", "reached": "已回访",
        "unreachable": "无法联系（计为已回访）", "satisfied": "客户满意度字段",
        "breakdown": "分类统计字段",
    },
    "en": {
        "heading": "What the KPI report counts",
        "intro": "`servflow report` computes the completion rate, callback rate, satisfaction, "
        "on-time rate per time limit and counts by field from the audit log, with these "
        "definitions (see docs/kpi.md).",
        "what": "Measure", "how": "Counted from",
        "cancelled": "Cancelled (left out of the completion rate)", "due": "Due for callback",
        "reached": "Called back", "unreachable": "Unreachable (counts as called back)",
        "satisfied": "Satisfaction field", "breakdown": "Counted by",
    },
}  # fmt: skip


def measure_rows(
    proc: Procedure,
    lang: str,
    clause: Callable[[Clause], list[str]],
    quote: Callable[[str], str],
    comma: str,
) -> list[tuple[str, str]]:
    """``(measure, how it is counted)`` rows, Markdown-safe; empty without ``measures:``.

    ``clause`` renders a clause in words (the SOP's own, as for time limits); ``quote``
    and ``comma`` are the language's quotation marks and list separator.
    """
    measures = proc.measures
    if measures is None:
        return []
    w = MEASURE_WORDS[lang]

    def state(name: str) -> str:
        spec = proc.states.get(name)
        return quote(markdown_text(localized(spec.title, lang, name) if spec else name))

    def field(name: str) -> str:
        spec = proc.fields.get(name)
        return quote(markdown_text(localized(spec.title, lang, name) if spec else name))

    rows: list[tuple[str, str]] = []
    if measures.cancelled:
        rows.append((w["cancelled"], comma.join(state(n) for n in name_list(measures.cancelled))))
    callback = measures.callback
    if callback is not None:
        for key, part in (
            ("due", callback.due),
            ("reached", callback.reached),
            ("unreachable", callback.unreachable),
        ):
            if part is not None:
                rows.append((w[key], comma.join(clause(part))))
    if measures.satisfied is not None:
        rows.append((w["satisfied"], field(measures.satisfied)))
    if measures.breakdown:
        rows.append((w["breakdown"], comma.join(field(n) for n in measures.breakdown)))
    return rows
