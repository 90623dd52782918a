"""The populations of MONITORING.md §1: each scored household's category of every
attribute, as of the score month's as-of date (the last day of M-1).

Computed from the scoring job's own inputs (the validated sources, the calendar, and the
features the job already computed, whose resources/SMIC ratio gives the income band), for
the monitoring only: `dmde score` does not call it, and no column here ever reaches
`features`, `scores` or `targets`. A missing source value (or one outside the attribute's
vocabulary) gives UNKNOWN, which is reported like any other category.

Like `transforms.features`, sources that carry a `score_month` column are read for that
month, so that a labelled sample of households scored at different months (their control
months) gets its categories in one pass.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from domain import populations as pop
from domain.calendar import Calendar
from domain.codes import ADULTS, DROM_CAFS, UNKNOWN_ACTIVITY
from domain.populations import UNKNOWN, Category, PopulationsSpec, intersection_column
from transforms.columns import completed_age
from transforms.features import KEY, MonthWindows, at_score_month
from transforms.model import in_band

SNAPSHOT_COLUMNS = ("couple", "head_sex", "head_nationality", "head_birth_date", "residence")
SINGLE, SINGLE_PARENT, COUPLE = pop.FAMILY_SITUATIONS
METROPOLE, DROM = pop.TERRITORIES
RSA, NO_RSA = pop.MINIMUM_INCOME
AAH_OR_AEEH, NO_DISABILITY_BENEFIT = pop.DISABILITY
YES, NO = pop.YES_NO
RSA_BENEFITS = ("RSA",)                   # benefit codes of domain.codes.BENEFITS
DISABILITY_BENEFITS = ("AAH", "AEEH")


def coded(value: Column, codes: Sequence[str]) -> Column:
    """The source code when it is one of the attribute's categories, else UNKNOWN."""
    return F.when(value.isin(*codes), value).otherwise(F.lit(UNKNOWN))


def banded(value: Column, categories: Sequence[Category]) -> Column:
    """The first category whose band holds the value (listed order); UNKNOWN for a null."""
    expr = None
    for category in categories:
        matches = in_band(value, category)
        expr = F.when(matches, F.lit(category.code)) if expr is None else expr.when(matches, F.lit(category.code))
    return expr.otherwise(F.lit(UNKNOWN))


def yes_no(is_yes: Column, is_known: Column) -> Column:
    return F.when(is_yes, F.lit(YES)).when(is_known, F.lit(NO)).otherwise(F.lit(UNKNOWN))


def snapshot_attributes(households: DataFrame, cal: Calendar) -> DataFrame:
    """The household's row of the snapshot of M-1: couple and the head's monitoring columns."""
    households = at_score_month(households, cal)
    w = MonthWindows(cal)
    return households.where(F.col("month") == w.snapshot_month).select(*KEY, *SNAPSHOT_COLUMNS)


def member_attributes(members: DataFrame, cal: Calendar) -> DataFrame:
    """Per household, from the spells covering the as-of date: a child present, whether the
    head's (partner's) activity is recorded, an adult student or self-employed."""
    members = at_score_month(members, cal)
    as_of = MonthWindows(cal).as_of
    covers_as_of = (F.col("valid_from") <= as_of) & (F.col("valid_to").isNull() | (F.col("valid_to") >= as_of))
    role, activity = F.col("role"), F.col("activity")
    is_adult = role.isin(*ADULTS)
    recorded = activity.isNotNull() & (activity != UNKNOWN_ACTIVITY)
    return members.where(covers_as_of).groupBy(*KEY).agg(
        F.max(role == "CHILD").alias("child_present"),
        F.max((role == "HEAD") & recorded).alias("head_activity_recorded"),
        F.max((role == "PARTNER") & recorded).alias("partner_activity_recorded"),
        F.max(is_adult & (activity == "STUDENT")).alias("adult_student"),
        F.max(is_adult & (activity == "SELF_EMPLOYED")).alias("adult_self_employed"),
    )


def payment_attributes(payments: DataFrame, cal: Calendar) -> DataFrame:
    """Per household: some RSA payment > 0, some AAH or AEEH payment > 0, with benefit month in W12."""
    payments = at_score_month(payments, cal)
    w = MonthWindows(cal)
    paid_in_w12 = F.col("month").between(w.w12_start, w.snapshot_month) & (F.col("amount_eur") > 0)
    benefit = F.col("benefit")
    return payments.where(paid_in_w12).groupBy(*KEY).agg(
        F.max(benefit.isin(*RSA_BENEFITS)).alias("rsa_paid"),
        F.max(benefit.isin(*DISABILITY_BENEFITS)).alias("disability_paid"),
    )


def protected_attributes(features: DataFrame, households: DataFrame, members: DataFrame, payments: DataFrame, *,
                         cal: Calendar, spec: PopulationsSpec,
                         intersections: Sequence[tuple[str, str]] = ()) -> DataFrame:
    """One row per household of `features` (the scored households of M, with their `caf` and
    `resources_smic_ratio`): score_month, caf, household_id, one column per attribute of
    MONITORING.md §1, then one per intersection (`first_x_second` = `CODE×CODE`).

    `households`, `members`, `payments`: the validated sources the scoring read for M.
    """
    w = MonthWindows(cal)
    scored = features.select(*KEY, "caf", "resources_smic_ratio")
    joined = (scored
              .join(snapshot_attributes(households, cal), on=KEY, how="left")
              .join(member_attributes(members, cal), on=KEY, how="left")
              .join(payment_attributes(payments, cal), on=KEY, how="left"))

    def flag(name: str) -> Column:
        return F.coalesce(F.col(name), F.lit(False))

    is_couple = F.col("couple")
    family = (F.when(is_couple, F.lit(COUPLE))
              .when(flag("child_present"), F.lit(SINGLE_PARENT))
              .otherwise(F.lit(SINGLE)))
    # Head's and partner's activities known: the head's recorded, and the partner's if a couple.
    adults_known = flag("head_activity_recorded") & (
        ~F.coalesce(is_couple, F.lit(True)) | flag("partner_activity_recorded"))
    caf = F.col("caf")
    categories = {
        "family_situation": F.when(is_couple.isNull(), F.lit(UNKNOWN)).otherwise(family),
        "sex": coded(F.col("head_sex"), pop.RULE_CATEGORIES["sex"]),
        "nationality": coded(F.col("head_nationality"), pop.RULE_CATEGORIES["nationality"]),
        "residence": coded(F.col("residence"), pop.RULE_CATEGORIES["residence"]),
        "territory": F.when(caf.isNull(), F.lit(UNKNOWN))
                      .when(caf.isin(*DROM_CAFS), F.lit(DROM)).otherwise(F.lit(METROPOLE)),
        "income_band": banded(F.col("resources_smic_ratio"), spec.attribute("income_band").categories),
        "minimum_income": F.when(flag("rsa_paid"), F.lit(RSA)).otherwise(F.lit(NO_RSA)),
        "age_band": banded(completed_age("head_birth_date", w.score_month), spec.attribute("age_band").categories),
        "disability": F.when(flag("disability_paid"), F.lit(AAH_OR_AEEH)).otherwise(F.lit(NO_DISABILITY_BENEFIT)),
        "student": yes_no(flag("adult_student"), adults_known),
        "self_employed": yes_no(flag("adult_self_employed"), adults_known),
    }
    attributes = joined.select(*KEY, "caf", *[categories[name].alias(name) for name in spec.attributes])
    return attributes.select(
        "score_month", "caf", "household_id", *spec.attributes,
        *[F.concat_ws(pop.INTERSECTION_SEPARATOR, first, second).alias(intersection_column(first, second))
          for first, second in intersections])
