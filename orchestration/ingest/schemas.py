"""pandera model of a normalised lead row (the shape written to ``leads_validated``)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from orchestration.identity.normalize import STATES

HEX64 = r"^[0-9a-f]{64}$"

# Friendly text for each check, keyed by (column, check name prefix): what a person should fix.
CHECK_MESSAGES = {
    (None, "identifies_property"): "street address is missing or incomplete (a street needs its ZIP, or its "
                                   "city and state), and no MAK, or APN with its state or county, identifies the "
                                   "property",
    (None, "single_line_is_placed"): "the street cell holds a whole address, but no reading of its city, "
                                     "state and ZIP is one the USPS ZIP table knows: check the city and ZIP, "
                                     "or put them in their own columns",
    (None, "zip_is_five_digits"): "ZIP is not 5 digits (ZIP+4 is fine)",
    ("property_state", "isin"): "state is not a US state or territory code",
    ("age", "in_range"): "owner age outside 0..120",
    ("property_value", "greater_than_or_equal_to"): "property value is negative",
}


def _keyed(df: pd.DataFrame) -> pd.Series:
    """Rows a key identifies without their address: a MAK, or an APN with its state or county."""
    return df["mak"].notna() | (df["apn"].notna() & (df["property_state"].notna() | df["property_county"].notna()))


class NormalisedLead(pa.DataFrameModel):
    row_number: Series[int] = pa.Field(ge=1, unique=True)
    property_address: Series[str] = pa.Field(nullable=True, str_length={"min_value": 1})
    property_city: Series[str] = pa.Field(nullable=True, str_length={"min_value": 1})
    property_state: Series[str] = pa.Field(nullable=True, isin=sorted(STATES))
    property_zip: Series[str] = pa.Field(nullable=True, str_matches=r"^[0-9]{5}$")
    zip_given: Series[bool]
    line_unplaced: Series[bool]
    mak: Series[str] = pa.Field(nullable=True)
    property_county: Series[str] = pa.Field(nullable=True)
    apn: Series[str] = pa.Field(nullable=True)
    addr_hash: Series[str] = pa.Field(nullable=True, str_matches=HEX64)
    age: Series[pa.Int64] = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 120})
    property_value: Series[float] = pa.Field(nullable=True, ge=0)
    email: Series[str] = pa.Field(nullable=True, str_matches=r"^[^@ ]+@[^@ ]+$")
    phone: Series[str] = pa.Field(nullable=True, str_matches=r"^\+1[0-9]{10}$")

    @pa.dataframe_check
    def identifies_property(cls, df: pd.DataFrame) -> pd.Series:
        """A MAK, an APN with its state or its county (a county several states have: a stub until
        the county's APN finds its lead), or a keyed street address."""
        return _keyed(df) | df["addr_hash"].notna()

    @pa.dataframe_check
    def single_line_is_placed(cls, df: pd.DataFrame) -> pd.Series:
        """A whole address in the street cell that no reading placed is refused as such (a
        MAK, or an APN with its state or county, still identifies the row)."""
        return ~df["line_unplaced"] | _keyed(df)

    @pa.dataframe_check
    def zip_is_five_digits(cls, df: pd.DataFrame) -> pd.Series:
        """A ZIP cell that was filled must read as a ZIP (a shifted or broken row otherwise)."""
        return ~df["zip_given"] | df["property_zip"].notna()

    class Config:
        coerce = True
        strict = False


def reason_for(column: str | None, check: str) -> str:
    for (col, prefix), text in CHECK_MESSAGES.items():
        # a row-wide check (col None) is reported once per column of the row: one reason
        if (col is None or col == column) and check.startswith(prefix):
            return text
    return f"{column}: failed {check}"
