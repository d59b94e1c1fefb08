"""The YAML shape of a business calendar: time zone, weekly hours, holidays, overrides.

:class:`CalendarSpec` is what a calendar file holds, validated (a frozen pydantic model with
a description on every field, for the JSON Schema); :mod:`servflow.engine.calendar` compiles
it into a :class:`~servflow.engine.calendar.Calendar` that does the arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "HOLIDAY_SOURCES_CHECKED",
    "WEEKDAYS",
    "CalendarSpec",
    "HolidaySource",
    "WallRange",
    "WeeklyHours",
    "parse_ranges",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


_RANGE_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_RANGE = re.compile(_RANGE_PATTERN)
_ZONE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
# Files in some zoneinfo directories that are not zones, or that mirror the host's zone.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})

WallRange = tuple[int, int]
"""Minutes after local midnight: ``(510, 720)`` is 08:30-12:00; the end may be 1440."""


def parse_ranges(values: tuple[str, ...]) -> tuple[WallRange, ...]:
    ranges: list[WallRange] = []
    for text in values:
        if not isinstance(text, str) or _RANGE.fullmatch(text) is None:
            raise ValueError(
                f"bad hours {text!r}: write HH:MM-HH:MM, e.g. 08:30-12:00 (24:00 may end a day)"
            )
        start_text, end_text = text.split("-")
        start = int(start_text[:2]) * 60 + int(start_text[3:])
        end = int(end_text[:2]) * 60 + int(end_text[3:])
        if end <= start:
            raise ValueError(
                f"bad hours {text!r}: the end must be after the start; hours cannot pass "
                "midnight, so split a night shift over two days (22:00-24:00, 00:00-06:00)"
            )
        if ranges and start < ranges[-1][1]:
            raise ValueError(
                f"hours {text!r} overlap or precede the range before them; list the ranges "
                "sorted and without overlaps"
            )
        ranges.append((start, end))
    return tuple(ranges)


def _check_hours(values: tuple[str, ...]) -> tuple[str, ...]:
    parse_ranges(values)
    return values


Hours = Annotated[
    tuple[Annotated[str, Field(json_schema_extra={"pattern": _RANGE_PATTERN})], ...],
    AfterValidator(_check_hours),
]


def _weekday_field(day: str) -> Any:
    return Field(
        default=(),
        description=f"Working hours on {day}, as sorted 'HH:MM-HH:MM' ranges; "
        "absent or empty means not a working day.",
    )


class WeeklyHours(BaseModel):
    """Working hours per weekday; a missing weekday is not a working day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mon: Hours = _weekday_field("Mondays")
    tue: Hours = _weekday_field("Tuesdays")
    wed: Hours = _weekday_field("Wednesdays")
    thu: Hours = _weekday_field("Thursdays")
    fri: Hours = _weekday_field("Fridays")
    sat: Hours = _weekday_field("Saturdays")
    sun: Hours = _weekday_field("Sundays")


class HolidaySource(BaseModel):
    """Public holidays (and make-up working days) taken from the ``holidays`` package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str = Field(
        description="ISO 3166-1 country code the holidays package supports, e.g. CN, HK, TW, MO."
    )
    subdivision: str | None = Field(
        default=None, description="Optional subdivision code of that country, e.g. ENG for GB."
    )
    categories: tuple[str, ...] | None = Field(
        default=None,
        description="Holiday categories that are days off, e.g. [public, optional] for Hong "
        "Kong's general holidays; default: the package's default category (public).",
    )

    @model_validator(mode="after")
    def _check_supported(self, info: ValidationInfo) -> HolidaySource:
        if isinstance(info.context, dict) and info.context.get(HOLIDAY_SOURCES_CHECKED):
            # A result of the loader's cache: this source was found supported by this
            # very version of the holidays package when the file was first loaded.
            return self
        problem = _holiday_source_problem(self.country, self.subdivision, self.categories)
        if problem is not None:
            raise ValueError(problem)
        return self


# The validation context key that says the holiday sources were checked already (by the
# same version of the holidays package): the loader's cache sets it, nothing else should.
HOLIDAY_SOURCES_CHECKED = "servflow_holiday_sources_checked"


@lru_cache(maxsize=64)
def _holiday_source_problem(
    country: str, subdivision: str | None, categories: tuple[str, ...] | None
) -> str | None:
    import holidays  # imported here: only calendars that name a holiday source need it
    from holidays.registry import EntityLoader

    # The registry's codes, not list_supported_countries(): that one imports the module of
    # every country the package knows (some 250 ms) to list their subdivisions.
    if country not in set(EntityLoader.get_country_codes()):
        return (
            f"unknown holiday country {country!r}: use an ISO 3166-1 code the holidays "
            "package supports, e.g. CN, HK, TW or MO"
        )
    try:
        holidays.country_holidays(country, subdiv=subdivision, categories=categories, years=())
    except (NotImplementedError, ValueError) as error:
        known = ", ".join(holidays.list_supported_countries()[country]) or "none"
        return f"{error} (subdivisions of {country}: {known})"
    return None


OverrideValue = Literal["off", "workday"] | Hours


class CalendarSpec(BaseModel):
    """One business calendar as written in a calendar file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: dict[str, str] = Field(
        default_factory=dict,
        description="Display name per language tag, e.g. {zh-Hant: 辦公時間, en: Office hours}.",
    )
    timezone: str = Field(
        description="IANA time zone the hours are written in, e.g. Asia/Shanghai.",
        examples=["Asia/Shanghai", "Asia/Hong_Kong"],
    )
    hours: WeeklyHours = Field(description="Working hours per weekday (mon ... sun).")
    holidays: HolidaySource | None = Field(
        default=None,
        description="Where public holidays and make-up working days come from; none if absent.",
    )
    overrides: dict[date, OverrideValue] = Field(
        default_factory=dict,
        description="Per-date exceptions that win over everything else: 'off', 'workday' "
        "(the workday_hours) or a list of 'HH:MM-HH:MM' ranges. Keys are ISO dates.",
    )
    workday_hours: Hours | None = Field(
        default=None,
        description="Hours of make-up working days and 'workday' overrides; default: mon.",
    )
    published_through: date | None = Field(
        default=None,
        description="Last date whose schedule is known; computing anything after it is an "
        "error rather than a guess. No limit if absent.",
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        problem = f"unknown time zone {value!r}: use an IANA name such as Asia/Shanghai"
        if value in _NOT_ZONES or _ZONE_KEY.fullmatch(value) is None:
            raise ValueError(problem)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(problem) from None
        return value

    @field_validator("overrides", mode="before")
    @classmethod
    def _check_override_values(cls, value: object) -> object:
        if isinstance(value, Mapping):
            for day, entry in value.items():
                if isinstance(entry, bool):
                    raise ValueError(
                        f"override for {day} is the boolean {entry}: YAML 1.1 reads a bare "
                        "off/no as false; write 'off' or 'workday' in quotes"
                    )
                if isinstance(entry, str) and entry not in ("off", "workday"):
                    raise ValueError(
                        f"override for {day} is {entry!r}: write 'off', 'workday' or a "
                        "list of hours such as ['09:00-12:00']"
                    )
        return value

    @model_validator(mode="after")
    def _check_workday_hours(self) -> CalendarSpec:
        needs_workday = self.holidays is not None or "workday" in self.overrides.values()
        if needs_workday and self.workday_hours is None and not self.hours.mon:
            raise ValueError(
                "make-up working days and 'workday' overrides need hours: set workday_hours "
                "(or hours for mon)"
            )
        return self
