"""A what-if file (`dmde whatif FILE`): households to score as `dmde score` would.

Each household is described either in the terms of the source tables (members with their
role, birth date and activity spells, payments per benefit and month, resources, DTRs,
events), from which the scoring's own transforms compute the 19 variables; or directly by
its modalities, one code of the model file per variable. The file is checked on load like
the configuration (strict models, unknown keys refused); what depends on the score month
or on the model file is checked by `problems`, each problem located at its key path.

    month: 2026-02              # the score month M (`--month` overrides it)
    caf: "59"                   # the Caf of every household without its own (`--caf` overrides both)
    households:
      - id: single-parent-rsa
        label: Parent isolé au RSA, deux enfants
        resources_eur: 250      # every month of W12 (or `resources:`, month by month)
        members:
          - {role: HEAD, birth_date: 1991-04-12, activity: UNEMPLOYED}
          - {role: CHILD, birth_date: 2016-09-03, activity: SCHOOL}
        payments:
          - {benefit: RSA, amount_eur: 640}                # every month of W24
          - {benefit: PA, amount_eur: 90, from: 2025-06}   # 2025-06 … M-1
        events: [{code: PROACC, date: 2025-03-14}]
      - id: given-by-modalities
        modalities: {rsa_changes: 2_plus, mean_pa: ge_250}  # other variables: the reference modality

`rows` turns a household described in source terms into the rows of the six source
tables (as column -> value mappings): the wiring builds the DataFrames from them.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Field, PlainValidator, Tag, model_validator

from domain.calendar import Calendar, is_quarter_start, months
from domain.codes import ACTIVITIES, ALLOWANCE_EVENTS, BENEFITS, COUNTED_EVENTS, MONEY_DIGITS, ROLES
from domain.errors import got, raise_problems
from domain.model import ModelSpec
from domain.types import CafCode, IsoDate, Month, NonEmptyStr, Strict, list_to_tuple

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
SCORED_EVENTS = (*COUNTED_EVENTS, *ALLOWANCE_EVENTS)  # the event codes a variable reads
_MAX_EUR = Decimal(10) ** (MONEY_DIGITS[0] - MONEY_DIGITS[1])


def _code(vocabulary: Sequence[str], what: str):
    """A validator: the value is one of `vocabulary`, else 'unknown <what> …'."""
    def parse(value: Any) -> str:
        if isinstance(value, str) and value in vocabulary:
            return value
        return _unknown(value, vocabulary, what)
    return PlainValidator(parse)


def _unknown(value: Any, vocabulary: Sequence[str], what: str):
    raise ValueError(f"unknown {what} {value!r} (known: {', '.join(vocabulary)})")


def parse_amount(value: Any) -> Decimal:
    """Euros as the sources hold them: a number >= 0 with at most two decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"must be an amount in euros, a number{got(value)}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"must be an amount in euros{got(value)}") from None
    if not amount.is_finite():
        raise ValueError(f"must be a finite amount in euros{got(value)}")
    if amount < 0:
        raise ValueError(f"negative amount {value}: amounts are euros >= 0")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"has more than two decimals{got(value)}: amounts are in euros and cents")
    if amount >= _MAX_EUR:
        raise ValueError(f"is too large for a decimal{MONEY_DIGITS}{got(value)}")
    return amount.quantize(Decimal("0.01"))


def _modality_code(value: Any) -> Any:
    """YAML reads `no`/`yes` as booleans and `0` as a number: the model file's codes are text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return value


Amount = Annotated[Decimal, PlainValidator(parse_amount)]
Activity = Annotated[str, _code(ACTIVITIES, "activity code")]
Role = Annotated[str, _code(ROLES, "role")]
Benefit = Annotated[str, _code(BENEFITS, "benefit")]
EventCode = Annotated[str, _code(SCORED_EVENTS, "event code (other codes have no effect on the score)")]
ModalityCode = Annotated[str, BeforeValidator(_modality_code)]


class Periods(Strict):
    """The months an amount is for: `month` alone, or `from` … `to` (each defaulting to the
    first and last month of the window the amount is read over)."""

    month: Month | None = None
    first: Month | None = Field(default=None, alias="from")
    last: Month | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _one_form(self) -> Periods:
        problems: list[Problem] = []
        if self.month is not None and (self.first is not None or self.last is not None):
            problems.append((("month",), "give either `month` or `from`/`to`, not both"))
        if self.first is not None and self.last is not None and self.first > self.last:
            problems.append((("to",), f"is before `from` ({self.last:%Y-%m} < {self.first:%Y-%m})"))
        raise_problems(problems)
        return self

    def months_in(self, window_start: date, window_end: date) -> list[date]:
        if self.month is not None:
            return [self.month]
        return months(self.first or window_start, self.last or window_end)


class Payment(Periods):
    """A benefit paid `amount_eur` in each of its months (default: every month of W24)."""

    benefit: Benefit
    amount_eur: Amount


class Resources(Periods):
    """The household's net monthly resources in the snapshots of its months (default: every
    month of W12)."""

    amount_eur: Amount


class Spell(Strict):
    activity: Activity | None = None  # None: no activity recorded (read as UNKNOWN)
    valid_from: IsoDate
    valid_to: IsoDate | None = None  # None: open


class Member(Strict):
    """A member with one activity (`activity`, from `valid_from`, default its birth date)
    or with its activity spells (`spells`)."""

    role: Role
    birth_date: IsoDate
    activity: Activity | None = None
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None
    spells: Annotated[tuple[Spell, ...], list_to_tuple, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Member:
        if self.spells is not None and (self.activity is not None or self.valid_from is not None
                                        or self.valid_to is not None):
            raise_problems([(("spells",), "give either `spells` or `activity` (with `valid_from`/`valid_to`), "
                                          "not both")])
        return self

    def activity_spells(self) -> tuple[Spell, ...]:
        if self.spells is not None:
            return self.spells
        return (Spell(activity=self.activity, valid_from=self.valid_from or self.birth_date,
                      valid_to=self.valid_to),)


class Declaration(Strict):
    """A quarterly resource declaration (DTR)."""

    quarter_start: Month
    declared_eur: Amount
    prefilled_eur: Amount | None = None  # None: not pre-filled (before the Caf's pre-filling start)
    alimony: bool = False
    self_employment_eur: Amount = Decimal("0.00")
    corrected: bool = False  # the household changed the pre-filled amount
    verified: bool = False  # the correction was checked

    @model_validator(mode="after")
    def _a_quarter(self) -> Declaration:
        if not is_quarter_start(self.quarter_start):
            raise_problems([(("quarter_start",), f"must be the first month of a calendar quarter (01, 04, 07, "
                                                 f"10; got {self.quarter_start:%Y-%m})")])
        return self


class Event(Strict):
    code: EventCode
    date: IsoDate


class Described(Strict):
    """What every household has: its name in the output and in messages, and its Caf."""

    id: NonEmptyStr
    label: NonEmptyStr | None = None
    caf: CafCode | None = None


class SourceHousehold(Described):
    """A household in the terms of the source tables."""

    couple: bool | None = None  # default: the household has a PARTNER
    guardianship: bool = False  # file managed by an institutional guardian
    resources_eur: Amount | None = None  # every month of W12
    resources: Annotated[tuple[Resources, ...], list_to_tuple, Field(min_length=1)] | None = None
    members: Annotated[tuple[Member, ...], list_to_tuple, Field(min_length=1)]
    payments: Annotated[tuple[Payment, ...], list_to_tuple] = ()
    declarations: Annotated[tuple[Declaration, ...], list_to_tuple] = ()
    events: Annotated[tuple[Event, ...], list_to_tuple] = ()

    @model_validator(mode="after")
    def _consistent(self) -> SourceHousehold:
        problems: list[Problem] = []
        if (self.resources_eur is None) == (self.resources is None):
            problems.append((("resources_eur",), "give either `resources_eur` (every month of W12) or `resources` "
                                                 "(month by month), exactly one of them"))
        roles = [m.role for m in self.members]
        if roles.count("HEAD") != 1:
            problems.append((("members",), f"must have exactly one HEAD member (got {roles.count('HEAD')})"))
        if roles.count("PARTNER") > 1:
            problems.append((("members",), f"must have at most one PARTNER member (got {roles.count('PARTNER')})"))
        for i, member in enumerate(self.members):
            problems += [(("members", i, *loc), problem) for loc, problem in _spell_problems(member)]
        problems += _duplicates("declarations", [d.quarter_start for d in self.declarations], "quarter_start")
        raise_problems(problems)
        return self

    @property
    def is_couple(self) -> bool:
        return self.couple if self.couple is not None else any(m.role == "PARTNER" for m in self.members)

    def problems(self, cal: Calendar) -> list[Problem]:
        """What is wrong with the household for score month `cal.score_month`."""
        problems: list[Problem] = []
        snapshots = self.resource_months(cal)
        if cal.snapshot_month not in snapshots:
            where = ("resources",) if self.resources is not None else ("resources_eur",)
            problems.append((where, f"no snapshot in {cal.snapshot_month:%Y-%m} (M-1): the scored population is the "
                                    "households of the snapshot of M-1, give the resources of that month"))
        seen: dict[date, int] = {}
        for i, item in enumerate(self.resources or ()):
            for month in item.months_in(cal.w12_start, cal.snapshot_month):
                if month in seen:
                    problems.append((("resources", i), f"{month:%Y-%m} is already in resources[{seen[month]}]"))
                seen.setdefault(month, i)
        paid: dict[tuple[str, date], int] = {}
        for i, payment in enumerate(self.payments):
            for month in payment.months_in(cal.w24_start, cal.snapshot_month):
                key = (payment.benefit, month)
                if key in paid:
                    problems.append((("payments", i), f"{payment.benefit} of {month:%Y-%m} is already paid by "
                                                      f"payments[{paid[key]}]"))
                paid.setdefault(key, i)
        for i, member in enumerate(self.members):
            if not EARLIEST_BIRTH_DATE <= member.birth_date <= cal.as_of:
                problems.append((("members", i, "birth_date"),
                                 f"{member.birth_date.isoformat()} is not between {EARLIEST_BIRTH_DATE.isoformat()} and "
                                 f"the as-of date {cal.as_of.isoformat()}"))
        return problems

    def resource_months(self, cal: Calendar) -> dict[date, Decimal]:
        """{month: resources} of the household's snapshots."""
        if self.resources is None:
            return {month: self.resources_eur for month in months(cal.w12_start, cal.snapshot_month)}
        return {month: item.amount_eur for item in self.resources
                for month in item.months_in(cal.w12_start, cal.snapshot_month)}

    def rows(self, caf: str, cal: Calendar) -> dict[str, list[dict[str, Any]]]:
        """The household's rows of each source table (column -> value), as an extract holds them."""
        head = next(m for m in self.members if m.role == "HEAD")
        return {
            "households": [
                {"household_id": self.id, "month": month, "caf": caf, "couple": self.is_couple,
                 "guardianship": self.guardianship, "resources_eur": amount, "head_sex": None,
                 "head_nationality": None, "head_birth_date": head.birth_date, "residence": None}
                for month, amount in sorted(self.resource_months(cal).items())],
            "members": [
                {"household_id": self.id, "member_id": f"{self.id}-{i}", "role": member.role,
                 "birth_date": member.birth_date, "activity": spell.activity, "valid_from": spell.valid_from,
                 "valid_to": spell.valid_to}
                for i, member in enumerate(self.members, start=1) for spell in member.activity_spells()],
            "payments": [
                {"household_id": self.id, "month": month, "benefit": payment.benefit, "amount_eur": payment.amount_eur}
                for payment in self.payments for month in payment.months_in(cal.w24_start, cal.snapshot_month)],
            "declarations": [
                {"household_id": self.id, "quarter_start": d.quarter_start, "declared_eur": d.declared_eur,
                 "prefilled_eur": d.prefilled_eur, "alimony": d.alimony, "self_employment_eur": d.self_employment_eur,
                 "corrected": d.corrected, "verified": d.verified}
                for d in self.declarations],
            "events": [{"household_id": self.id, "event_date": e.date, "code": e.code} for e in self.events],
        }


def _spell_problems(member: Member) -> list[Problem]:
    """Spells start on or after the birth date, end on or after they start, and do not
    overlap (one spell covers a date per member, as the variables assume)."""
    problems: list[Problem] = []
    spells = member.activity_spells()
    where = (lambda i, key: ("spells", i, key)) if member.spells is not None else (lambda i, key: (key,))
    for i, spell in enumerate(spells):
        if spell.valid_from < member.birth_date:
            problems.append((where(i, "valid_from"), f"{spell.valid_from.isoformat()} is before the birth date "
                                                     f"{member.birth_date.isoformat()}"))
        if spell.valid_to is not None and spell.valid_to < spell.valid_from:
            problems.append((where(i, "valid_to"), f"{spell.valid_to.isoformat()} is before valid_from "
                                                   f"{spell.valid_from.isoformat()}"))
    ordered = sorted(range(len(spells)), key=lambda i: spells[i].valid_from)
    for previous, i in zip(ordered, ordered[1:]):
        end = spells[previous].valid_to
        if end is None or end >= spells[i].valid_from:
            problems.append((where(i, "valid_from"), f"overlaps spells[{previous}]: a member has one activity "
                                                     "on a date"))
    return problems


def _duplicates(field: str, values: Sequence[object], key: str) -> list[Problem]:
    first_at: dict[object, int] = {}
    problems: list[Problem] = []
    for i, value in enumerate(values):
        if value in first_at:
            problems.append(((field, i, key), f"duplicate of {field}[{first_at[value]}]"))
        first_at.setdefault(value, i)
    return problems


class ModalityHousehold(Described):
    """A household given by its modalities: variable name -> modality code of the model
    file; a variable left out is in its reference modality (the file's first)."""

    modalities: dict[NonEmptyStr, ModalityCode]

    def problems(self, spec: ModelSpec) -> list[Problem]:
        known = {v.name: v for v in spec.variables}
        problems: list[Problem] = []
        for name, code in self.modalities.items():
            if name not in known:
                problems.append((("modalities", name), f"unknown variable {name!r} (known: {', '.join(known)})"))
            elif code not in known[name].codes():
                problems.append((("modalities", name), f"unknown modality {code!r} of {name} "
                                                       f"(known: {', '.join(known[name].codes())})"))
        return problems

    def codes(self, spec: ModelSpec) -> dict[str, str]:
        """Every variable's modality code, in the model file's order."""
        return {v.name: self.modalities.get(v.name, v.modalities[0].code) for v in spec.variables}


# pydantic tags the household's form in an error's location; the wiring drops these tags.
FORM_TAGS = ("in_source_terms", "by_modalities")


def _form(value: Any) -> str:
    return FORM_TAGS[1] if isinstance(value, dict) and "modalities" in value else FORM_TAGS[0]


Household = Annotated[Union[Annotated[SourceHousehold, Tag(FORM_TAGS[0])],
                            Annotated[ModalityHousehold, Tag(FORM_TAGS[1])]], Discriminator(_form)]


class WhatIfFile(Strict):
    month: Month | None = None
    caf: CafCode | None = None
    households: Annotated[tuple[Household, ...], list_to_tuple, Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> WhatIfFile:
        raise_problems(_duplicates("households", [h.id for h in self.households], "id"))
        return self

    def score_month(self, override: date | None) -> date | None:
        return override or self.month

    def caf_of(self, household: SourceHousehold | ModalityHousehold, override: str | None) -> str | None:
        """`--caf`, else the household's own, else the file's."""
        return override or household.caf or self.caf

    def problems(self, spec: ModelSpec, cal: Calendar, caf_override: str | None) -> list[Problem]:
        """What depends on the score month, the Caf and the model file, at key paths."""
        problems: list[Problem] = []
        for i, household in enumerate(self.households):
            if self.caf_of(household, caf_override) is None:
                problems.append((("households", i, "caf"), "no Caf: give `caf` to the household or to the file, "
                                                           "or --caf"))
            found = household.problems(spec) if isinstance(household, ModalityHousehold) else household.problems(cal)
            problems += [(("households", i, *loc), problem) for loc, problem in found]
        return problems
