"""The codes of the source tables and their vocabularies (DATA.md), defined once.

The model file names its own modality codes; these are the codes of the *sources*: what a
member's role or activity may be, which benefits are paid, which events and controls
exist. The quality suites (`expectations/`), the variables (`transforms/features.py`) and
the generator (`transforms/synth.py`) all read them from here.
"""
from __future__ import annotations

# The Caf codes: the départements of metropolitan France (Corsica as 2A/2B) and the five
# overseas départements (DROM).
DROM_CAFS: tuple[str, ...] = ("971", "972", "973", "974", "976")
CAF_CODES: tuple[str, ...] = (
    *(f"{n:02d}" for n in range(1, 20)), "2A", "2B", *(f"{n:02d}" for n in range(21, 96)), *DROM_CAFS,
)

ROLES = ("HEAD", "PARTNER", "CHILD")
ADULTS = ("HEAD", "PARTNER")
ACTIVITIES = ("EMPLOYED", "SELF_EMPLOYED", "STUDENT", "UNEMPLOYED", "RETIRED", "INACTIVE",
              "APPRENTICE", "TRAINEE", "SCHOOL", "UNKNOWN")
WORKING = ("EMPLOYED", "SELF_EMPLOYED")
UNKNOWN_ACTIVITY = "UNKNOWN"  # "no activity recorded" (DMDE.md §3, Members)

BENEFITS = ("AF", "CF", "PA", "RSA", "AL", "AAH", "AEEH", "ASF", "PAJE", "CMG", "OTHER")

# Events ("faits générateurs") the variables count; other codes are allowed and ignored.
ALLOWANCE_EVENTS = ("ABATTEMENT", "NEUTRALISATION")
COUNTED_EVENTS = ("CONLOGETU", "PROACC", "VOLSOC")
EVENT_CODE_PATTERN = r"^[A-Z_]+$"

ORIGINS = ("DMDE", "OPBD", "OTHER")  # OPBD: the random-control sample
MODES = ("ON_SITE", "DOCUMENTS")

# Monitoring-only attributes of the households snapshot (never model inputs).
SEXES = ("F", "M")
NATIONALITIES = ("FR", "EU", "NON_EU")
RESIDENCES = ("URBAN", "PERIURBAN", "RURAL")

# Money is in euros as decimal(12,2) (DATA.md).
MONEY_DIGITS = (12, 2)
MONEY = "decimal({},{})".format(*MONEY_DIGITS)
