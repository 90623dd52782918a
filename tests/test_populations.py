"""transforms.populations: one test per rule of MONITORING.md §1, each edge on both sides.

Every case is a household of one shared test population, declared next to the test that
checks it. The `attributes` fixture runs the scoring's own `compute_features` and then
`protected_attributes` once over the whole population; each test compares its households'
categories with chispa.

Score month M = 2026-01: snapshot M-1 = 2025-12, as-of date 2025-12-31,
W12 = 2025-01 … 2025-12, ages on 2026-01-01.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from domain.calendar import Calendar, add_months
from domain.populations import ATTRIBUTES, UNKNOWN
from jobs.lib.config import load_config
from transforms.features import compute_features
from transforms.populations import protected_attributes
from tests.sources import DECLARATIONS, EVENTS, HOUSEHOLDS, MEMBERS, PAYMENTS

M = date(2026, 1, 1)
CAL = Calendar(M)
CONFIG = load_config()
AS_OF = date(2025, 12, 31)
SMIC = 1000.0  # resources of 500.00 € give a ratio of exactly 0.5
ADULT_BORN = date(1980, 6, 15)
LONG_AGO = date(2000, 1, 1)

ROWS: dict[str, list] = {"households": [], "members": [], "payments": []}


def month(offset: int) -> date:
    return add_months(M, offset)


def spell(role: str, activity: str | None, *, valid_from=LONG_AGO, valid_to=None, born=ADULT_BORN) -> tuple:
    return role, activity, born, valid_from, valid_to


def household(household_id: str, *, couple=False, caf="75", resources="0.00", sex="F", nationality="FR",
              residence="URBAN", born=ADULT_BORN, spells=(spell("HEAD", "EMPLOYED"),), payments=(),
              snapshot=True) -> str:
    """Register a household with a snapshot of M-1 (unless `snapshot` is False); returns its id."""
    assert household_id not in {row[0] for row in ROWS["households"]}, household_id
    months = [-1] if snapshot else [-2]
    ROWS["households"] += [(household_id, month(o), caf, couple, False, Decimal(resources), sex, nationality,
                            born, residence) for o in months]
    ROWS["members"] += [(household_id, f"{household_id}/{i}", role, birth, activity, start, end)
                        for i, (role, activity, birth, start, end) in enumerate(spells)]
    ROWS["payments"] += [(household_id, month(o), benefit, Decimal(amount)) for benefit, o, amount in payments]
    return household_id


@pytest.fixture(scope="module")
def attributes(spark):
    households = spark.createDataFrame(ROWS["households"], HOUSEHOLDS)
    members = spark.createDataFrame(ROWS["members"], MEMBERS)
    payments = spark.createDataFrame(ROWS["payments"], PAYMENTS)
    features = compute_features(households, members, payments, spark.createDataFrame([], DECLARATIONS),
                                spark.createDataFrame([], EVENTS), cal=CAL, smic_eur=SMIC, rules=CONFIG.rules)
    frame = protected_attributes(features, households, members, payments, cal=CAL, spec=CONFIG.populations,
                                 intersections=CONFIG.monitoring.intersections).cache()
    yield frame
    frame.unpersist()


def assert_categories(spark, attributes, attribute: str, expected: dict[str, str]) -> None:
    actual = attributes.where(F.col("household_id").isin(*expected)).select("household_id", attribute)
    wanted = spark.createDataFrame(sorted(expected.items()), f"household_id string, {attribute} string")
    assert_df_equality(actual, wanted, ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------------------------------
# family_situation: couple of the M-1 snapshot -> COUPLE; else a CHILD covering the as-of date
# -> SINGLE_PARENT; else SINGLE

CHILD_BORN = date(2015, 3, 1)
FAMILY = {
    household("couple-with-children", couple=True, spells=(
        spell("HEAD", "EMPLOYED"), spell("PARTNER", "EMPLOYED"), spell("CHILD", "SCHOOL", born=CHILD_BORN))):
        "COUPLE",
    household("couple-without-children", couple=True, spells=(spell("HEAD", "EMPLOYED"), spell("PARTNER", "EMPLOYED"))):
        "COUPLE",
    household("single-parent", spells=(spell("HEAD", "EMPLOYED"), spell("CHILD", "SCHOOL", born=CHILD_BORN))):
        "SINGLE_PARENT",
    household("child-until-as-of", spells=(
        spell("HEAD", "EMPLOYED"), spell("CHILD", "SCHOOL", born=CHILD_BORN, valid_to=AS_OF))): "SINGLE_PARENT",
    household("child-left-before-as-of", spells=(
        spell("HEAD", "EMPLOYED"), spell("CHILD", "SCHOOL", born=CHILD_BORN, valid_to=date(2025, 12, 30)))): "SINGLE",
    household("child-from-m", spells=(
        spell("HEAD", "EMPLOYED"), spell("CHILD", "SCHOOL", born=CHILD_BORN, valid_from=M))): "SINGLE",
    household("single"): "SINGLE",
    household("couple-unknown", couple=None): UNKNOWN,
}


def test_family_situation(spark, attributes):
    assert_categories(spark, attributes, "family_situation", FAMILY)


# ---------------------------------------------------------------------------------------
# sex, nationality, residence: the snapshot's head_sex, head_nationality, residence

SNAPSHOT_CODES = {
    "sex": {household("sex-f", sex="F"): "F", household("sex-m", sex="M"): "M",
            household("sex-null", sex=None): UNKNOWN, household("sex-other-code", sex="X"): UNKNOWN},
    "nationality": {household("nat-fr", nationality="FR"): "FR", household("nat-eu", nationality="EU"): "EU",
                    household("nat-non-eu", nationality="NON_EU"): "NON_EU",
                    household("nat-null", nationality=None): UNKNOWN},
    "residence": {household("res-urban", residence="URBAN"): "URBAN",
                  household("res-periurban", residence="PERIURBAN"): "PERIURBAN",
                  household("res-rural", residence="RURAL"): "RURAL",
                  household("res-null", residence=None): UNKNOWN},
}


@pytest.mark.parametrize("attribute", SNAPSHOT_CODES)
def test_snapshot_codes(spark, attributes, attribute):
    assert_categories(spark, attributes, attribute, SNAPSHOT_CODES[attribute])


# ---------------------------------------------------------------------------------------
# territory: DROM iff caf in 971, 972, 973, 974, 976

TERRITORY = {household(f"caf-{caf}", caf=caf): territory for caf, territory in [
    ("971", "DROM"), ("972", "DROM"), ("973", "DROM"), ("974", "DROM"), ("976", "DROM"),
    ("75", "METROPOLE"), ("2A", "METROPOLE"), ("95", "METROPOLE")]}


def test_territory(spark, attributes):
    assert_categories(spark, attributes, "territory", TERRITORY)


# ---------------------------------------------------------------------------------------
# income_band: resources/SMIC of DMDE.md §3 (variable 10's ratio), lower-inclusive bands

INCOME = {household(f"income-{resources}", resources=resources): band for resources, band in [
    ("0.00", "0"), ("0.01", "<0.5"), ("499.99", "<0.5"), ("500.00", "0.5-1"), ("999.99", "0.5-1"),
    ("1000.00", "1-2"), ("1999.99", "1-2"), ("2000.00", ">=2"), ("9000.00", ">=2")]}


def test_income_band_from_the_resources_smic_ratio(spark, attributes):
    assert_categories(spark, attributes, "income_band", INCOME)


# ---------------------------------------------------------------------------------------
# minimum_income: some RSA payment > 0 with benefit month in W12

RSA = {
    household("rsa-m1", payments=[("RSA", -1, "500.00")]): "RSA",
    household("rsa-m12", payments=[("RSA", -12, "500.00")]): "RSA",
    household("rsa-m13", payments=[("RSA", -13, "500.00")]): "NO_RSA",
    household("rsa-in-m", payments=[("RSA", 0, "500.00")]): "NO_RSA",
    household("rsa-zero", payments=[("RSA", -3, "0.00")]): "NO_RSA",
    household("rsa-cents", payments=[("RSA", -3, "0.01")]): "RSA",
    household("no-rsa-but-pa", payments=[("PA", -3, "150.00")]): "NO_RSA",
}


def test_minimum_income(spark, attributes):
    assert_categories(spark, attributes, "minimum_income", RSA)


# ---------------------------------------------------------------------------------------
# age_band: the head's completed age on the first day of M

AGE = {household(f"born-{born}", born=born): band for born, band in [
    (date(2001, 1, 2), "<25"), (date(2001, 1, 1), "25-34"),           # 25th birthday on 1 January
    (date(1991, 1, 2), "25-34"), (date(1991, 1, 1), "35-44"),
    (date(1981, 1, 1), "45-54"), (date(1971, 1, 1), "55-64"),
    (date(1961, 1, 2), "55-64"), (date(1961, 1, 1), ">=65"),           # 65th birthday on 1 January
    (date(2008, 2, 29), "<25"), (None, UNKNOWN)]}


def test_age_band_on_the_first_day_of_m(spark, attributes):
    assert_categories(spark, attributes, "age_band", AGE)


# ---------------------------------------------------------------------------------------
# disability: some AAH or AEEH payment > 0 in W12

DISABILITY = {
    household("aah-m12", payments=[("AAH", -12, "1016.05")]): "AAH_OR_AEEH",
    household("aah-m13", payments=[("AAH", -13, "1016.05")]): "NONE",
    household("aeeh-m1", payments=[("AEEH", -1, "151.80")]): "AAH_OR_AEEH",
    household("aeeh-in-m", payments=[("AEEH", 0, "151.80")]): "NONE",
    household("no-disability-benefit", payments=[("AF", -2, "151.05")]): "NONE",
}


def test_disability(spark, attributes):
    assert_categories(spark, attributes, "disability", DISABILITY)


# ---------------------------------------------------------------------------------------
# student / self_employed: HEAD or PARTNER activity on the as-of date; UNKNOWN when the
# head's activity (or a couple's partner's) is not recorded on that date

def adult_cases(activity: str, prefix: str) -> dict[str, str]:
    return {
        household(f"{prefix}-head", spells=(spell("HEAD", activity),)): "YES",
        household(f"{prefix}-partner", couple=True, spells=(spell("HEAD", "EMPLOYED"), spell("PARTNER", activity))):
            "YES",
        household(f"{prefix}-until-as-of", spells=(spell("HEAD", activity, valid_to=AS_OF),
                                                   spell("HEAD", "UNEMPLOYED", valid_from=M))): "YES",
        household(f"{prefix}-ended-before-as-of", spells=(
            spell("HEAD", activity, valid_to=date(2025, 12, 30)), spell("HEAD", "UNEMPLOYED", valid_from=AS_OF))): "NO",
        household(f"{prefix}-from-m", spells=(
            spell("HEAD", "UNEMPLOYED", valid_to=AS_OF), spell("HEAD", activity, valid_from=M))): "NO",
        household(f"{prefix}-child-only", spells=(
            spell("HEAD", "RETIRED"), spell("CHILD", activity, born=date(2005, 1, 1)))): "NO",
        household(f"{prefix}-head-unknown", spells=(spell("HEAD", "UNKNOWN"),)): UNKNOWN,
        household(f"{prefix}-head-null", spells=(spell("HEAD", None),)): UNKNOWN,
        household(f"{prefix}-no-spell", spells=()): UNKNOWN,
        household(f"{prefix}-partner-missing", couple=True, spells=(spell("HEAD", "EMPLOYED"),)): UNKNOWN,
        household(f"{prefix}-partner-missing-head-yes", couple=True, spells=(spell("HEAD", activity),)): "YES",
    }


ADULT_ACTIVITY = {"student": adult_cases("STUDENT", "student"),
                  "self_employed": adult_cases("SELF_EMPLOYED", "self-employed")}


@pytest.mark.parametrize("attribute", ADULT_ACTIVITY)
def test_adult_activity(spark, attributes, attribute):
    assert_categories(spark, attributes, attribute, ADULT_ACTIVITY[attribute])


# ---------------------------------------------------------------------------------------
# The frame: every scored household once, no other; intersections from the configuration

NOT_SCORED = household("no-snapshot-of-m1", snapshot=False)


def test_one_row_per_scored_household_and_nothing_else(attributes):
    ids = [row.household_id for row in attributes.select("household_id").collect()]
    scored = {row[0] for row in ROWS["households"] if row[1] == month(-1)}
    assert sorted(ids) == sorted(scored) and NOT_SCORED not in ids
    assert attributes.columns == ["score_month", "caf", "household_id", *ATTRIBUTES,
                                  "family_situation_x_sex", "nationality_x_sex"]


def test_no_category_is_null_and_every_one_is_in_the_configuration(attributes):
    spec = CONFIG.populations
    for name in ATTRIBUTES:
        found = {row[0] for row in attributes.select(name).distinct().collect()}
        assert found <= set(spec.codes(name)), name


def test_intersections_cross_the_two_categories(spark, attributes):
    expected = {"single-parent": "SINGLE_PARENT×F", "couple-unknown": "UNKNOWN×F", "sex-m": "SINGLE×M"}
    assert_categories(spark, attributes, "family_situation_x_sex", expected)
    assert CONFIG.populations.category_label("family_situation×sex", "SINGLE_PARENT×F") == \
        "Famille monoparentale × Femme"
