"""The 19 DMDE variables of a score month (DMDE.md §3, "Exact definitions").

Each source is reduced to one row per household by conditional aggregation over the
month's windows; the results are joined onto the scored population (the snapshot of M-1).
Categorical variables get their modality code here, because their rule is logic (first
match wins); banded variables keep the number, and `transforms.model` bands it from the
model file. Every number behind a modality is kept, for explanations and audit.

Two routes give the same frame: `compute_features` from the sources' rows, and
`features_from_months` from the household × month summaries (`transforms.household_months`);
both end in `assemble`.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from domain.calendar import Calendar
from domain import codes
from domain.codes import ADULTS, ALLOWANCE_EVENTS, MONEY_DIGITS, UNKNOWN_ACTIVITY, WORKING
from domain.settings import Rules
from transforms.columns import completed_age, decimal_average, month_number

MEAN_BENEFITS = {"mean_af_eur": "AF", "mean_cf_eur": "CF", "mean_pa_eur": "PA", "mean_rsa_eur": "RSA"}
# Children's activity, first match wins (lower = stronger); anything else is "other".
CHILD_ACTIVITY_PRIORITY = {"INACTIVE": 1, "STUDENT": 2, "EMPLOYED": 4}
CHILD_ACTIVITY_OTHER = 3
CHILD_ACTIVITY_CODES = ["inactive", "student", "other", "employed"]
COUNTED_EVENTS = {f"n_{code.lower()}": code for code in codes.COUNTED_EVENTS}  # column -> event code
MEAN_SCALE = "decimal(16,4)"   # a mean of cents over 12 months: 4 decimals keep every band decision
BENEFIT_MEANS = {"mean_total_benefits_eur": None, **MEAN_BENEFITS}  # None: every benefit code
# The W12 sums behind the means; also the columns of a month's summary (transforms.household_months).
BENEFIT_SUMS = {mean: mean.removeprefix("mean_") for mean in BENEFIT_MEANS}
# Spark's type of (prefilled - declared) / 3 for money (decimal(12,2)), written out so that
# the summary of a month and the rows give the same mean (`columns.decimal_average`).
CORRECTION_GAP_TYPE = DecimalType(17, 6)
MONEY_TYPE = DecimalType(*MONEY_DIGITS)


class MonthWindows:
    """The windows of DMDE.md §2 as Columns of each row's `score_month`, so that one pass
    can compute the variables of households scored at different months (a labelled
    sample). `Calendar` gives the same windows as dates, to read only the partitions needed."""

    def __init__(self, cal: Calendar) -> None:
        self.short_months, self.long_months = cal.short_months, cal.long_months

    @property
    def score_month(self) -> Column:
        return F.col("score_month")

    @property
    def snapshot_month(self) -> Column:
        return F.add_months(self.score_month, -1)

    @property
    def as_of(self) -> Column:
        return F.date_sub(self.score_month, 1)

    @property
    def w12_start(self) -> Column:
        return F.add_months(self.score_month, -self.short_months)

    @property
    def w24_start(self) -> Column:
        return F.add_months(self.score_month, -self.long_months)


KEY = ["household_id", "score_month"]


def at_score_month(df: DataFrame, cal: Calendar) -> DataFrame:
    """Rows stamped with the month they are read for (kept when they already carry one)."""
    if "score_month" in df.columns:
        return df
    return df.withColumn("score_month", F.lit(cal.score_month))


def _in(column: Column | str, start: Column, end: Column) -> Column:
    column = F.col(column) if isinstance(column, str) else column
    return column.between(start, end)


def count_where(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0))


def population(households: DataFrame, cal: Calendar) -> DataFrame:
    """Every household present in the monthly snapshot of M-1."""
    households = at_score_month(households, cal)
    w = MonthWindows(cal)
    return households.where(F.col("month") == w.snapshot_month).select(
        *KEY, "caf", "couple", "guardianship")


def member_features(members: DataFrame, couples: DataFrame, cal: Calendar, rules: Rules) -> DataFrame:
    """Activities on the as-of date, children's ages on the first day of M, self-employment in W24."""
    members, couples = at_score_month(members, cal), at_score_month(couples, cal)
    w = MonthWindows(cal)
    as_of, m = w.as_of, w.score_month
    covers_as_of = (F.col("valid_from") <= as_of) & (F.col("valid_to").isNull() | (F.col("valid_to") >= as_of))
    activity = F.coalesce(F.col("activity"), F.lit(UNKNOWN_ACTIVITY))
    role = F.col("role")
    is_child = covers_as_of & (role == "CHILD")
    age = completed_age("birth_date", m)
    working_age_child = is_child & (age >= rules.child_working_age)
    child_priority = F.when(working_age_child, F.coalesce(
        F.element_at(F.create_map(*[x for k, v in CHILD_ACTIVITY_PRIORITY.items() for x in (F.lit(k), F.lit(v))]),
                     activity), F.lit(CHILD_ACTIVITY_OTHER)))

    self_employed = role.isin(*ADULTS) & (activity == "SELF_EMPLOYED")
    w24_start = w.w24_start
    starts_or_ends_in_w24 = _in("valid_from", w24_start, as_of) | _in("valid_to", w24_start, as_of)
    overlaps_w24 = (F.col("valid_from") <= as_of) & (F.col("valid_to").isNull() | (F.col("valid_to") >= w24_start))

    def adult(which: str, condition: Column) -> Column:
        return F.max(covers_as_of & (role == which) & condition)

    per_household = members.groupBy(*KEY).agg(
        (adult("HEAD", activity == "RETIRED") | adult("PARTNER", activity == "RETIRED")).alias("any_retired"),
        adult("PARTNER", activity == "INACTIVE").alias("partner_inactive"),
        adult("HEAD", activity.isin(*WORKING)).alias("head_working"),
        adult("PARTNER", activity.isin(*WORKING)).alias("partner_working"),
        # one spell covers a date per member (spells of a member do not overlap)
        count_where(is_child & (age >= rules.child_adult_age)).alias("n_children_19_plus"),
        count_where(working_age_child).alias("n_children_16_plus"),
        F.min(child_priority).alias("children_priority"),
        count_where(self_employed & starts_or_ends_in_w24).alias("n_self_employment_changes"),
        count_where(self_employed & overlaps_w24).alias("n_self_employment_spells"),
    )
    joined = couples.join(per_household, on=KEY, how="left")
    is_couple = F.col("couple")
    activity_code = (F.when(F.coalesce("any_retired", F.lit(False)), "retired")
                     .when(is_couple & F.coalesce("partner_inactive", F.lit(False)), "partner_inactive")
                     .when(is_couple & F.col("head_working") & F.col("partner_working"), "dual_earner")
                     .otherwise("other"))
    priority_codes = F.create_map(*[x for i, c in enumerate(CHILD_ACTIVITY_CODES, start=1)
                                    for x in (F.lit(i), F.lit(c))])
    children_code = F.when(F.col("children_priority").isNull(), "none_working_age") \
        .otherwise(F.element_at(priority_codes, F.col("children_priority")))
    return joined.select(
        *KEY,
        activity_code.alias("activity_code"),
        F.coalesce("n_children_19_plus", F.lit(0)).alias("n_children_19_plus"),
        F.coalesce("n_children_16_plus", F.lit(0)).alias("n_children_16_plus"),
        children_code.alias("children_activity_code"),
        F.coalesce("n_self_employment_changes", F.lit(0)).alias("n_self_employment_changes"),
        F.coalesce("n_self_employment_spells", F.lit(0)).alias("n_self_employment_spells"),
    )


def payment_features(payments: DataFrame, cal: Calendar) -> DataFrame:
    """Means over W12 (sum / 12, a month without payment counts 0) and RSA changes over W24."""
    payments = at_score_month(payments, cal)
    w = MonthWindows(cal)
    in_w12 = _in("month", w.w12_start, w.snapshot_month)
    in_w24 = _in("month", w.w24_start, w.snapshot_month)

    def w12_sum(condition: Column) -> Column:
        return F.sum(F.when(in_w12 & condition, F.col("amount_eur")))

    aggregated = payments.where(in_w24).groupBy(*KEY).agg(
        *[w12_sum(benefit_is(code)).alias(BENEFIT_SUMS[mean]) for mean, code in BENEFIT_MEANS.items()],
        rsa_months(rsa_paid() & in_w24, w).alias("rsa_months"),
    )
    return aggregated.select(*KEY, *payment_variables(cal))


def benefit_is(code: str | None) -> Column:
    """A payment row of this benefit code (None: of any code, for the total)."""
    return F.lit(True) if code is None else F.col("benefit") == code


def rsa_paid() -> Column:
    """A payment row of RSA with an amount > 0 (DMDE.md §3, RSA changes)."""
    return (F.col("benefit") == "RSA") & (F.col("amount_eur") > 0)


def rsa_months(paid: Column, w: MonthWindows) -> Column:
    """Aggregate: one bit per month of W24 where RSA was paid (bit 0 = M-24), from rows
    of a `month` column where `paid` holds."""
    month_index = month_number(F.col("month")) - month_number(w.w24_start)
    return F.coalesce(F.bit_or(F.when(paid, F.pow(F.lit(2.0), month_index).cast("long"))),
                      F.lit(0).cast("long"))


def payment_variables(cal: Calendar) -> list[Column]:
    """The benefit means and RSA variables from a household's W12 sums (columns
    BENEFIT_SUMS, null when nothing was paid) and its `rsa_months` bits."""
    pairs = (1 << (cal.long_months - 1)) - 1  # a change is two neighbouring bits that differ
    rsa_bits = F.col("rsa_months")
    return [
        *[(F.coalesce(F.col(total), F.lit(0)) / cal.short_months).cast(MEAN_SCALE).alias(mean)
          for mean, total in BENEFIT_SUMS.items()],
        F.bit_count(rsa_bits).alias("n_rsa_months_w24"),
        F.bit_count(rsa_bits.bitwiseXOR(F.shiftright(rsa_bits, 1)).bitwiseAND(F.lit(pairs))).alias("n_rsa_changes"),
    ]


def resources_features(households: DataFrame, cal: Calendar, smic_eur: float | Column) -> DataFrame:
    """Mean monthly resources over the W12 months with a snapshot, over the SMIC of M-1."""
    households = at_score_month(households, cal)
    w = MonthWindows(cal)
    mean = households.where(_in("month", w.w12_start, w.snapshot_month)) \
        .groupBy(*KEY).agg(F.avg("resources_eur").alias("mean_resources_eur"))
    return mean.select(*KEY, *resources_variables(smic_eur))


def resources_variables(smic_eur: float | Column) -> list[Column]:
    """The resources variables from the exact mean `mean_resources_eur` (null: no snapshot)."""
    return [
        F.col("mean_resources_eur").cast("decimal(12,2)").alias("mean_resources_eur"),
        # double: a ratio, compared with band edges like 0.4; documented in the README
        (F.coalesce(F.col("mean_resources_eur").cast("double"), F.lit(0.0)) / smic_eur)
        .alias("resources_smic_ratio"),
    ]


def declaration_features(declarations: DataFrame, cal: Calendar, rules: Rules) -> DataFrame:
    """DTRs of W24 (alimony, self-employment income) and unverified downward corrections of W12."""
    declarations = at_score_month(declarations, cal)
    w = MonthWindows(cal)
    in_w24 = _in("quarter_start", w.w24_start, w.as_of)
    in_w12 = _in("quarter_start", w.w12_start, w.as_of)
    downward = in_w12 & unverified_downward_correction()
    per_household = declarations.where(in_w24).groupBy(*KEY).agg(
        F.count(F.lit(1)).alias("n_dtr_w24"),
        count_where(F.col("alimony")).alias("n_dtr_alimony"),
        count_where(F.col("self_employment_eur") > 0).alias("n_dtr_self_employment"),
        count_where(downward).alias("n_corrections_w12"),
        F.avg(F.when(downward, monthly_correction_gap())).alias("mean_correction_gap"),
    )
    return per_household.select(*KEY, "n_dtr_w24", "n_dtr_alimony", "n_dtr_self_employment",
                                *correction_variables(rules))


def unverified_downward_correction() -> Column:
    """A DTR corrected by the household, not verified, with prefilled - declared > 0."""
    gap = F.col("prefilled_eur") - F.col("declared_eur")
    return F.col("corrected") & ~F.col("verified") & (gap > 0)


def monthly_correction_gap() -> Column:
    """A DTR's (prefilled - declared) / 3, as Spark computes it for money (6 decimals): the
    rows' values whose mean the corrections variable reads."""
    return ((F.col("prefilled_eur") - F.col("declared_eur")) / 3).cast(CORRECTION_GAP_TYPE)


def correction_variables(rules: Rules) -> list[Column]:
    """The corrections variable from `n_corrections_w12` and the exact `mean_correction_gap`."""
    # The flag reads the exact mean: rounded to cents first, 150.003 € would not be > 150 €.
    flagged = (F.col("n_corrections_w12") >= rules.corrections_min_count) & (
        F.col("mean_correction_gap") > rules.corrections_min_mean_gap_eur)
    return [
        "n_corrections_w12",
        F.col("mean_correction_gap").cast("decimal(12,2)").alias("mean_correction_gap_eur"),
        F.when(flagged, "flagged").otherwise("other").alias("corrections_code"),
    ]


def event_features(events: DataFrame, cal: Calendar) -> DataFrame:
    """Allowance/neutralisation events in W12 and W24; counted events over W24."""
    events = at_score_month(events, cal)
    w = MonthWindows(cal)
    in_w24 = _in("event_date", w.w24_start, w.as_of)
    in_w12 = _in("event_date", w.w12_start, w.as_of)
    allowance = F.col("code").isin(*ALLOWANCE_EVENTS)
    return events.where(in_w24).groupBy(*KEY).agg(
        count_where(allowance & in_w12).alias("n_allowance_w12"),
        count_where(allowance).alias("n_allowance_w24"),
        *[count_where(F.col("code") == code).alias(name) for name, code in COUNTED_EVENTS.items()],
    )


def sample_features(sample: DataFrame, households: DataFrame, members: DataFrame, payments: DataFrame,
                    declarations: DataFrame, events: DataFrame, *, cal: Calendar, smic_eur: Column,
                    rules: Rules) -> DataFrame:
    """The variables of each (household_id, score_month) of a small sample, in one pass.

    Each source row of a sampled household is stamped with the month(s) that household is
    scored at; `smic_eur` is then a Column of the row's M-1 (see `transforms.columns`).
    `cal` only gives the window lengths.
    """
    stamped = at_sample_months(sample)
    return compute_features(stamped(households), stamped(members), stamped(payments),
                            stamped(declarations), stamped(events), cal=cal, smic_eur=smic_eur, rules=rules)


def at_sample_months(sample: DataFrame):
    """Transform: a source's rows of the sampled households (`sample`: household_id,
    score_month), each stamped with the month(s) its household is scored at."""
    months = F.broadcast(sample.select(*KEY).distinct())

    def stamped(df: DataFrame) -> DataFrame:
        return df.join(months, on="household_id", how="inner")
    return stamped


def compute_features(households: DataFrame, members: DataFrame, payments: DataFrame,
                     declarations: DataFrame, events: DataFrame, *, cal: Calendar,
                     smic_eur: float | Column, rules: Rules) -> DataFrame:
    """One row per household of the snapshot of M-1, with every variable's input.

    Sources that carry a `score_month` column are read for that month (the rows of a
    household scored at several months are then repeated, once per month): this is how
    `sample_features` computes a labelled sample in one pass. Otherwise every row is read
    for `cal.score_month`.
    """
    scored = population(households, cal)
    by_member = member_features(members, scored.select(*KEY, "couple"), cal, rules)
    return assemble(scored, by_member, payment_features(payments, cal),
                    resources_features(households, cal, smic_eur), declaration_features(declarations, cal, rules),
                    event_features(events, cal))


def features_from_months(household_months: DataFrame, households: DataFrame, members: DataFrame, *,
                         cal: Calendar, smic_eur: float | Column, rules: Rules) -> DataFrame:
    """The same frame as `compute_features`, from the household × month summaries of W24
    (`transforms.household_months`), the snapshot of M-1 and the members.

    Every window of DMDE.md §2 is a run of whole months (W12, W24; the as-of date is the
    last day of M-1), so a household's sums and counts over a window are the sums of its
    months' sums and counts. The sums are cast back to the type Spark gives a sum of the
    rows and the means divide as `avg` does: every number equals the full recomputation's.
    Summaries that carry a `score_month` column are read for that month, as in
    `compute_features`.
    """
    months = at_score_month(household_months, cal)
    w = MonthWindows(cal)
    in_w12 = _in("month", w.w12_start, w.snapshot_month)
    in_w24 = _in("month", w.w24_start, w.snapshot_month)

    def total(column: str, condition: Column = in_w24) -> Column:
        """Sum over the window's months, in the type of a sum over the rows (exact)."""
        return F.sum(F.when(condition, F.col(column))).cast(months.schema[column].dataType)

    def counted(column: str, condition: Column = in_w24) -> Column:
        return F.sum(F.when(condition, F.col(column)).otherwise(0))

    aggregated = months.where(in_w24).groupBy(*KEY).agg(
        *[total(column, in_w12).alias(column) for column in BENEFIT_SUMS.values()],
        rsa_months(F.col("rsa_paid") & in_w24, w).alias("rsa_months"),
        decimal_average(total("resources_eur", in_w12), counted("n_resources", in_w12), MONEY_TYPE)
        .alias("mean_resources_eur"),
        counted("n_dtr").alias("n_dtr_w24"),
        counted("n_dtr_alimony").alias("n_dtr_alimony"),
        counted("n_dtr_self_employment").alias("n_dtr_self_employment"),
        counted("n_corrections", in_w12).alias("n_corrections_w12"),
        decimal_average(total("correction_gap_sum", in_w12), counted("n_corrections", in_w12),
                        CORRECTION_GAP_TYPE).alias("mean_correction_gap"),
        counted("n_allowance", in_w12).alias("n_allowance_w12"),
        counted("n_allowance").alias("n_allowance_w24"),
        *[counted(name).alias(name) for name in COUNTED_EVENTS],
    )
    per_household = aggregated.select(
        *KEY, *payment_variables(cal), *resources_variables(smic_eur),
        "n_dtr_w24", "n_dtr_alimony", "n_dtr_self_employment", *correction_variables(rules),
        "n_allowance_w12", "n_allowance_w24", *COUNTED_EVENTS)
    scored = population(households, cal)
    by_member = member_features(members, scored.select(*KEY, "couple"), cal, rules)
    return assemble(scored, by_member, per_household)


def assemble(scored: DataFrame, by_member: DataFrame, *per_household: DataFrame) -> DataFrame:
    """The scored population (`population`) with its member variables and the per-household
    variables of the other sources joined on: the frame both routes return, with a
    modality code for each categorical variable and 0 for a source without rows."""
    joined = scored.join(by_member, on=KEY, how="left")
    for variables in per_household:
        joined = joined.join(variables, on=KEY, how="left")

    def zero(name: str, zero_value=0) -> Column:
        return F.coalesce(F.col(name), F.lit(zero_value)).alias(name)

    money_zero = F.lit(0).cast(MEAN_SCALE)
    n_allowance_w12, n_allowance_w24 = zero("n_allowance_w12"), zero("n_allowance_w24")
    allowance_code = (F.when(F.coalesce("n_allowance_w12", F.lit(0)) > 0, "w12")
                      .when(F.coalesce("n_allowance_w24", F.lit(0)) > 0, "w24_only")
                      .otherwise("none"))
    n_dtr = F.coalesce("n_dtr_w24", F.lit(0))
    alimony_code = (F.when(n_dtr == 0, "not_concerned")
                    .when(F.col("n_dtr_alimony") > 0, "yes")
                    .otherwise("no"))
    practice = F.col("n_self_employment_spells") + F.coalesce("n_dtr_self_employment", F.lit(0))
    return joined.select(
        "score_month", "caf", "household_id",
        "activity_code",
        "n_children_19_plus",
        "children_activity_code", "n_children_16_plus",
        F.when(F.col("guardianship"), "yes").otherwise("no").alias("guardianship_code"),
        zero("mean_total_benefits_eur", money_zero),
        *[zero(name, money_zero) for name in MEAN_BENEFITS],
        zero("mean_resources_eur", F.lit(0).cast("decimal(12,2)")),
        zero("resources_smic_ratio", 0.0),
        allowance_code.alias("allowance_code"), n_allowance_w12, n_allowance_w24,
        alimony_code.alias("alimony_code"), zero("n_dtr_w24"), zero("n_dtr_alimony"),
        "n_self_employment_changes",
        practice.alias("n_self_employment_practice"),
        F.coalesce("corrections_code", F.lit("other")).alias("corrections_code"),
        zero("n_corrections_w12"), "mean_correction_gap_eur",
        *[zero(name) for name in COUNTED_EVENTS],
        zero("n_rsa_changes"), zero("n_rsa_months_w24"),
    )
