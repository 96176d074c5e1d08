"""pandera model of a normalised lead row (the shape written to ``leads_validated``)."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from orchestration.ingest.normalize import STATES

HEX64 = r"^[0-9a-f]{64}$"

# Friendly text for each check, keyed by (column, check name prefix): what a person should fix.
CHECK_MESSAGES = {
    ("property_address", "str_length"): "street address is missing",
    ("property_address", "not_nullable"): "street address is missing",
    ("property_city", "str_length"): "city is missing",
    ("property_city", "not_nullable"): "city is missing",
    ("property_state", "isin"): "state is not a US state or territory code",
    ("property_state", "not_nullable"): "state is missing",
    ("property_zip", "str_matches"): "ZIP is not 5 digits (ZIP+4 is fine)",
    ("property_zip", "not_nullable"): "ZIP is missing or not 5 digits",
    ("addr_hash", "not_nullable"): "address could not be keyed",
    ("age", "in_range"): "owner age outside 0..120",
    ("property_value", "greater_than_or_equal_to"): "property value is negative",
}


class NormalisedLead(pa.DataFrameModel):
    row_number: Series[int] = pa.Field(ge=1, unique=True)
    property_address: Series[str] = pa.Field(str_length={"min_value": 1})
    property_city: Series[str] = pa.Field(str_length={"min_value": 1})
    property_state: Series[str] = pa.Field(isin=sorted(STATES))
    property_zip: Series[str] = pa.Field(str_matches=r"^[0-9]{5}$")
    addr_hash: Series[str] = pa.Field(str_matches=HEX64)
    age: Series[pa.Int64] = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 120})
    property_value: Series[float] = pa.Field(nullable=True, ge=0)
    email: Series[str] = pa.Field(nullable=True, str_matches=r"^[^@ ]+@[^@ ]+$")
    phone: Series[str] = pa.Field(nullable=True, str_matches=r"^\+1[0-9]{10}$")

    class Config:
        coerce = True
        strict = False


def reason_for(column: str | None, check: str) -> str:
    for (col, prefix), text in CHECK_MESSAGES.items():
        if col == column and check.startswith(prefix):
            return text
    return f"{column}: failed {check}"
