"""Vendor flag and category columns: Yes/No flags whose column word also means yes, and category
text (a property type) in one canonical spelling."""

from __future__ import annotations

import pandas as pd

from orchestration.identity.normalize import per_distinct, yes_no


def flag(text: pd.Series, *true_words: str) -> pd.Series:
    """A vendor's Yes/No flag column, where the column's own word also means yes (a ``Deceased``
    column holding ``Deceased``, a ``Vacant`` column holding ``Vacant``); blank or unknown -> NA."""
    out = yes_no(text)
    if true_words:
        s = text.fillna("").astype(str).str.strip().str.upper().str.replace(r"\s+", " ", regex=True)
        out = out.mask(s.isin(true_words), True)
    return out


@per_distinct
def label(text: pd.Series) -> pd.Series:
    """A vendor's category text (a property type): upper case, spaces collapsed; blank -> NA."""
    s = text.fillna("").astype(str).str.upper().str.replace(r"\s+", " ", regex=True).str.strip()
    return s.where(s.ne("")).astype("string")
