"""The source tables' columns that the transforms read, as DDL strings for frames built by
hand in the tests (households carry the monitoring attributes; DATA.md has the full tables)."""

HOUSEHOLDS = ("household_id string, month date, caf string, couple boolean, guardianship boolean, "
              "resources_eur decimal(12,2), head_sex string, head_nationality string, "
              "head_birth_date date, residence string")
MEMBERS = ("household_id string, member_id string, role string, birth_date date, activity string, "
           "valid_from date, valid_to date")
PAYMENTS = "household_id string, month date, benefit string, amount_eur decimal(12,2)"
DECLARATIONS = ("household_id string, quarter_start date, declared_eur decimal(12,2), "
                "prefilled_eur decimal(12,2), alimony boolean, self_employment_eur decimal(12,2), "
                "corrected boolean, verified boolean")
EVENTS = "household_id string, event_date date, code string"
