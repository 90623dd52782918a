"""transforms.features: one test per rule of DMDE.md §2–§3 ("Exact definitions"), each
edge on both sides.

Every case is a household of one shared test population, declared next to the test that
checks it: `household(...)` registers its source rows and returns its id. The `features`
fixture runs `compute_features` (and `with_modalities`, for the band edges) once over the
whole population, so that the suite costs one Spark job rather than one per case.

Score month M = 2026-01: snapshot M-1 = 2025-12, as-of date 2025-12-31,
W12 = 2025-01 … 2025-12, W24 = 2024-01 … 2025-12, ages on 2026-01-01.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest
from chispa import assert_approx_column_equality, assert_df_equality
from pyspark.sql import functions as F

from jobs.lib.config import load_config
from domain.calendar import add_months
from domain.calendar import Calendar
from transforms.features import (
    compute_features,
    declaration_features,
    event_features,
    member_features,
    payment_features,
    resources_features,
)
from transforms.model import with_modalities
from tests.sources import DECLARATIONS, EVENTS, HOUSEHOLDS, MEMBERS, PAYMENTS

M = date(2026, 1, 1)
CAL = Calendar(M)
RULES = load_config().rules
AS_OF = date(2025, 12, 31)
DAY = timedelta(days=1)
W12_FIRST_DAY, M13_LAST_DAY = date(2025, 1, 1), date(2024, 12, 31)
W24_FIRST_DAY, M25_LAST_DAY = date(2024, 1, 1), date(2023, 12, 31)
SMIC = 1000.0  # a round SMIC, so that resources of 400.00 € give a ratio of exactly 0.4
LONG_AGO = date(2000, 1, 1)
ADULT_BORN = date(1980, 6, 15)
CHILD_17_BORN = date(2008, 6, 1)



def month(offset: int) -> date:
    """M + offset months: month(-12) is M-12."""
    return add_months(M, offset)


# ---------------------------------------------------------------------------------------
# The shared test population


class Snapshot(NamedTuple):
    offset: int
    couple: bool = False
    guardianship: bool = False
    resources: str = "0.00"
    caf: str = "75"


class Spell(NamedTuple):
    role: str
    activity: str | None
    born: date = ADULT_BORN
    valid_from: date = LONG_AGO
    valid_to: date | None = None
    member: str | None = None  # spells of the same member share it


def head(activity, **kw) -> Spell:
    return Spell("HEAD", activity, **kw)


def partner(activity, **kw) -> Spell:
    return Spell("PARTNER", activity, **kw)


def child(activity, born=CHILD_17_BORN, **kw) -> Spell:
    return Spell("CHILD", activity, born, **kw)


def pay(benefit: str, offset: int, amount: str) -> tuple:
    return offset, benefit, amount


def dtr(quarter_start: date, *, declared="1000.00", prefilled=None, alimony=False,
        self_employment="0.00", corrected=False, verified=False) -> tuple:
    return (quarter_start, Decimal(declared), None if prefilled is None else Decimal(prefilled),
            alimony, Decimal(self_employment), corrected, verified)


def correction(quarter_start: date, gap: str, *, verified=False, corrected=True) -> tuple:
    """A DTR whose declared resources are `gap` € below the pre-filled 2 000.00 €."""
    return dtr(quarter_start, declared=str(Decimal("2000.00") - Decimal(gap)), prefilled="2000.00",
               corrected=corrected, verified=verified)


@dataclass
class Population:
    households: list = field(default_factory=list)
    members: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    declarations: list = field(default_factory=list)
    events: list = field(default_factory=list)
    scored: list = field(default_factory=list)  # ids with a snapshot of M-1

    def frames(self, spark):
        return (spark.createDataFrame(self.households, HOUSEHOLDS),
                spark.createDataFrame(self.members, MEMBERS),
                spark.createDataFrame(self.payments, PAYMENTS),
                spark.createDataFrame(self.declarations, DECLARATIONS),
                spark.createDataFrame(self.events, EVENTS))


POPULATION = Population()


def household(household_id: str, *, couple=False, guardianship=False, resources="0.00",
              months=(-1,), snapshots=(), members=(), payments=(), declarations=(),
              events=()) -> str:
    """Register a household: one snapshot per offset of `months` (with the given couple,
    guardianship and resources) plus explicit `snapshots`; returns its id."""
    p = POPULATION
    assert household_id not in {row[0] for row in p.households}, f"duplicate id {household_id}"
    snapshots = [Snapshot(o, couple, guardianship, resources) for o in months] + list(snapshots)
    for s in snapshots:
        p.households.append((household_id, month(s.offset), s.caf, s.couple, s.guardianship,
                             Decimal(s.resources), None, None, None, None))
    if any(s.offset == -1 for s in snapshots):
        p.scored.append(household_id)
    for i, s in enumerate(members):
        p.members.append((household_id, f"{household_id}/{s.member or i}", s.role, s.born, s.activity,
                          s.valid_from, s.valid_to))
    p.payments += [(household_id, month(o), b, Decimal(a)) for o, b, a in payments]
    p.declarations += [(household_id, *d) for d in declarations]
    p.events += [(household_id, day, code) for code, day in events]
    return household_id


@pytest.fixture(scope="module")
def spec():
    return load_config().model


@pytest.fixture(scope="module")
def feature_frame(spark, spec):
    """compute_features + with_modalities over the whole test population, computed once."""
    features = compute_features(*POPULATION.frames(spark), cal=CAL, smic_eur=SMIC, rules=RULES)
    frame = with_modalities(features, spec).cache()
    yield frame
    frame.unpersist()


@pytest.fixture(scope="module")
def feature_rows(feature_frame):
    return feature_frame.collect()


@pytest.fixture(scope="module")
def features(feature_rows):
    return {row.household_id: row for row in feature_rows}


# ---------------------------------------------------------------------------------------
# §2 Calendar


@pytest.mark.parametrize("score_month, snapshot, as_of, w12_start, w24_start", [
    (date(2026, 1, 1), date(2025, 12, 1), date(2025, 12, 31), date(2025, 1, 1), date(2024, 1, 1)),
    (date(2024, 3, 1), date(2024, 2, 1), date(2024, 2, 29), date(2023, 3, 1), date(2022, 3, 1)),
    (date(2027, 3, 1), date(2027, 2, 1), date(2027, 2, 28), date(2026, 3, 1), date(2025, 3, 1)),
])
def test_calendar(score_month, snapshot, as_of, w12_start, w24_start):
    cal = Calendar(score_month)
    assert (cal.snapshot_month, cal.as_of, cal.w12_start, cal.w24_start) == (
        snapshot, as_of, w12_start, w24_start)


@pytest.mark.parametrize("household_id, mean_af", [
    pytest.param(household("w12-m1", payments=[pay("AF", -1, "120.00")]), "10.0000", id="M-1 in"),
    pytest.param(household("w12-m12", payments=[pay("AF", -12, "120.00")]), "10.0000", id="M-12 in"),
    pytest.param(household("w12-m13", payments=[pay("AF", -13, "120.00")]), "0.0000", id="M-13 out"),
    pytest.param(household("w12-m", payments=[pay("AF", 0, "120.00")]), "0.0000", id="M never"),
])
def test_w12_is_m12_to_m1(features, household_id, mean_af):
    assert features[household_id].mean_af_eur == Decimal(mean_af)


@pytest.mark.parametrize("household_id, mean_rsa, rsa_months, rsa_changes", [
    pytest.param(household("w24-m1", payments=[pay("RSA", -1, "500.00")]), "41.6667", 1, 1, id="M-1 in"),
    pytest.param(household("w24-m12", payments=[pay("RSA", -12, "500.00")]), "41.6667", 1, 2, id="M-12 in"),
    # out of the W12 means, but in W24 for the RSA changes
    pytest.param(household("w24-m13", payments=[pay("RSA", -13, "500.00")]), "0.0000", 1, 2, id="M-13"),
    pytest.param(household("w24-m24", payments=[pay("RSA", -24, "500.00")]), "0.0000", 1, 1, id="M-24 in"),
    pytest.param(household("w24-m25", payments=[pay("RSA", -25, "500.00")]), "0.0000", 0, 0, id="M-25 out"),
    pytest.param(household("w24-m", payments=[pay("RSA", 0, "500.00")]), "0.0000", 0, 0, id="M never"),
])
def test_w24_is_m24_to_m1(features, household_id, mean_rsa, rsa_months, rsa_changes):
    row = features[household_id]
    assert (row.mean_rsa_eur, row.n_rsa_months_w24, row.n_rsa_changes) == (
        Decimal(mean_rsa), rsa_months, rsa_changes)


# ---------------------------------------------------------------------------------------
# Benefit means


@pytest.mark.parametrize("household_id, mean_af", [
    pytest.param(household("mean-3-months", payments=[pay("AF", o, "100.00") for o in (-1, -5, -9)]),
                 "25.0000", id="3 months of 12"),
    pytest.param(household("mean-12-months", payments=[pay("AF", o, "100.00") for o in range(-12, 0)]),
                 "100.0000", id="every month"),
    pytest.param(household("mean-cents", payments=[pay("AF", -3, "0.05")]), "0.0042", id="5 cents / 12"),
])
def test_benefit_mean_is_w12_sum_over_12(features, household_id, mean_af):
    assert features[household_id].mean_af_eur == Decimal(mean_af)


EVERY_BENEFIT = household("total-every-code", payments=[
    pay(code, -2, amount) for code, amount in [
        ("AF", "100.00"), ("CF", "200.00"), ("PA", "50.00"), ("RSA", "300.00"), ("AL", "120.00"),
        ("AAH", "10.00"), ("AEEH", "1.00"), ("ASF", "2.00"), ("PAJE", "3.00"), ("CMG", "4.00"),
        ("OTHER", "5.00")]])


def test_total_benefits_sum_every_benefit_code(features):
    row = features[EVERY_BENEFIT]
    assert (row.mean_total_benefits_eur, row.mean_af_eur, row.mean_cf_eur, row.mean_pa_eur,
            row.mean_rsa_eur) == tuple(map(Decimal, ("66.2500", "8.3333", "16.6667", "4.1667", "25.0000")))


NO_PAYMENT = household("no-payment")


def test_no_payment_means_zero(features):
    row = features[NO_PAYMENT]
    assert [row[c] for c in ("mean_total_benefits_eur", "mean_af_eur", "mean_cf_eur", "mean_pa_eur",
                             "mean_rsa_eur")] == [Decimal(0)] * 5
    assert (row.mean_af, row.mean_cf, row.mean_pa, row.mean_rsa, row.mean_total_benefits) == (
        "zero", "zero", "zero", "zero", "lt_200")


BENEFIT_EDGES = [
    # benefit, monthly mean, variable, modality: paid as 12 × the mean in one month of W12
    ("AF", "0.01", "mean_af", "lt_155"), ("AF", "154.99", "mean_af", "lt_155"),
    ("AF", "155.00", "mean_af", "155_335"), ("AF", "334.99", "mean_af", "155_335"),
    ("AF", "335.00", "mean_af", "335_525"), ("AF", "524.99", "mean_af", "335_525"),
    ("AF", "525.00", "mean_af", "ge_525"),
    ("OTHER", "199.99", "mean_total_benefits", "lt_200"), ("OTHER", "200.00", "mean_total_benefits", "200_1400"),
    ("OTHER", "1399.99", "mean_total_benefits", "200_1400"), ("OTHER", "1400.00", "mean_total_benefits", "ge_1400"),
    ("RSA", "0.01", "mean_rsa", "lt_545"), ("RSA", "544.99", "mean_rsa", "lt_545"),
    ("RSA", "545.00", "mean_rsa", "545_560"), ("RSA", "559.99", "mean_rsa", "545_560"),
    ("RSA", "560.00", "mean_rsa", "ge_560"),
    ("CF", "0.01", "mean_cf", "lt_191"), ("CF", "190.99", "mean_cf", "lt_191"),
    ("CF", "191.00", "mean_cf", "191_195"), ("CF", "194.99", "mean_cf", "191_195"),
    ("CF", "195.00", "mean_cf", "ge_195"),
    ("PA", "0.01", "mean_pa", "lt_150"), ("PA", "149.99", "mean_pa", "lt_150"),
    ("PA", "150.00", "mean_pa", "150_250"), ("PA", "249.99", "mean_pa", "150_250"),
    ("PA", "250.00", "mean_pa", "ge_250"),
]


@pytest.mark.parametrize("household_id, variable, mean, modality", [
    pytest.param(household(f"band-{benefit}-{mean}",
                           payments=[pay(benefit, -4, str(Decimal(mean) * 12))]),
                 variable, mean, modality, id=f"{benefit} {mean}")
    for benefit, mean, variable, modality in BENEFIT_EDGES
])
def test_benefit_mean_band_edges(features, spec, household_id, variable, mean, modality):
    row = features[household_id]
    assert row[spec.variable(variable).input] == Decimal(mean)
    assert row[variable] == modality


# ---------------------------------------------------------------------------------------
# Resources / SMIC


@pytest.mark.parametrize("household_id, mean_resources, ratio", [
    pytest.param(household("res-6-of-12", resources="600.00", months=range(-6, 0)), "600.00", 0.6,
                 id="6 months of 12 with a snapshot"),
    pytest.param(household("res-m12", months=(), snapshots=[Snapshot(-12, resources="500.00"),
                                                             Snapshot(-1, resources="100.00")]),
                 "300.00", 0.3, id="M-12 in"),
    pytest.param(household("res-m13", months=(), snapshots=[Snapshot(-13, resources="5000.00"),
                                                             Snapshot(-1, resources="100.00")]),
                 "100.00", 0.1, id="M-13 out"),
    pytest.param(household("res-m", months=(), snapshots=[Snapshot(0, resources="5000.00"),
                                                           Snapshot(-1, resources="100.00")]),
                 "100.00", 0.1, id="M never"),
])
def test_resources_mean_over_w12_months_with_a_snapshot(features, household_id, mean_resources, ratio):
    row = features[household_id]
    assert row.mean_resources_eur == Decimal(mean_resources)
    assert row.resources_smic_ratio == pytest.approx(ratio, abs=1e-12)


NO_RESOURCES = household("res-none", resources="0.00")


def test_resources_zero_when_none(features):
    row = features[NO_RESOURCES]
    assert (row.mean_resources_eur, row.resources_smic_ratio, row.resources_smic) == (Decimal(0), 0.0, "zero")


RESOURCE_EDGES = [("0.01", "lt_0_4"), ("399.99", "lt_0_4"), ("400.00", "0_4_0_6"), ("599.99", "0_4_0_6"),
                  ("600.00", "0_6_1"), ("999.99", "0_6_1"), ("1000.00", "1_1_5"), ("1499.99", "1_1_5"),
                  ("1500.00", "1_5_2"), ("1999.99", "1_5_2"), ("2000.00", "ge_2")]


@pytest.mark.parametrize("household_id, modality", [
    pytest.param(household(f"res-band-{resources}", resources=resources), modality,
                 id=f"{resources} / {SMIC:.0f}") for resources, modality in RESOURCE_EDGES
])
def test_resources_smic_band_edges(features, household_id, modality):
    assert features[household_id].resources_smic == modality


def test_resources_divided_by_the_smic_of_m1(spark):
    smic = load_config().smic_for(CAL.snapshot_month)
    assert smic == 1426.30  # in force from 2024-11 (conf/smic.csv)
    households = spark.createDataFrame([
        ("smic-1", month(-1), "75", False, False, Decimal("1426.30"), None, None, None, None),
        ("smic-half", month(-1), "75", False, False, Decimal("713.15"), None, None, None, None),
    ], HOUSEHOLDS)
    expected = F.when(F.col("household_id") == "smic-1", 1.0).otherwise(0.5)
    result = resources_features(households, CAL, smic).select("resources_smic_ratio", expected.alias("expected"))
    assert_approx_column_equality(result, "resources_smic_ratio", "expected", 1e-12)


# ---------------------------------------------------------------------------------------
# Head & partner activity


@pytest.mark.parametrize("household_id, activity", [
    pytest.param(household("act-retired-vs-inactive", couple=True,
                           members=[head("RETIRED"), partner("INACTIVE")]),
                 "retired", id="retired beats partner inactive"),
    pytest.param(household("act-partner-retired", couple=True, members=[head("EMPLOYED"), partner("RETIRED")]),
                 "retired", id="partner retired"),
    pytest.param(household("act-single-retired", members=[head("RETIRED")]), "retired", id="single retired"),
    pytest.param(household("act-partner-inactive", couple=True,
                           members=[head("EMPLOYED"), partner("INACTIVE")]),
                 "partner_inactive", id="couple, partner inactive"),
    pytest.param(household("act-head-inactive", couple=True, members=[head("INACTIVE"), partner("EMPLOYED")]),
                 "other", id="couple, head inactive, partner works"),
    pytest.param(household("act-dual-mixed", couple=True, members=[head("EMPLOYED"), partner("SELF_EMPLOYED")]),
                 "dual_earner", id="EMPLOYED + SELF_EMPLOYED"),
    pytest.param(household("act-dual-self", couple=True,
                           members=[head("SELF_EMPLOYED"), partner("SELF_EMPLOYED")]),
                 "dual_earner", id="SELF_EMPLOYED + SELF_EMPLOYED"),
    pytest.param(household("act-partner-unemployed", couple=True,
                           members=[head("EMPLOYED"), partner("UNEMPLOYED")]),
                 "other", id="couple, partner unemployed"),
    pytest.param(household("act-single-employed", members=[head("EMPLOYED")]), "other", id="single employed"),
    pytest.param(household("act-not-couple", couple=False, members=[head("EMPLOYED"), partner("INACTIVE")]),
                 "other", id="partner inactive, not a couple in the snapshot"),
    pytest.param(household("act-couple-no-partner", couple=True, members=[head("EMPLOYED")]),
                 "other", id="couple without a partner spell"),
    pytest.param(household("act-head-unknown", couple=True, members=[head(None), partner("EMPLOYED")]),
                 "other", id="head activity not filled in"),
])
def test_head_and_partner_activity_first_match(features, household_id, activity):
    assert features[household_id].activity_code == activity


@pytest.mark.parametrize("household_id, activity", [
    pytest.param(household("couple-m1", months=(), members=[head("EMPLOYED"), partner("INACTIVE")],
                           snapshots=[Snapshot(-2, couple=False), Snapshot(-1, couple=True)]),
                 "partner_inactive", id="couple at M-1"),
    pytest.param(household("couple-m2", months=(), members=[head("EMPLOYED"), partner("INACTIVE")],
                           snapshots=[Snapshot(-2, couple=True), Snapshot(-1, couple=False)]),
                 "other", id="couple at M-2 only"),
])
def test_couple_flag_from_the_snapshot_of_m1(features, household_id, activity):
    assert features[household_id].activity_code == activity


def working_partner(valid_from, valid_to, *, before=None) -> list[Spell]:
    spells = [head("EMPLOYED"), partner("EMPLOYED", valid_from=valid_from, valid_to=valid_to, member="p")]
    if before:  # the partner's earlier spell, up to the day before
        spells.append(partner(before, valid_to=valid_from - DAY, member="p"))
    return spells


@pytest.mark.parametrize("household_id, activity", [
    pytest.param(household("asof-to-asof", couple=True, members=working_partner(LONG_AGO, AS_OF)),
                 "dual_earner", id="valid_to = as-of covers"),
    pytest.param(household("asof-to-before", couple=True, members=working_partner(LONG_AGO, AS_OF - DAY)),
                 "other", id="valid_to = as-of - 1 day does not"),
    pytest.param(household("asof-from-asof", couple=True, members=working_partner(AS_OF, None)),
                 "dual_earner", id="valid_from = as-of covers"),
    pytest.param(household("asof-from-after", couple=True, members=working_partner(AS_OF + DAY, None)),
                 "other", id="valid_from = as-of + 1 day does not"),
    pytest.param(household("asof-open", couple=True, members=working_partner(LONG_AGO, None)),
                 "dual_earner", id="valid_to null is open"),
    pytest.param(household("asof-switch", couple=True, members=working_partner(AS_OF, None, before="INACTIVE")),
                 "dual_earner", id="inactive until the day before, employed from the as-of date"),
    pytest.param(household("asof-switch-late", couple=True,
                           members=working_partner(AS_OF + DAY, None, before="INACTIVE")),
                 "partner_inactive", id="inactive on the as-of date, employed from M"),
])
def test_activity_on_the_as_of_date(features, household_id, activity):
    assert features[household_id].activity_code == activity


# ---------------------------------------------------------------------------------------
# Children


@pytest.mark.parametrize("household_id, n_16, n_19, children_activity", [
    pytest.param(household("age-16-on-m", members=[head("EMPLOYED"), child("STUDENT", date(2010, 1, 1))]),
                 1, 0, "student", id="16 on the first day of M"),
    pytest.param(household("age-16-after-m", members=[head("EMPLOYED"), child("STUDENT", date(2010, 1, 2))]),
                 0, 0, "none_working_age", id="16 the day after"),
    pytest.param(household("age-19-on-m", members=[head("EMPLOYED"), child("STUDENT", date(2007, 1, 1))]),
                 1, 1, "student", id="19 on the first day of M"),
    pytest.param(household("age-19-after-m", members=[head("EMPLOYED"), child("STUDENT", date(2007, 1, 2))]),
                 1, 0, "student", id="19 the day after"),
    pytest.param(household("age-left", members=[head("EMPLOYED"),
                                                child("STUDENT", date(2000, 1, 1), valid_to=AS_OF - DAY)]),
                 0, 0, "none_working_age", id="a child who left before the as-of date"),
    pytest.param(household("age-head-only", members=[head("INACTIVE")]),
                 0, 0, "none_working_age", id="an adult HEAD is not a child"),
])
def test_children_ages_on_the_first_day_of_m(features, household_id, n_16, n_19, children_activity):
    row = features[household_id]
    assert (row.n_children_16_plus, row.n_children_19_plus, row.children_activity_code) == (
        n_16, n_19, children_activity)
    assert row.child_19_plus == ("yes" if n_19 else "no")


OTHER_CHILD_ACTIVITIES = ["APPRENTICE", "TRAINEE", "UNEMPLOYED", "SCHOOL", "SELF_EMPLOYED", "UNKNOWN", None]


@pytest.mark.parametrize("household_id, children_activity", [
    pytest.param(household("kids-inactive", members=[child("EMPLOYED"), child("STUDENT"), child("INACTIVE")]),
                 "inactive", id="inactive first"),
    pytest.param(household("kids-student", members=[child("EMPLOYED"), child("APPRENTICE"), child("STUDENT")]),
                 "student", id="student before other"),
    *[pytest.param(household(f"kids-other-{activity}", members=[child("EMPLOYED"), child(activity)]),
                   "other", id=f"{activity} before employed") for activity in OTHER_CHILD_ACTIVITIES],
    pytest.param(household("kids-employed", members=[child("EMPLOYED")]), "employed", id="employed last"),
    pytest.param(household("kids-young-inactive", members=[child("EMPLOYED"), child("INACTIVE", date(2012, 5, 1))]),
                 "employed", id="a child under 16 does not count"),
    pytest.param(household("kids-none-16", members=[head("EMPLOYED"), child("INACTIVE", date(2015, 5, 1))]),
                 "none_working_age", id="no child aged 16+"),
])
def test_children_activity_first_match(features, household_id, children_activity):
    assert features[household_id].children_activity_code == children_activity


NO_MEMBERS = household("no-members", couple=True)


def test_household_without_members(features):
    row = features[NO_MEMBERS]
    assert (row.activity_code, row.children_activity_code, row.n_children_16_plus, row.n_children_19_plus,
            row.n_self_employment_changes, row.n_self_employment_practice) == (
        "other", "none_working_age", 0, 0, 0, 0)


# ---------------------------------------------------------------------------------------
# Guardianship


@pytest.mark.parametrize("household_id, code", [
    pytest.param(household("tutelle-yes", guardianship=True), "yes", id="yes at M-1"),
    pytest.param(household("tutelle-no"), "no", id="no at M-1"),
    pytest.param(household("tutelle-ended", months=(), snapshots=[Snapshot(-2, guardianship=True),
                                                                  Snapshot(-1, guardianship=False)]),
                 "no", id="yes at M-2 only"),
    pytest.param(household("tutelle-started", months=(), snapshots=[Snapshot(-2, guardianship=False),
                                                                    Snapshot(-1, guardianship=True)]),
                 "yes", id="yes from M-1"),
])
def test_guardianship_from_the_snapshot_of_m1(features, household_id, code):
    assert features[household_id].guardianship_code == code


# ---------------------------------------------------------------------------------------
# Allowance / neutralisation


@pytest.mark.parametrize("household_id, code, n_w12, n_w24", [
    pytest.param(household("allow-w12-first", events=[("ABATTEMENT", W12_FIRST_DAY)]), "w12", 1, 1,
                 id="first day of W12"),
    pytest.param(household("allow-m13-last", events=[("ABATTEMENT", M13_LAST_DAY)]), "w24_only", 0, 1,
                 id="last day of M-13"),
    pytest.param(household("allow-as-of", events=[("NEUTRALISATION", AS_OF)]), "w12", 1, 1, id="as-of date"),
    pytest.param(household("allow-in-m", events=[("NEUTRALISATION", M)]), "none", 0, 0, id="first day of M"),
    pytest.param(household("allow-w24-first", events=[("NEUTRALISATION", W24_FIRST_DAY)]), "w24_only", 0, 1,
                 id="first day of W24"),
    pytest.param(household("allow-m25-last", events=[("ABATTEMENT", M25_LAST_DAY)]), "none", 0, 0,
                 id="last day of M-25"),
    pytest.param(household("allow-both", events=[("ABATTEMENT", date(2024, 6, 1)),
                                                 ("NEUTRALISATION", date(2025, 6, 1))]),
                 "w12", 1, 2, id="W12 wins"),
    pytest.param(household("allow-other-codes", events=[("PROACC", date(2025, 6, 1)), ("VOLSOC", date(2025, 6, 1)),
                                                        ("RSA_REVISION", date(2025, 6, 1))]),
                 "none", 0, 0, id="other codes ignored"),
])
def test_allowance_or_neutralisation(features, household_id, code, n_w12, n_w24):
    row = features[household_id]
    assert (row.allowance_code, row.n_allowance_w12, row.n_allowance_w24) == (code, n_w12, n_w24)


# ---------------------------------------------------------------------------------------
# Alimony


@pytest.mark.parametrize("household_id, code, n_dtr", [
    pytest.param(household("alim-no-dtr"), "not_concerned", 0, id="no DTR"),
    pytest.param(household("alim-yes", declarations=[dtr(date(2025, 4, 1), alimony=True)]), "yes", 1, id="yes"),
    pytest.param(household("alim-no", declarations=[dtr(date(2025, 4, 1)), dtr(date(2025, 7, 1))]), "no", 2,
                 id="DTRs without alimony"),
    pytest.param(household("alim-one-of-two", declarations=[dtr(date(2024, 4, 1), alimony=True),
                                                            dtr(date(2025, 7, 1))]), "yes", 2, id="one of two"),
    pytest.param(household("alim-w24-first", declarations=[dtr(W24_FIRST_DAY, alimony=True)]), "yes", 1,
                 id="quarter starting on the first day of W24"),
    pytest.param(household("alim-before-w24", declarations=[dtr(date(2023, 10, 1), alimony=True)]),
                 "not_concerned", 0, id="quarter starting before W24"),
    pytest.param(household("alim-last-quarter", declarations=[dtr(date(2025, 10, 1), alimony=True)]), "yes", 1,
                 id="last quarter of W24"),
    pytest.param(household("alim-quarter-of-m", declarations=[dtr(M, alimony=True)]), "not_concerned", 0,
                 id="quarter starting in M"),
    pytest.param(household("alim-old-alimony", declarations=[dtr(date(2023, 10, 1), alimony=True),
                                                             dtr(date(2025, 10, 1))]),
                 "no", 1, id="alimony before W24 ignored"),
])
def test_alimony_in_dtrs_of_w24(features, household_id, code, n_dtr):
    row = features[household_id]
    assert (row.alimony_code, row.n_dtr_w24) == (code, n_dtr)


# ---------------------------------------------------------------------------------------
# Self-employment


def self_employed(role="HEAD", **kw) -> list[Spell]:
    return [Spell(role, "SELF_EMPLOYED", born=CHILD_17_BORN if role == "CHILD" else ADULT_BORN, **kw)]


@pytest.mark.parametrize("household_id, n_changes", [
    pytest.param(household("sec-from-w24-first", members=self_employed(valid_from=W24_FIRST_DAY)), 1,
                 id="starts on the first day of W24"),
    pytest.param(household("sec-from-before", members=self_employed(valid_from=M25_LAST_DAY)), 0,
                 id="starts the day before W24"),
    pytest.param(household("sec-from-as-of", members=self_employed(valid_from=AS_OF)), 1,
                 id="starts on the last day of W24"),
    pytest.param(household("sec-from-m", members=self_employed(valid_from=M)), 0, id="starts in M"),
    pytest.param(household("sec-to-w24-first", members=self_employed(valid_to=W24_FIRST_DAY)), 1,
                 id="ends on the first day of W24"),
    pytest.param(household("sec-to-before", members=self_employed(valid_to=M25_LAST_DAY)), 0,
                 id="ends the day before W24"),
    pytest.param(household("sec-to-as-of", members=self_employed(valid_to=AS_OF)), 1,
                 id="ends on the last day of W24"),
    pytest.param(household("sec-to-m", members=self_employed(valid_to=M)), 0, id="ends in M"),
    pytest.param(household("sec-partner", members=self_employed("PARTNER", valid_from=date(2025, 6, 1))), 1,
                 id="partner"),
    pytest.param(household("sec-child", members=self_employed("CHILD", valid_from=date(2025, 6, 1))), 0,
                 id="a child's does not count"),
    pytest.param(household("sec-employed", members=[head("EMPLOYED", valid_from=date(2025, 6, 1))]), 0,
                 id="an EMPLOYED spell does not count"),
])
def test_self_employment_change_in_w24(features, household_id, n_changes):
    row = features[household_id]
    assert row.n_self_employment_changes == n_changes
    assert row.self_employment_change == ("yes" if n_changes else "no")


@pytest.mark.parametrize("household_id, practice", [
    pytest.param(household("sep-open", members=self_employed()), "yes", id="open spell"),
    pytest.param(household("sep-to-before", members=self_employed(valid_to=M25_LAST_DAY)), "no",
                 id="ended the day before W24"),
    pytest.param(household("sep-to-w24-first", members=self_employed(valid_to=W24_FIRST_DAY)), "yes",
                 id="ended on the first day of W24"),
    pytest.param(household("sep-from-as-of", members=self_employed(valid_from=AS_OF)), "yes",
                 id="started on the last day of W24"),
    pytest.param(household("sep-from-m", members=self_employed(valid_from=M)), "no", id="started in M"),
    pytest.param(household("sep-partner", members=self_employed("PARTNER")), "yes", id="partner"),
    pytest.param(household("sep-child", members=self_employed("CHILD")), "no", id="a child's does not count"),
    pytest.param(household("sep-dtr-cent", declarations=[dtr(date(2025, 4, 1), self_employment="0.01")]), "yes",
                 id="DTR with 0.01 € of self-employment income"),
    pytest.param(household("sep-dtr-zero", declarations=[dtr(date(2025, 4, 1), self_employment="0.00")]), "no",
                 id="DTR without self-employment income"),
    pytest.param(household("sep-dtr-w24-first", declarations=[dtr(W24_FIRST_DAY, self_employment="500.00")]),
                 "yes", id="DTR of the first quarter of W24"),
    pytest.param(household("sep-dtr-before", declarations=[dtr(date(2023, 10, 1), self_employment="500.00")]),
                 "no", id="DTR before W24"),
])
def test_self_employment_practice_in_w24(features, household_id, practice):
    row = features[household_id]
    assert row.self_employment_practice == practice
    assert (row.n_self_employment_practice > 0) == (practice == "yes")


# ---------------------------------------------------------------------------------------
# Corrections (model 2)

Q2, Q3 = date(2025, 4, 1), date(2025, 7, 1)


@pytest.mark.parametrize("household_id, n, mean_gap, code", [
    pytest.param(household("corr-150-01", declarations=[correction(Q2, "450.03"), correction(Q3, "450.03")]),
                 2, "150.01", "flagged", id="2 DTRs, mean 150.01"),
    pytest.param(household("corr-150-00", declarations=[correction(Q2, "450.00"), correction(Q3, "450.00")]),
                 2, "150.00", "other", id="2 DTRs, mean 150.00"),
    # 450.01 / 3 = 150.0033… > 150: the rule compares the mean itself, not a rounded one
    pytest.param(household("corr-150-0033", declarations=[correction(Q2, "450.01"), correction(Q3, "450.01")]),
                 2, "150.00", "flagged", id="2 DTRs, mean 150.0033"),
    pytest.param(household("corr-one", declarations=[correction(Q2, "900.00")]), 1, "300.00", "other",
                 id="1 DTR"),
    pytest.param(household("corr-three", declarations=[correction(q, "600.00") for q in
                                                       (date(2025, 1, 1), Q2, Q3)]),
                 3, "200.00", "flagged", id="3 DTRs"),
    pytest.param(household("corr-mean", declarations=[correction(Q2, "300.00"), correction(Q3, "651.00")]),
                 2, "158.50", "flagged", id="mean over the DTRs, not each"),
    pytest.param(household("corr-mean-low", declarations=[correction(Q2, "300.00"), correction(Q3, "600.00")]),
                 2, "150.00", "other", id="mean exactly 150"),
    pytest.param(household("corr-verified", declarations=[correction(Q2, "600.00"),
                                                          correction(Q3, "600.00", verified=True)]),
                 1, "200.00", "other", id="a verified one does not count"),
    pytest.param(household("corr-upward", declarations=[correction(Q2, "600.00"), correction(Q3, "-600.00")]),
                 1, "200.00", "other", id="an upward one does not count"),
    pytest.param(household("corr-upward-extra", declarations=[correction(Q2, "600.00"), correction(Q3, "600.00"),
                                                              correction(date(2025, 10, 1), "-900.00")]),
                 2, "200.00", "flagged", id="an upward one is left out of the mean"),
    pytest.param(household("corr-uncorrected", declarations=[correction(Q2, "600.00", corrected=False),
                                                             correction(Q3, "600.00", corrected=False)]),
                 0, None, "other", id="not corrected by the household"),
    pytest.param(household("corr-not-prefilled", declarations=[dtr(Q2, corrected=True), dtr(Q3, corrected=True)]),
                 0, None, "other", id="before pre-filling"),
    pytest.param(household("corr-w12-first", declarations=[correction(W12_FIRST_DAY, "600.00"),
                                                           correction(Q2, "600.00")]),
                 2, "200.00", "flagged", id="quarter starting on the first day of W12"),
    pytest.param(household("corr-m13", declarations=[correction(date(2024, 10, 1), "600.00"),
                                                     correction(Q2, "600.00")]),
                 1, "200.00", "other", id="quarter starting in M-15"),
    pytest.param(household("corr-m", declarations=[correction(date(2025, 10, 1), "600.00"),
                                                   correction(M, "600.00")]),
                 1, "200.00", "other", id="quarter starting in M"),
])
def test_unverified_downward_corrections(features, household_id, n, mean_gap, code):
    row = features[household_id]
    assert (row.n_corrections_w12, row.mean_correction_gap_eur, row.corrections_code) == (
        n, None if mean_gap is None else Decimal(mean_gap), code)
    assert row.corrections == code


# ---------------------------------------------------------------------------------------
# RSA changes


def rsa(offsets, amount="550.00") -> list[tuple]:
    return [pay("RSA", o, amount) for o in offsets]


@pytest.mark.parametrize("household_id, n_changes, n_months, modality", [
    pytest.param(household("rsa-never"), 0, 0, "0", id="never"),
    pytest.param(household("rsa-always", payments=rsa(range(-24, 0))), 0, 24, "0", id="all 24 months"),
    pytest.param(household("rsa-exit", payments=rsa(range(-24, -12))), 1, 12, "1", id="one exit"),
    pytest.param(household("rsa-last-month", payments=rsa([-1])), 1, 1, "1", id="one entry in M-1"),
    pytest.param(household("rsa-in-out", payments=rsa(range(-20, -9))), 2, 11, "2_plus", id="entry and exit"),
    pytest.param(household("rsa-in-out-in", payments=rsa([*range(-20, -9), *range(-5, 0)])), 3, 16, "2_plus",
                 id="three changes"),
    pytest.param(household("rsa-zero-month", payments=[*rsa([o for o in range(-24, 0) if o != -12]),
                                                       *rsa([-12], "0.00")]),
                 2, 23, "2_plus", id="RSA of 0 € is not paid"),
    pytest.param(household("rsa-before-w24", payments=rsa(range(-30, 0))), 0, 24, "0",
                 id="months before W24 ignored"),
    pytest.param(household("rsa-in-m", payments=rsa(range(-24, 1))), 0, 24, "0", id="month M ignored"),
])
def test_rsa_changes_over_w24(features, household_id, n_changes, n_months, modality):
    row = features[household_id]
    assert (row.n_rsa_changes, row.n_rsa_months_w24, row.rsa_changes) == (n_changes, n_months, modality)


# ---------------------------------------------------------------------------------------
# Events


EVENTS_COUNTED = household("events-counted", events=[
    ("CONLOGETU", date(2024, 8, 1)), ("CONLOGETU", date(2025, 8, 1)), ("PROACC", date(2025, 2, 3)),
    ("VOLSOC", date(2024, 3, 1)), ("VOLSOC", date(2025, 3, 1)), ("VOLSOC", date(2025, 11, 1)),
    ("ABATTEMENT", date(2025, 3, 1)), ("RSA_REVISION", date(2025, 3, 1))])


def test_events_counted_over_w24(features):
    row = features[EVENTS_COUNTED]
    assert (row.n_conlogetu, row.n_proacc, row.n_volsoc) == (2, 1, 3)
    assert (row.conlogetu, row.proacc, row.volsoc) == ("one_or_more",) * 3


@pytest.mark.parametrize("household_id, column, n", [
    pytest.param(household(f"event-{code}-{day}", events=[(code, day)]), column, n, id=f"{code} {day}")
    for code, column in [("CONLOGETU", "n_conlogetu"), ("PROACC", "n_proacc"), ("VOLSOC", "n_volsoc")]
    for day, n in [(M25_LAST_DAY, 0), (W24_FIRST_DAY, 1), (AS_OF, 1), (M, 0)]
])
def test_events_window_is_w24(features, household_id, column, n):
    assert features[household_id][column] == n


# ---------------------------------------------------------------------------------------
# The scored population

POPULATION_CASES = {
    household("pop-m2-and-m1", months=(), snapshots=[Snapshot(-2, caf="13"), Snapshot(-1, caf="92")],
              payments=[pay("AF", -2, "100.00")]): 1,
    household("pop-m2-only", months=(-2,), payments=[pay("AF", -2, "100.00")]): 0,
    household("pop-m-only", months=(0,)): 0,
    household("pop-no-snapshot", months=(), members=[head("EMPLOYED")], payments=[pay("AF", -1, "100.00")]): 0,
}


def test_every_household_of_the_snapshot_scored_exactly_once(feature_rows):
    counts = Counter(row.household_id for row in feature_rows)
    assert sorted(counts) == sorted(POPULATION.scored)
    assert set(counts.values()) == {1}
    assert {h: counts[h] for h in POPULATION_CASES} == POPULATION_CASES


def test_scored_population_frame(spark, feature_frame):
    """Only the snapshot of M-1 gives the scored households, with their Caf of M-1."""
    scored = feature_frame.where(F.col("household_id").startswith("pop-"))
    expected = spark.createDataFrame([(M, "92", "pop-m2-and-m1", Decimal("8.3333"))],
                                     "score_month date, caf string, household_id string, mean_af_eur decimal(16,4)")
    assert_df_equality(scored.select(*expected.columns), expected, ignore_nullable=True)


FEATURE_COLUMNS = [
    "score_month", "caf", "household_id", "activity_code", "n_children_19_plus", "children_activity_code",
    "n_children_16_plus", "guardianship_code", "mean_total_benefits_eur", "mean_af_eur", "mean_cf_eur",
    "mean_pa_eur", "mean_rsa_eur", "mean_resources_eur", "resources_smic_ratio", "allowance_code",
    "n_allowance_w12", "n_allowance_w24", "alimony_code", "n_dtr_w24", "n_dtr_alimony",
    "n_self_employment_changes", "n_self_employment_practice", "corrections_code", "n_corrections_w12",
    "mean_correction_gap_eur", "n_conlogetu", "n_proacc", "n_volsoc", "n_rsa_changes", "n_rsa_months_w24",
]


def test_features_columns_feed_every_model_variable(spec, feature_frame):
    features = feature_frame.columns[:len(FEATURE_COLUMNS)]  # then one modality column per variable
    assert features == FEATURE_COLUMNS
    assert feature_frame.columns[len(FEATURE_COLUMNS):] == [v.name for v in spec.variables]
    assert {v.input for v in spec.variables} <= set(features)


def test_per_source_columns(spark):
    """Each source's reduction: one row per household and score month, with these columns (no Spark job)."""
    households, members, payments, declarations, events = (
        spark.createDataFrame([], schema) for schema in (HOUSEHOLDS, MEMBERS, PAYMENTS, DECLARATIONS, EVENTS))
    couples = households.select("household_id", "couple")
    assert member_features(members, couples, CAL, RULES).columns == [
        "household_id", "score_month", "activity_code", "n_children_19_plus", "n_children_16_plus", "children_activity_code",
        "n_self_employment_changes", "n_self_employment_spells"]
    assert payment_features(payments, CAL).columns == [
        "household_id", "score_month", "mean_total_benefits_eur", "mean_af_eur", "mean_cf_eur", "mean_pa_eur", "mean_rsa_eur",
        "n_rsa_months_w24", "n_rsa_changes"]
    assert resources_features(households, CAL, SMIC).columns == [
        "household_id", "score_month", "mean_resources_eur", "resources_smic_ratio"]
    assert declaration_features(declarations, CAL, RULES).columns == [
        "household_id", "score_month", "n_dtr_w24", "n_dtr_alimony", "n_dtr_self_employment", "n_corrections_w12",
        "mean_correction_gap_eur", "corrections_code"]
    assert event_features(events, CAL).columns == [
        "household_id", "score_month", "n_allowance_w12", "n_allowance_w24", "n_conlogetu", "n_proacc", "n_volsoc"]


def test_payment_features_frame(spark):
    """The money means are decimal(16,4): four decimals keep every band decision exact."""
    payments = spark.createDataFrame([
        ("p1", month(-1), "AF", Decimal("1859.88")), ("p1", month(-13), "AF", Decimal("999.00")),
        ("p1", month(-14), "RSA", Decimal("550.00")), ("p1", month(-1), "RSA", Decimal("600.00")),
        ("p2", month(-6), "PA", Decimal("1800.00")), ("p2", month(-7), "RSA", Decimal("0.00")),
        ("p3", month(-30), "CF", Decimal("100.00")),
    ], PAYMENTS)
    expected = spark.createDataFrame([
        ("p1", Decimal("204.9900"), Decimal("154.9900"), Decimal(0), Decimal(0), Decimal("50.0000"), 2, 3),
        ("p2", Decimal("150.0000"), Decimal(0), Decimal(0), Decimal("150.0000"), Decimal(0), 0, 0),
    ], "household_id string, mean_total_benefits_eur decimal(16,4), mean_af_eur decimal(16,4), "
       "mean_cf_eur decimal(16,4), mean_pa_eur decimal(16,4), mean_rsa_eur decimal(16,4), "
       "n_rsa_months_w24 int, n_rsa_changes int")
    assert_df_equality(payment_features(payments, CAL).drop("score_month"), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_sample_features_in_one_pass_equal_month_by_month(spark):
    """A household scored at two months in one pass gets each month's own variables."""
    from transforms.columns import in_force
    from transforms.features import sample_features

    frames = POPULATION.frames(spark)
    months = [CAL.score_month, add_months(CAL.score_month, 1)]
    one_by_one = None
    for m in months:
        cal = Calendar(m)
        features = compute_features(*frames, cal=cal, smic_eur=SMIC, rules=RULES)
        one_by_one = features if one_by_one is None else one_by_one.unionByName(features)
    ids = frames[0].select("household_id").distinct()
    sample = ids.crossJoin(spark.createDataFrame([(m,) for m in months], "score_month date"))
    smic = in_force([(date(2000, 1, 1), SMIC)], F.add_months(F.col("score_month"), -1))
    together = sample_features(sample, *frames, cal=CAL, smic_eur=smic, rules=RULES)
    assert_df_equality(together, one_by_one, ignore_row_order=True, ignore_nullable=True)
