"""A procedure's ``schedule`` in words, for the SOP: when the calendar opens a case.

One line per schedule, in Traditional Chinese, Simplified Chinese or English: its title,
when it falls (every working day at 17:30, every year on 1 March and 1 September at
09:00, by an RFC 5545 rule), the calendar it counts in, the role it opens the case as,
the constant data and the field that receives the date. Every text that comes from the
file is made inert for Markdown here (:mod:`servflow.render.escape`).
"""

from __future__ import annotations

from collections.abc import Callable

from servflow.model import Procedure, Schedule
from servflow.render.common import localized
from servflow.render.escape import code_span, markdown_text

__all__ = ["SCHEDULE_LABELS", "schedule_lines"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

SCHEDULE_LABELS: dict[str, dict[str, object]] = {
    "zh-Hant": {
        "heading": "定期開案",
        "intro": "以下案件由日曆按時自動開立，不需人手登記；同一時點只開一宗。",
        "day": "每日 {at}",
        "working day": "每個工作日 {at}",
        "week": "每週{days} {at}",
        "month": "每月{days} {at}",
        "year": "每年{days} {at}",
        "rrule": "按規則 {rule}，{at}",
        "weekdays": ("一", "二", "三", "四", "五", "六", "日"),
        "month_day": "{n}日",
        "last_day": "最後一日",
        "date": "{m}月{d}日",
        "join": "、",
        "calendar": "按「{calendar}」",
        "opened_as": "開案身分：{role}",
        "data": "預設資料：{data}",
        "date_field": "日期記入「{field}」",
        "from": "自 {date} 起",
        "sep": "；",
    },
    "zh-Hans": {
        "heading": "定期开案",
        "intro": "以下案件由日历按时自动开立，不需人手登记；同一时点只开一宗。",
        "day": "每日 {at}",
        "working day": "每个工作日 {at}",
        "week": "每周{days} {at}",
        "month": "每月{days} {at}",
        "year": "每年{days} {at}",
        "rrule": "按规则 {rule}，{at}",
        "weekdays": ("一", "二", "三", "四", "五", "六", "日"),
        "month_day": "{n}日",
        "last_day": "最后一日",
        "date": "{m}月{d}日",
        "join": "、",
        "calendar": "按「{calendar}」",
        "opened_as": "开案身分：{role}",
        "data": "预设资料：{data}",
        "date_field": "日期记入「{field}」",
        "from": "自 {date} 起",
        "sep": "；",
    },
    "en": {
        "heading": "Scheduled cases",
        "intro": "The calendar opens these cases by itself, at the times below; nobody "
        "records them, and each time opens one case only.",
        "day": "every day at {at}",
        "working day": "every working day at {at}",
        "week": "every {days} at {at}",
        "month": "every month on {days} at {at}",
        "year": "every year on {days} at {at}",
        "rrule": "by the rule {rule} at {at}",
        "weekdays": tuple(d.capitalize() for d in _WEEKDAYS),
        "month_day": "day {n}",
        "last_day": "the last day",
        "date": "{month} {d}",
        "join": ", ",
        "calendar": "in {calendar}",
        "opened_as": "opened as {role}",
        "data": "with {data}",
        "date_field": "the date goes into {field}",
        "from": "from {date}",
        "sep": "; ",
    },
}

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip


def _days(schedule: Schedule, words: dict[str, object]) -> str:
    join = str(words["join"])
    out: list[str] = []
    for item in schedule.days or []:
        if schedule.every == "week" and isinstance(item, str):
            names = words["weekdays"]
            assert isinstance(names, tuple)
            out.append(str(names[_WEEKDAYS.index(item.lower())]))
        elif schedule.every == "month" and isinstance(item, int):
            out.append(
                str(words["last_day"]) if item == -1 else str(words["month_day"]).format(n=item)
            )
        elif isinstance(item, str):
            month, day = (int(part) for part in item.split("-"))
            out.append(str(words["date"]).format(m=month, d=day, month=_MONTHS[month - 1]))
    return join.join(out)


def schedule_lines(
    proc: Procedure,
    lang: str,
    role: Callable[[str], str],
    field_title: Callable[[str], str],
    calendar: str,
) -> list[str]:
    """One Markdown line per schedule of ``proc`` (no leading bullet); ``role`` and
    ``field_title`` turn ids into inert localized titles, ``calendar`` is the calendar's."""
    words = SCHEDULE_LABELS.get(lang, SCHEDULE_LABELS["en"])

    def pii(name: str) -> bool:  # a personal value is not shown, even a constant one
        spec = proc.fields.get(name)
        return spec is not None and spec.pii

    lines: list[str] = []
    for index, schedule in enumerate(proc.schedule, start=1):
        if schedule.rrule is not None:
            when = str(words["rrule"]).format(rule=code_span(schedule.rrule), at=schedule.at)
        else:
            when = str(words[schedule.every or "day"]).format(
                days=_days(schedule, words), at=schedule.at
            )
        parts = [when + " " + str(words["calendar"]).format(calendar=calendar)]
        parts.append(str(words["opened_as"]).format(role=role(schedule.role)))
        if schedule.data:
            data = ", ".join(
                f"{field_title(k)} = {'🔒' if pii(k) else code_span(v)}"
                for k, v in schedule.data.items()
            )
            parts.append(str(words["data"]).format(data=data))
        if schedule.date_field is not None:
            parts.append(str(words["date_field"]).format(field=field_title(schedule.date_field)))
        if schedule.from_ is not None:
            parts.append(str(words["from"]).format(date=schedule.from_.isoformat()))
        title = markdown_text(localized(schedule.title, lang, f"{index}"))
        lines.append(f"**{title}**{': ' if lang == 'en' else '：'}{str(words['sep']).join(parts)}")
    return lines
