"""The vendors' eligibility columns are found under every spelling they export, and their cells
read as people write them (flags, money, dates, property types)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from orchestration.identity import flags
from orchestration.ingest import profiles

SPELLINGS = {
    "property_type": ["Property Type", "PROPERTY_TYPE", "property type", "Prop Type", "Land Use"],
    "open_mortgage_balance": ["Open Mortgage Balance", "Total Open Loans", "Est. Remaining balance of Open Loans",
                              "Mortgage Balance", "open_mortgage_balance", "Total Loan Balance"],
    "owner_birth_date": ["Owner 1 Birth Date", "Owner Birth Date", "Date of Birth", "DOB", "owner_birth_date"],
    "owner_deceased": ["Owner Deceased", "Deceased", "owner_deceased", "Owner 1 Deceased", "DECEASED FLAG"],
    "vacant": ["Vacant", "Property Vacant", "vacant_flag", "VACANCY"],
    "probate": ["Probate", "In Probate", "probate_flag"],
    "consent_certificate": ["xxTrustedFormCertUrl", "TrustedForm Cert URL", "trustedform_url", "LeadiD Token",
                            "Universal LeadiD", "Jornaya LeadiD"],
}


@pytest.mark.parametrize("profile", sorted(profiles.PROFILES))
def test_every_vendor_spelling_maps_to_its_field(profile):
    rng = random.Random(3)
    for field, names in SPELLINGS.items():
        for name in names:
            headers = ["Address", "City", "State", "Zip", name]
            rng.shuffle(headers)
            mapping, _ = profiles.map_headers(profile, headers)
            assert mapping.get(field) == name, (profile, field, name)


def test_a_generic_lead_id_column_is_not_a_consent_certificate():
    mapping, extra = profiles.map_headers("generic", ["Address", "Zip", "Lead ID"])
    assert "consent_certificate" not in mapping and "Lead ID" in extra


def test_flags_read_as_vendors_write_them():
    yes = ["Yes", "Y", "y", "TRUE", "1", " yes ", "Deceased", "DECEASED", "deceased"]
    no = ["No", "N", "false", "0"]
    unknown = ["", "maybe", "unknown", None]
    out = flags.flag(pd.Series(yes + no + unknown, dtype="string"), "DECEASED", "DECD")
    assert out.tolist()[:len(yes)] == [True] * len(yes)
    assert out.tolist()[len(yes):len(yes) + len(no)] == [False] * len(no)
    assert out.iloc[len(yes) + len(no):].isna().all()


def test_property_types_keep_one_spelling():
    out = flags.label(pd.Series(["  Single   Family Residential ", "single family residential", "", None],
                                dtype="string"))
    assert out.tolist()[:2] == ["SINGLE FAMILY RESIDENTIAL"] * 2 and out.iloc[2:].isna().all()
