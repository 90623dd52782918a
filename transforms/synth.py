"""Synthetic Caf households, generated in parallel from `spark.range` ids.

Every draw is a seeded hash of (seed, what is drawn, household id[, month]): no Python loop
over households, no UDF, nothing collected. The same arguments give the same tables on any
cluster; the parameters (archetypes, weights, benefit scales) come from `conf/synth.yaml`.

The frame is built in three layers:
- `household_frame`: one row per household with its static draws (composition, activities,
  resources level, benefit traits, spells of RSA, entry and exit months);
- `household_months`: one row per household and month of presence, with every benefit's
  amount computed from the household's situation that month (children's ages, RSA spell…);
- the six source tables, each a projection of one of these frames.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from domain.calendar import add_months, is_quarter_start, month_index
from domain.codes import MONEY, WORKING
from domain.model import Target
from domain.synth import SynthSpec, parse_band
from transforms import synth_labels
from transforms.columns import by_key, categorical, cumulative, in_force, month_number, pick, uniform

MAX_CHILDREN = 6


@dataclass(frozen=True)
class Period:
    """The months the extract covers: `start` and `months` consecutive months."""
    start: date
    months: int

    @property
    def end(self) -> date:
        return add_months(self.start, self.months - 1)

    def quarter_starts(self) -> list[tuple[date, int]]:
        """Calendar quarters starting inside the period, with their month index."""
        return [(add_months(self.start, m), m) for m in range(self.months)
                if is_quarter_start(add_months(self.start, m))]


def _money(x: Column) -> Column:
    return F.round(x, 2).cast(MONEY)


def _month_date(period: Period, m: Column) -> Column:
    return F.add_months(F.lit(period.start), m.cast("int"))


def _keep_when(condition: Column) -> Column:
    """A generator keeping the row when `condition` holds, selected as column `kept`.

    Unlike `where`, Spark does not push it below the projections that compute the columns
    it reads, which would copy their expressions into the filter (past Janino's 64 KB)."""
    return F.explode(F.when(condition, F.array(F.lit(True)))).alias("kept")


def _smic(smic: Sequence[tuple[date, float]], month: Column) -> Column:
    """Net monthly SMIC in force in `month` (the dated table of conf/smic.csv); the first
    rate for a month before the table starts (a synthetic history may start earlier)."""
    return F.coalesce(in_force(smic, month), F.lit(sorted(smic)[0][1]))


CATEGORICAL_FIELDS = ("head_activity", "partner_activity", "children", "child_activity_16plus",
                      "resources_smic", "rsa", "nationality", "residence")
TRAITS = ("pa", "housing_aid", "aah", "aeeh", "cmg", "guardianship", "alimony",
          "self_employment_change", "conlogetu", "proacc", "allowance", "downward_corrector")


def archetype_table(spark, spec: SynthSpec) -> DataFrame:
    """The archetypes as a small table: scalars, and each distribution as two arrays
    (values, cumulative bounds) so that one generic expression draws from any of them."""
    rows = []
    for name, a in spec.archetypes.items():
        row = {"archetype": name, "couple_p": a.couple, "female_head_p": a.female_head,
               "dmde_risk": a.dmde_risk,
               "eldest_min": a.eldest_child_age.min, "eldest_max": a.eldest_child_age.max,
               "head_age_min": a.head_age.min, "head_age_max": a.head_age.max,
               "pa_quarters_p": a.pa_quarters, **{f"{t}_p": getattr(a, t) for t in TRAITS}}
        for field in CATEGORICAL_FIELDS:
            values, bounds = cumulative(getattr(a, field))
            row[f"{field}_values"] = [str(v) for v in values]
            row[f"{field}_bounds"] = bounds
        bands = [parse_band(v) for v in row["resources_smic_values"]]
        row["band_low"] = [lo for lo, _ in bands]
        row["band_high"] = [hi for _, hi in bands]
        rows.append(row)
    return spark.createDataFrame(rows)


def household_frame(ids: DataFrame, spec: SynthSpec, cafs: Sequence[tuple[str, float, date]],
                    period: Period, seed: int) -> DataFrame:
    """One row per household: its static draws. `ids` has a long column `id`."""
    hid = F.col("hid")

    def u(salt: str, *extra: Column) -> Column:
        return uniform(seed, salt, hid, *extra)

    def draw(field: str, salt: str | None = None) -> Column:
        return pick(u(salt or field), F.col(f"{field}_values"), F.col(f"{field}_bounds"))

    def between(low: str, high: str, salt: str) -> Column:
        return F.col(low) + u(salt) * (F.col(high) - F.col(low))

    prefill = F.create_map(*[x for code, _, start in cafs for x in (F.lit(code), F.lit(start))])
    end = F.lit(period.end)
    t = period.months
    rent = spec.scales.housing_aid.rent_factor
    archetypes = F.broadcast(archetype_table(ids.sparkSession, spec))

    frame = ids.select(F.col("id").alias("hid")).select(
        hid,
        F.format_string("%010d", hid).alias("household_id"),
        categorical(u("caf"), {code: size for code, size, _ in cafs}).alias("caf"),
        categorical(u("archetype"), {name: a.weight for name, a in spec.archetypes.items()}).alias("archetype"),
    ).join(archetypes, on="archetype", how="inner")
    band = F.size(F.filter(F.slice(F.col("resources_smic_bounds"), 1, F.size("resources_smic_bounds") - 1),
                           lambda b: b <= u("ratio_band"))) + 1
    frame = frame.select(
        "hid", "household_id", "caf", "archetype", "dmde_risk",
        (u("couple") < F.col("couple_p")).alias("couple"),
        draw("head_activity").alias("head_activity"),
        draw("partner_activity").alias("partner_activity"),
        draw("children").cast("int").alias("n_children_drawn"),
        between("eldest_min", "eldest_max", "eldest_age").alias("eldest_age"),
        between("head_age_min", "head_age_max", "head_age").alias("head_age_drawn"),
        F.when(u("sex") < F.col("female_head_p"), "F").otherwise("M").alias("head_sex"),
        draw("nationality").alias("head_nationality"),
        draw("residence").alias("residence"),
        F.round(F.element_at("band_low", band) + u("ratio") *
                (F.element_at("band_high", band) - F.element_at("band_low", band)), 4).alias("ratio"),
        draw("rsa").alias("rsa_drawn"),
        "child_activity_16plus_values", "child_activity_16plus_bounds", "pa_quarters_p",
        *[(u(t_) < F.col(f"{t_}_p")).alias(t_) for t_ in TRAITS],
        prefill[F.col("caf")].alias("prefill_start"),
        # entry and exit: most households are present over the whole period
        F.when(u("enters") < spec.entering_share, (u("entry_month") * t).cast("int"))
         .otherwise(0).alias("entry_m"),
        F.when(u("leaves") < spec.leaving_share, (u("exit_month") * t).cast("int"))
         .otherwise(t - 1).alias("exit_drawn"),
        (u("rsa_a") * t).cast("int").alias("rsa_a"),
        (u("rsa_b") * t).cast("int").alias("rsa_b"),
        (3 + u("rsa_period") * 6).cast("int").alias("rsa_period"),
        (u("rsa_phase") * 12).cast("int").alias("rsa_phase"),
        (u("se_change_m") * t).cast("int").alias("se_change_m"),
        (rent.min + u("rent") * (rent.max - rent.min)).alias("rent_factor"),
        (spec.declarations.corrector_gap_eur.min + u("gap") *
         (spec.declarations.corrector_gap_eur.max - spec.declarations.corrector_gap_eur.min)).alias("corrector_gap"),
    )
    # Children: eldest born `eldest_age` years before the period's end, each next one
    # `child_spacing_years` after the previous; a child born after the period's end does not
    # exist yet. One column per child rank (not an array), so that the monthly counts below
    # are plain comparisons.
    spacing = spec.child_spacing_years
    offset, births = F.lit(0.0), []
    for i in range(MAX_CHILDREN):
        if i:
            offset = offset + spacing.min + u("child_gap", F.lit(i)) * (spacing.max - spacing.min)
        births.append(F.date_add(F.col("eldest_birth"), (offset * 365.25).cast("int")).alias(f"child{i + 1}_born"))
    # A parent is at least `parent_min_age` older than the eldest child: the archetype's age
    # range is raised where the drawn child would otherwise make the head too young.
    head_age = F.when(F.col("n_children_drawn") > 0,
                      F.greatest("head_age_drawn", F.col("eldest_age") + spec.parent_min_age)) \
        .otherwise(F.col("head_age_drawn"))
    frame = frame.select(
        "*", F.date_sub(end, (F.col("eldest_age") * 365.25).cast("int")).alias("eldest_birth"),
        F.date_sub(end, (head_age * 365.25).cast("int")).alias("head_birth_date"),
    ).select("*", *births)
    children = []
    for i in range(MAX_CHILDREN):
        birth = F.col(f"child{i + 1}_born")
        exists = (F.col("n_children_drawn") > i) & (birth <= end)
        children += [
            F.when(exists, birth).alias(f"child{i + 1}_birth"),
            F.when(exists, pick(u("child_activity", F.lit(i)), F.col("child_activity_16plus_values"),
                                F.col("child_activity_16plus_bounds"))).alias(f"child{i + 1}_activity"),
            F.when(exists, _first_month_counted(birth, period)).alias(f"child{i + 1}_from"),
        ]
    rsa_regime = F.when(F.col("ratio") < spec.scales.rsa.max_ratio, F.col("rsa_drawn")).otherwise("none")
    in_out = F.col("rsa_drawn") == "in_out"
    return frame.select(
        "*",
        *children,
        rsa_regime.alias("rsa_regime"),
        F.greatest(F.col("exit_drawn"), F.col("entry_m")).alias("exit_m"),
        # entering: on from rsa_start; leaving: on until rsa_end; in_out: on in between
        F.when(in_out, F.least("rsa_a", "rsa_b")).otherwise(F.col("rsa_a")).alias("rsa_start"),
        F.when(in_out, F.greatest("rsa_a", "rsa_b")).otherwise(F.col("rsa_b")).alias("rsa_end"),
    ).drop("exit_drawn", "rsa_a", "rsa_b", "rsa_drawn", "n_children_drawn", "eldest_age", "eldest_birth",
           "head_age_drawn",
           *[f"child{i + 1}_born" for i in range(MAX_CHILDREN)],
           "child_activity_16plus_values", "child_activity_16plus_bounds")


def _first_month_counted(birth: Column, period: Period) -> Column:
    """Index of the first month on whose first day the child is born: a child aged `a`
    years or more in month m is then `m >= first + 12 a` (exact on birthdays)."""
    return month_number(birth) - month_index(period.start) + (F.dayofmonth(birth) > 1).cast("int")


def children_aged(m: Column, from_age: int, below_age: int | None = None) -> Column:
    """Number of children born by month m and aged from_age <= age < below_age in it."""
    def counted(i: int) -> Column:
        first = F.col(f"child{i + 1}_from")
        aged = m >= first + 12 * from_age
        if below_age is not None:
            aged = aged & (m < first + 12 * below_age)
        return F.coalesce(aged, F.lit(False)).cast("int")
    return sum((counted(i) for i in range(1, MAX_CHILDREN)), counted(0))


# --- situation in month m -------------------------------------------------------------

def rsa_on(m: Column) -> Column:
    """Whether the household is paid RSA in month index m, from its RSA regime."""
    regime = F.col("rsa_regime")
    return (F.when(regime == "stable", F.lit(True))
            .when(regime == "entering", m >= F.col("rsa_start"))
            .when(regime == "leaving", m <= F.col("rsa_end"))
            .when(regime == "in_out", m.between(F.col("rsa_start"), F.col("rsa_end")))
            .when(regime == "cycling", F.pmod(m + F.col("rsa_phase"), 2 * F.col("rsa_period"))
                  < F.col("rsa_period"))
            .otherwise(F.lit(False)))


def present(m: Column) -> Column:
    return m.between(F.col("entry_m"), F.col("exit_m"))


def quarter_of(period: Period, m: Column) -> Column:
    """Calendar quarter of month index m, as an absolute number (the key of quarterly draws)."""
    return F.floor((m + month_index(period.start)) / 3)


def ratio_in(spec: SynthSpec, period: Period, seed: int, m: Column) -> Column:
    """Resources/SMIC in month m: the household's level, varying from quarter to quarter
    (hours, contracts), plus a job in the months an RSA household is off RSA."""
    swing = spec.quarterly_resources_swing * (2.0 * uniform(seed, "ratio_q", F.col("hid"), quarter_of(period, m)) - 1.0)
    off_rsa = (F.col("rsa_regime") != "none") & ~rsa_on(m)
    return F.col("ratio") * (1.0 + swing) + F.when(off_rsa, spec.scales.rsa.job_ratio_off_rsa).otherwise(0.0)


def has_work(m: Column) -> Column:
    worker = F.col("head_activity").isin(*WORKING) | (
        F.col("couple") & F.col("partner_activity").isin(*WORKING))
    return worker | (F.col("head_activity") == "STUDENT") | (
        (F.col("rsa_regime") != "none") & ~rsa_on(m))


def consumption_units(spec: SynthSpec, n_children: Column) -> Column:
    """RSA and PA household scale: 1 for the first person, then second and further persons."""
    r = spec.scales.rsa
    persons = 1 + F.col("couple").cast("int") + n_children
    return 1 + F.when(persons >= 2, r.second_person).otherwise(0.0) + r.further_person * F.greatest(
        persons - 2, F.lit(0))


def pa_paid(spec: SynthSpec, period: Period, seed: int, m: Column, ratio: Column,
            n_children: Column) -> Column:
    """Activity bonus of month m, null when not paid.

    The PA is reassessed every quarter on the DTR: a claimant with earnings is paid in the
    quarters it claims (`pa_quarters` of them on average), an amount that decreases with
    its resources, fixed by quarter, when it reaches the minimum payment."""
    p = spec.scales.pa
    quarter = quarter_of(period, m)
    noise = 1.0 + spec.scales.monthly_noise * (2.0 * uniform(seed, "pa", F.col("hid"), quarter) - 1.0)
    amount = (consumption_units(spec, n_children) * p.max_eur - p.slope_per_smic * ratio) * noise
    claims = F.col("pa") & has_work(m) & (ratio >= p.min_ratio) & (
        uniform(seed, "pa_quarter", F.col("hid"), quarter) < F.col("pa_quarters_p"))
    return F.when(claims & (amount >= p.min_eur), amount)


def rsa_paid(spec: SynthSpec, m: Column, ratio: Column, n_children: Column, smic_eur: Column) -> Column:
    """RSA of month m, null when not paid: the household's scale minus a share of its
    resources, in the months its RSA regime has it on RSA, from the minimum payment."""
    r = spec.scales.rsa
    amount = r.single * consumption_units(spec, n_children) - r.resources_rate * ratio * smic_eur
    return F.when(rsa_on(m) & (amount >= r.min_eur), amount)


def household_months(households: DataFrame, spec: SynthSpec, period: Period,
                     smic: Sequence[tuple[date, float]], seed: int) -> DataFrame:
    """One row per household and month of presence, with resources and every benefit."""
    s = spec.scales
    m = F.col("m")
    month = F.col("month")

    def u(salt: str) -> Column:
        return uniform(seed, salt, F.col("hid"), m)

    def noise(salt: str) -> Column:
        return 1.0 + s.monthly_noise * (2.0 * u(salt) - 1.0)

    frame = households.select(
        "*", F.explode(F.sequence(F.col("entry_m"), F.col("exit_m"))).alias("m"))
    frame = frame.select(
        "*",
        _month_date(period, m).alias("month"),
        ratio_in(spec, period, seed, m).alias("ratio_m"),
        children_aged(m, 0).alias("n_children"),
        children_aged(m, 0, s.af.age_limit).alias("n_af"),
        children_aged(m, s.af.supplement_from_age, s.af.age_limit).alias("n_af_older"),
        children_aged(m, s.cf.child_age_from, s.cf.child_age_below).alias("n_cf"),
        children_aged(m, 0, s.paje_child_below).alias("n_paje"),
        children_aged(m, 0, s.cmg_child_below).alias("n_cmg"),
    )
    frame = frame.select("*", _smic(smic, month).alias("smic_eur"))
    frame = frame.select(
        "*",
        pa_paid(spec, period, seed, m, F.col("ratio_m"), F.col("n_children")).alias("pa_eur"),
        rsa_paid(spec, m, F.col("ratio_m"), F.col("n_children"), F.col("smic_eur")).alias("rsa_eur"),
    )
    resources = F.col("ratio_m") * F.col("smic_eur")

    af_scale = s.af.by_children
    af_base = F.when(F.col("n_af") >= len(af_scale) - 1,
                     af_scale[-1] + s.af.per_extra_child * (F.col("n_af") - (len(af_scale) - 1))) \
        .otherwise(F.element_at(F.array(*[F.lit(x) for x in af_scale]), F.col("n_af") + 1))
    supplements = F.when(F.col("n_af") == 2, F.greatest(F.col("n_af_older") - 1, F.lit(0))) \
        .when(F.col("n_af") > 2, F.col("n_af_older")).otherwise(0)
    modulation = F.lit(1.0)
    for from_ratio, factor in sorted(s.af.modulation):
        modulation = F.when(F.col("ratio_m") >= from_ratio, factor).otherwise(modulation)
    af = F.when(F.col("n_af") >= 2, (af_base + s.af.age_supplement * supplements) * modulation)

    cf = s.cf
    cf_amount = (F.when(F.col("ratio_m") < cf.increased_below_ratio, cf.increased)
                 .when(F.col("ratio_m") < cf.ceiling_ratio, cf.base)
                 .when(F.col("ratio_m") < cf.ceiling_ratio + cf.differential_width,
                       cf.base * (cf.ceiling_ratio + cf.differential_width - F.col("ratio_m"))
                       / cf.differential_width))
    cf_paid = F.when(F.col("n_cf") >= cf.min_children, cf_amount)

    h = s.housing_aid
    housing = (h.base + h.per_child * F.col("n_children") + h.per_smic * F.col("ratio_m")) * F.col("rent_factor")
    al = F.when(F.col("housing_aid") & (housing >= h.min_eur), housing * noise("al"))

    single_parent = ~F.col("couple") & (F.col("n_af") > 0)
    benefits = {
        "AF": af,
        "CF": cf_paid,
        "PA": F.col("pa_eur"),
        "RSA": F.col("rsa_eur"),
        "AL": al,
        "AAH": F.when(F.col("aah"), F.lit(s.aah)),
        "AEEH": F.when(F.col("aeeh") & (F.col("n_af") > 0), F.lit(s.aeeh)),
        "ASF": F.when(single_parent & ~F.col("alimony") & (F.col("ratio_m") < 1.0),
                      s.asf_per_child * F.col("n_af")),
        "PAJE": F.when((F.col("n_paje") > 0) & (F.col("ratio_m") < s.paje_max_ratio), F.lit(s.paje_base)),
        "CMG": F.when(F.col("cmg") & (F.col("n_cmg") > 0) & has_work(m), s.cmg * noise("cmg")),
        "OTHER": F.when(u("other") < s.other_probability, F.lit(s.other_eur)),
    }
    return frame.select(
        "*",
        F.col("rsa_eur").isNotNull().alias("on_rsa"),
        _money(resources * noise("resources")).alias("resources_eur"),
        F.array(*[F.struct(F.lit(code).alias("benefit"), _money(amount).alias("amount_eur"))
                  for code, amount in benefits.items()]).alias("benefits"),
    )


# --- the source tables -------------------------------------------------------------------

def households_table(hm: DataFrame) -> DataFrame:
    return hm.select(
        "household_id", "month", "caf", "couple", "guardianship", "resources_eur",
        "head_sex", "head_nationality", "head_birth_date", "residence")


def payments_table(hm: DataFrame) -> DataFrame:
    # Exploding the filtered array (an expression, not the `benefits` column) also keeps
    # Spark from inferring a `size(benefits) > 0` filter that it would push below the
    # projection, copying every benefit's expression into it (and past Janino's 64 KB).
    paid = hm.select("household_id", "month",
                     F.explode(F.filter("benefits", lambda b: b["amount_eur"] > 0)).alias("b"))
    return paid.select(
        "household_id", "month", F.col("b.benefit").alias("benefit"), F.col("b.amount_eur").alias("amount_eur"))


def members_table(households: DataFrame, period: Period, seed: int) -> DataFrame:
    """Activity spells of heads, partners and children.

    Adults hold one open spell since their file opened, or two around a change of
    self-employment; children are at SCHOOL until their 16th birthday, then take their
    drawn activity.
    """
    hid = F.col("hid")
    since = F.date_sub(F.lit(period.start), (uniform(seed, "since", hid) * 3650).cast("int"))
    entry = F.add_months(F.lit(period.start), F.col("entry_m"))
    opened = F.when(F.col("entry_m") > 0, entry).otherwise(since)
    change = F.date_add(F.add_months(F.lit(period.start), F.col("se_change_m")),
                        (uniform(seed, "se_change_day", hid) * 27).cast("int"))
    spell_type = "struct<member_id:string,role:string,birth_date:date,activity:string,valid_from:date,valid_to:date>"

    def spell(pos, role: str, birth: Column, activity: Column, start: Column, stop: Column | None) -> Column:
        return F.struct(
            F.concat_ws("-", F.col("household_id"), F.lit(pos) if isinstance(pos, int) else pos.cast("string"))
             .alias("member_id"),
            F.lit(role).alias("role"), birth.alias("birth_date"), activity.alias("activity"),
            start.alias("valid_from"),
            (stop if stop is not None else F.lit(None).cast("date")).alias("valid_to"))

    partner_birth = F.date_add(F.col("head_birth_date"), ((uniform(seed, "partner_age", hid) - 0.5) * 3000).cast("int"))
    head_se = F.col("head_activity") == "SELF_EMPLOYED"
    changes = F.col("self_employment_change") & (F.col("se_change_m") > F.col("entry_m"))
    day_before = F.date_sub(change, 1)
    head_spells = F.when(
        changes & head_se,  # became self-employed during the period
        F.array(spell(1, "HEAD", F.col("head_birth_date"), F.lit("EMPLOYED"), opened, day_before),
                spell(1, "HEAD", F.col("head_birth_date"), F.col("head_activity"), change, None)),
    ).when(
        changes,  # stopped a self-employed activity during the period
        F.array(spell(1, "HEAD", F.col("head_birth_date"), F.lit("SELF_EMPLOYED"), opened, day_before),
                spell(1, "HEAD", F.col("head_birth_date"), F.col("head_activity"), change, None)),
    ).otherwise(F.array(spell(1, "HEAD", F.col("head_birth_date"), F.col("head_activity"), opened, None)))
    partner_spells = F.when(
        F.col("couple"),
        F.array(spell(2, "PARTNER", partner_birth, F.col("partner_activity"), opened, None)),
    ).otherwise(F.array().cast(f"array<{spell_type}>"))

    def child_spells(i: int) -> Column:
        birth, activity = F.col(f"child{i}_birth"), F.col(f"child{i}_activity")
        sixteen = F.add_months(birth, 16 * 12)
        school_to = F.when(sixteen <= F.lit(period.end), F.date_sub(sixteen, 1))
        return F.when(birth.isNotNull(), F.array(
            spell(i + 2, "CHILD", birth, F.lit("SCHOOL"), F.greatest(birth, opened), school_to),
            F.when(sixteen <= F.lit(period.end),
                   spell(i + 2, "CHILD", birth, activity, F.greatest(sixteen, opened), None)),
        )).otherwise(F.array().cast(f"array<{spell_type}>"))

    all_spells = F.concat(head_spells, partner_spells,
                          *[child_spells(i) for i in range(1, MAX_CHILDREN + 1)])
    exploded = households.select(F.col("household_id"), F.explode(all_spells).alias("s"))
    return exploded.where(F.col("s").isNotNull() & (
        F.col("s.valid_to").isNull() | (F.col("s.valid_to") >= F.col("s.valid_from")))).select(
        "household_id", "s.member_id", "s.role", "s.birth_date", "s.activity", "s.valid_from", "s.valid_to")


def declarations_table(households: DataFrame, spec: SynthSpec, period: Period,
                       smic: Sequence[tuple[date, float]], seed: int) -> DataFrame:
    """Quarterly resource declarations (DTR) of RSA and PA recipients.

    A quarter has a DTR when the household is present and paid RSA or PA in one of its
    months. From the Caf's pre-filling start, the DTR carries the pre-filled amount; a few
    households correct it downward, and only some corrections are verified.
    """
    d = spec.declarations
    quarters = F.array(*[F.struct(F.lit(q).alias("quarter_start"), F.lit(m).alias("qm"))
                         for q, m in period.quarter_starts()])
    # Only a household with an RSA regime or the PA trait is ever paid either (`rsa_paid`,
    # `pa_paid`): the others are left out before their quarters are drawn.
    may_declare = households.select("*", _keep_when((F.col("rsa_regime") != "none") | F.col("pa"))).drop("kept")
    frame = may_declare.select("*", F.explode(quarters).alias("q")).select(
        "*", F.col("q.quarter_start").alias("quarter_start"), F.col("q.qm").alias("qm"))
    months = [F.col("qm") + k for k in range(3)]
    # The situation of each month of the quarter, one step at a time (see below).
    frame = frame.select("*", *[c for k, m in enumerate(months) for c in (
        ratio_in(spec, period, seed, m).alias(f"ratio_{k}"),
        children_aged(m, 0).alias(f"n_children_{k}"),
        _smic(smic, _month_date(period, m)).alias(f"smic_{k}"))])

    def paid_rsa_or_pa(k: int) -> Column:
        m, ratio, n_children = months[k], F.col(f"ratio_{k}"), F.col(f"n_children_{k}")
        rsa = rsa_paid(spec, m, ratio, n_children, F.col(f"smic_{k}"))
        pa = pa_paid(spec, period, seed, m, ratio, n_children)
        return present(m) & (rsa.isNotNull() | pa.isNotNull())

    frame = frame.select("*", _keep_when(paid_rsa_or_pa(0) | paid_rsa_or_pa(1) | paid_rsa_or_pa(2))).drop("kept")

    def u(salt: str) -> Column:
        return uniform(seed, salt, F.col("hid"), F.col("qm"))

    # One select per step: a column used several times is computed once (Spark does not
    # collapse these projections), which keeps the generated code small.
    resources = sum(F.when(present(m), F.col(f"ratio_{k}") * F.col(f"smic_{k}")).otherwise(0.0)
                    for k, m in enumerate(months))
    frame = frame.select("*", _money(resources).alias("quarter_resources"))
    random_down = u("random_down") < d.random_downward_share
    frame = frame.select(
        "*",
        F.when(F.col("quarter_start") >= F.col("prefill_start"), F.col("quarter_resources")).alias("prefilled"),
        F.when(F.col("downward_corrector"), F.col("corrector_gap")).when(
            random_down, d.random_gap_eur.min + u("random_gap") * (d.random_gap_eur.max - d.random_gap_eur.min))
         .alias("gap"))
    corrected = F.col("gap").isNotNull() & (F.coalesce(F.col("prefilled"), F.lit(0)) > 0)
    frame = frame.select("*", corrected.alias("corrected"))
    self_employed = F.col("head_activity") == "SELF_EMPLOYED"
    return frame.select(
        "household_id",
        "quarter_start",
        _money(F.when(F.col("corrected"), F.greatest(F.col("prefilled") - 3 * F.col("gap"), F.lit(0.0)))
               .otherwise(F.col("quarter_resources"))).alias("declared_eur"),
        F.col("prefilled").alias("prefilled_eur"),
        F.col("alimony").alias("alimony"),
        _money(F.when(self_employed, 0.6 * F.col("quarter_resources")).otherwise(0.0)).alias("self_employment_eur"),
        "corrected",
        (F.col("corrected") & (u("verified") < d.verified_share)).alias("verified"),
    )


def events_table(hm: DataFrame, spec: SynthSpec, seed: int, *, allowance_rate: float = 0.105,
                 proacc_rate: float = 0.12, volsoc_rate: float = 0.35) -> DataFrame:
    """Events ("faits générateurs") drawn month by month from the household's situation."""
    m = F.col("m")

    def u(salt: str) -> Column:
        return uniform(seed, salt, F.col("hid"), m)

    day = F.date_add(F.col("month"), (u("day") * 27).cast("int"))

    def event(code: Column | str, when: Column) -> Column:
        return F.when(when, F.struct((F.lit(code) if isinstance(code, str) else code).alias("code"),
                                     day.alias("event_date")))

    other_codes = spec.other_event_codes
    candidates = F.array(
        event(F.when(u("allowance_kind") < 0.5, "ABATTEMENT").otherwise("NEUTRALISATION"),
              F.col("allowance") & (u("allowance") < allowance_rate)),
        event("PROACC", F.col("proacc") & F.col("on_rsa") & (u("proacc") < proacc_rate)),
        event("VOLSOC", F.col("cmg") & (F.col("n_cmg") > 0) & (u("volsoc") < volsoc_rate)),
        event("CONLOGETU", F.col("conlogetu") & (F.month("month") == 6)),
        event(F.element_at(F.array(*[F.lit(c) for c in other_codes]),
                           (u("other_code") * len(other_codes)).cast("int") + 1),
              u("other") < spec.other_events_per_year / 12),
    )
    exploded = hm.select("household_id", F.explode(candidates).alias("e"))
    return exploded.where(F.col("e").isNotNull()).select("household_id", "e.event_date", "e.code")


def dmde_controls(households: DataFrame, spec: SynthSpec, target: Target, period: Period, seed: int) -> DataFrame:
    """Past DMDE (and other) controls, more frequent among riskier archetypes.

    The national rate (166 000 DMDE controls a year for 13.8 M households) is scaled by the
    archetype's relative risk, normalised so that the expected total keeps the national rate.
    They are not taken from lists (`target_score_month` null): their outcomes come from the
    origin's target rate (`controls.target_rate`), through the outcomes every control shares.
    """
    c = spec.controls
    weights = {n: a.weight for n, a in spec.archetypes.items()}
    mean_risk = sum(a.weight * a.dmde_risk for a in spec.archetypes.values()) / sum(weights.values())
    years = period.months / 12
    hid = F.col("hid")

    def u(salt: str) -> Column:
        return uniform(seed, salt, hid)

    p_dmde = F.least(F.lit(1.0), F.col("dmde_risk") / mean_risk * c.dmde_per_year_national
                     / c.national_households * years)
    origin = F.when(u("dmde") < p_dmde, "DMDE").when(u("other_control") < c.other_per_year_share * years, "OTHER")
    month_index = F.col("entry_m") + (u("control_month") * (F.col("exit_m") - F.col("entry_m") + 1)).cast("int")
    control_date = F.date_add(F.add_months(F.lit(period.start), month_index), (u("control_day") * 27).cast("int"))
    frame = households.select("household_id", origin.alias("origin"), control_date.alias("control_date"),
                              u("mode").alias("u_mode"))
    controls = frame.where(F.col("origin").isNotNull())
    target_rate = by_key(F.col("origin"), c.target_rate)
    found = synth_labels.with_outcomes(controls, synth_labels.is_target(target_rate, seed), spec.outcomes,
                                       target, seed)
    return found.select(
        "household_id", "control_date", "origin",
        F.when(F.col("u_mode") < c.on_site_share, "ON_SITE").otherwise("DOCUMENTS").alias("mode"),
        "overpayment_eur", "underpayment_eur", "overpayment_months", "fraud",
        F.lit(None).cast("date").alias("target_score_month"),   # drawn by archetype risk, not from a list
    )
