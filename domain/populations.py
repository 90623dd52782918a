"""The populations the monitoring compares (docs/monitoring.md, "The monitored populations"), as data.

Each attribute has categories, and every category a French label for the ethics
committee's report (`conf/populations.yaml`). The rules that put a household in a category
are `transforms/populations.py`; the categories a rule can give are fixed here, except for
the banded attributes (income, age), whose bands the file defines. A household whose
source value is missing falls in `UNKNOWN`, reported like any other category.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from domain.codes import NATIONALITIES, RESIDENCES, SEXES
from domain.errors import UnknownNameError, raise_problems
from domain.model import Band, band_problems
from domain.types import NonEmptyStr, Strict, list_to_tuple

UNKNOWN = "UNKNOWN"
INTERSECTION_SEPARATOR = "×"

# The categories each rule gives (besides UNKNOWN), in the report's order.
FAMILY_SITUATIONS = ("SINGLE", "SINGLE_PARENT", "COUPLE")
TERRITORIES = ("METROPOLE", "DROM")
MINIMUM_INCOME = ("RSA", "NO_RSA")
DISABILITY = ("AAH_OR_AEEH", "NONE")
YES_NO = ("YES", "NO")
RULE_CATEGORIES: dict[str, tuple[str, ...] | None] = {
    "family_situation": FAMILY_SITUATIONS,
    "sex": SEXES,
    "nationality": NATIONALITIES,
    "residence": RESIDENCES,
    "territory": TERRITORIES,
    "income_band": None,   # bands of the resources/SMIC ratio, from the file
    "minimum_income": MINIMUM_INCOME,
    "age_band": None,      # bands of the head's completed age, from the file
    "disability": DISABILITY,
    "student": YES_NO,
    "self_employed": YES_NO,
}
ATTRIBUTES = tuple(RULE_CATEGORIES)


def intersection_column(first: str, second: str) -> str:
    """The column of an intersection of two attributes: family_situation_x_sex."""
    return f"{first}_x_{second}"


class Category(Band):
    """A category: its code and label; for a banded attribute, its band."""


class Attribute(Strict):
    label: NonEmptyStr
    categories: Annotated[tuple[Category, ...], list_to_tuple, Field(min_length=2)]

    def codes(self) -> list[str]:
        return [category.code for category in self.categories]


class PopulationsSpec(Strict):
    unknown_label: NonEmptyStr   # the label of UNKNOWN, in every attribute
    attributes: dict[str, Attribute]

    @model_validator(mode="after")
    def _the_rules_categories(self) -> PopulationsSpec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if list(self.attributes) != list(ATTRIBUTES):
            problems.append((("attributes",), f"must list exactly the monitored attributes (docs/monitoring.md), "
                                              f"in this order: {', '.join(ATTRIBUTES)} "
                                              f"(got {', '.join(self.attributes)})"))
        for name, attribute in self.attributes.items():
            codes = attribute.codes()
            for i, code in enumerate(codes):
                if code == UNKNOWN or code in codes[:i]:
                    why = "is implicit (a missing value)" if code == UNKNOWN else "is listed twice"
                    problems.append((("attributes", name, "categories", i, "code"), f"{code!r} {why}"))
            expected = RULE_CATEGORIES.get(name)
            kind = "banded" if expected is None and name in RULE_CATEGORIES else "categorical"
            if expected is not None and sorted(codes) != sorted(expected):
                problems.append((("attributes", name, "categories"),
                                 f"the rule gives {', '.join(expected)} (got {', '.join(codes)})"))
            problems += [(("attributes", name, *loc), problem) for loc, problem in
                         band_problems(attribute.categories, "categories", kind, "attribute's category")]
        raise_problems(problems)
        return self

    def attribute(self, name: str) -> Attribute:
        if name not in self.attributes:
            raise UnknownNameError("populations", "attributes",
                                   f"no attribute {name!r} (known: {', '.join(self.attributes)})")
        return self.attributes[name]

    def codes(self, name: str) -> list[str]:
        """The categories of an attribute as reported: its own, then UNKNOWN."""
        return [*self.attribute(name).codes(), UNKNOWN]

    def label(self, name: str) -> str:
        """The French label of an attribute, or of an intersection (first×second)."""
        if INTERSECTION_SEPARATOR in name:
            return " × ".join(self.label(part) for part in name.split(INTERSECTION_SEPARATOR))
        return self.attribute(name).label

    def category_label(self, name: str, code: str) -> str:
        """The French label of a category (of an intersection: SINGLE_PARENT×F)."""
        if INTERSECTION_SEPARATOR in name:
            return " × ".join(self.category_label(a, c) for a, c in
                              zip(name.split(INTERSECTION_SEPARATOR), code.split(INTERSECTION_SEPARATOR)))
        if code == UNKNOWN:
            return self.unknown_label
        for category in self.attribute(name).categories:
            if category.code == code:
                return category.label
        raise UnknownNameError("populations", f"attributes.{name}.categories",
                               f"no category {code!r} (known: {', '.join(self.codes(name))})")
