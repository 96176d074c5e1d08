"""Which e-mail addresses are risky to send to — pure rules over whole columns, no I/O.

A sender's reputation is spent on the addresses that bounce or complain, and three kinds do so far
more often than a person's own mailbox:

- ``role``: a mailbox of a function, not a person (``info@``, ``office@``, ``sales@``,
  ``noreply@`` ...): read by whoever is on duty, reported as spam by the one who never asked;
- ``disposable``: a throw-away domain (the ``disposable-email-domains`` package's list, kept up by
  its community; a subdomain of a listed domain counts too);
- ``vendor_risky``: the skip-trace vendor could not confirm the mailbox (its status says risky,
  catch-all / accept-all, unknown or unverifiable).

The label of each chosen and kept e-mail travels in the lead's skip-trace payload next to the
address it describes (``{"address": ..., "code": ..., "risk": "role"}``), so it follows the value
through merges; the contactable view leaves a lead out when its chosen e-mail carries one (the dbt
var ``feed_risky_emails`` lets them in).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Local parts (before '+', dots ignored) that name a function rather than a person.
ROLE_LOCAL_PARTS = frozenset("""
    abuse accounting accounts admin administrator billing booking bookings careers contact contactus
    customercare customerservice customersupport dev devnull donotreply enquiries enquiry feedback finance
    frontdesk hello help helpdesk hostmaster hr info information inquiries inquiry invoice invoices it jobs
    legal mail mailer-daemon manager marketing media news newsletter no-reply noreply nobody notifications
    office officemanager orders postmaster press privacy reception recruiting reservations root sales
    security service services shop spam staff support team webmaster welcome
""".split())

# Vendor statuses that say the mailbox could not be confirmed (lower-case, as validation compares).
VENDOR_RISKY = frozenset({"risky", "catch-all", "catchall", "catch_all", "accept-all", "accept_all",
                          "acceptall", "accept all", "catch all", "unknown", "unverifiable", "unverified"})

RISKS = ("role", "disposable", "vendor_risky")
_ROLES = pa.array(sorted(ROLE_LOCAL_PARTS), pa.string())
_VENDOR = pa.array(sorted(VENDOR_RISKY), pa.string())


@lru_cache(maxsize=1)
def _disposable() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(blocklist)


def _is_disposable(domain: str) -> bool:
    listed = _disposable()
    parts = domain.split(".")
    return any(".".join(parts[i:]) in listed for i in range(len(parts) - 1))


def classify(emails: pd.Series, codes: pd.Series) -> pd.Series:
    """Each normalised e-mail's risk (``role``, ``disposable``, ``vendor_risky``; NA when none or
    no e-mail); a role or disposable address is that, whatever the vendor said. Whole-column
    pyarrow kernels (it runs on every e-mail of every upload); the disposable list is asked once
    per distinct domain."""
    e = pa.array(emails.astype("string").array)
    local = pc.replace_substring(pc.replace_substring_regex(e, r"(\+[^@]*)?@.*$", ""), ".", "")
    domain = pc.replace_substring_regex(e, r"^[^@]*@", "")
    distinct = pc.unique(pc.drop_null(domain)).to_pylist()
    throwaway = pa.array([d for d in distinct if _is_disposable(d)], pa.string())
    code = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(codes.astype("string").array)))
    risk = pc.if_else(pc.is_in(local, value_set=_ROLES), "role",
                      pc.if_else(pc.is_in(domain, value_set=throwaway), "disposable",
                                 pc.if_else(pc.is_in(code, value_set=_VENDOR), "vendor_risky", pa.scalar(None, pa.string()))))
    out = pd.Series(pd.array(pc.if_else(pc.is_valid(e), risk, pa.scalar(None, pa.string())), dtype="string"),
                    index=emails.index)
    return out
