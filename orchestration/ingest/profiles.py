"""Column profiles: how a vendor's header maps onto the canonical staging columns.

Header matching ignores case, spaces and punctuation (``Owner 1 First Name`` == ``owner_1_first_name``).
A column no profile knows is kept, untouched, in ``leads_staging.raw``. A file with no column that
identifies a property (street address, MAK or APN) fails whole, with a message that names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PHONES = 5
MAX_EMAILS = 4

PHONE_SLOTS = ["phone"] + [f"phone_{i}" for i in range(2, MAX_PHONES + 1)]
EMAIL_SLOTS = ["email"] + [f"email_{i}" for i in range(2, MAX_EMAILS + 1)]

SCALAR_FIELDS = [
    "mak", "apn", "first_name", "last_name", "property_address", "property_unit", "property_city",
    "property_state", "property_zip", "property_county", "property_value", "estimated_equity", "age",
    "owner_occupied", "litigator", "last_sale_date", *(
        # what decides whether a reverse mortgage can help (the contactable model's eligibility)
        "property_type", "open_mortgage_balance", "owner_birth_date", "owner_deceased", "vacant", "probate",
        # a consent certificate a vendor's form collected (TrustedForm, Jornaya LeadiD)
        "consent_certificate"),
]
CHANNEL_FIELDS = (
    [f"{slot}{suffix}" for slot in EMAIL_SLOTS for suffix in ("", "_code")]
    + [f"{slot}{suffix}" for slot in PHONE_SLOTS for suffix in ("", "_code", "_type", "_dnc")]
)
CANONICAL_FIELDS = SCALAR_FIELDS + CHANNEL_FIELDS
# A file needs at least one column that can identify a property: a street address (alone, as a
# single line, or with city/state/ZIP columns), a MAK, or an APN. Rows are then judged one by one.
IDENTITY_FIELDS = ("property_address", "mak", "apn")


def header_key(name: str) -> str:
    """'Owner 1 First Name' -> 'owner1firstname'; strips a UTF-8 BOM and all punctuation."""
    return re.sub(r"[^0-9a-z]", "", name.replace("\ufeff", "").lower())


def _channels(phone: str, email: str, code_words: tuple[str, ...]) -> dict[str, list[str]]:
    """Aliases for numbered phone/e-mail columns: 'Phone 1', 'Phone 1 Status', 'Phone 1 DNC' ..."""
    out: dict[str, list[str]] = {}
    for i, slot in enumerate(PHONE_SLOTS, start=1):
        out[slot] = [f"{phone}{i}"] + ([phone] if i == 1 else [])
        out[f"{slot}_code"] = [f"{phone}{i}{w}" for w in code_words] + ([f"{phone}{w}" for w in code_words] if i == 1 else [])
        out[f"{slot}_type"] = [f"{phone}{i}type"] + ([f"{phone}type"] if i == 1 else [])
        out[f"{slot}_dnc"] = [f"{phone}{i}dnc"] + ([f"{phone}dnc"] if i == 1 else [])
    for i, slot in enumerate(EMAIL_SLOTS, start=1):
        out[slot] = [f"{email}{i}"] + ([email] if i == 1 else [])
        out[f"{slot}_code"] = [f"{email}{i}{w}" for w in code_words] + ([f"{email}{w}" for w in code_words] if i == 1 else [])
    return out


_CODE_WORDS = ("status", "code", "verification", "verificationcode", "result")

# The eligibility facts and consent certificates, spelt as PropStream, BatchData, PropertyRadar and
# lead forms export them (every profile reads them).
_FACTS = {
    "property_type": ["propertytype", "proptype", "propertyusetype", "propertyuse", "landuse", "usecode",
                      "propertyclass"],
    "open_mortgage_balance": ["openmortgagebalance", "totalopenloans", "estremainingbalanceofopenloans",
                              "estimatedremainingbalanceofopenloans", "totalloanbalance", "mortgagebalance",
                              "openloanbalance", "loanbalance", "totalmortgagebalance", "estloanbalance"],
    "owner_birth_date": ["owner1birthdate", "ownerbirthdate", "owner1dateofbirth", "ownerdateofbirth", "birthdate",
                         "dateofbirth", "dob"],
    "owner_deceased": ["ownerdeceased", "owner1deceased", "deceased", "deceasedowner", "ownerisdeceased",
                       "deceasedflag"],
    "vacant": ["vacant", "propertyvacant", "vacancy", "vacantflag", "isvacant", "vacantproperty"],
    "probate": ["probate", "inprobate", "probateflag", "ownerinprobate", "probatestatus"],
    "consent_certificate": ["trustedformcerturl", "xxtrustedformcerturl", "trustedformcertificate",
                            "trustedformcert", "trustedformurl", "trustedform", "leadidtoken", "universalleadid",
                            "jornayaleadid", "jornayaleadidtoken"],
}


@dataclass(frozen=True)
class Profile:
    name: str
    aliases: dict[str, list[str]]  # canonical field -> header keys, in order of preference
    provider: str                  # verification_code_map.provider for this vendor's codes

    def resolve(self, headers: list[str]) -> tuple[dict[str, str], list[str]]:
        """Map file headers to canonical fields. Returns ({canonical: header}, unmapped headers)."""
        by_key: dict[str, str] = {}
        for h in headers:
            by_key.setdefault(header_key(h), h)
        mapping: dict[str, str] = {}
        used: set[str] = set()
        for field, keys in self.aliases.items():
            for k in keys:
                if k in by_key and by_key[k] not in used:
                    mapping[field] = by_key[k]
                    used.add(by_key[k])
                    break
        return mapping, [h for h in headers if h not in used]


PROPSTREAM = Profile(
    name="propstream",
    provider="propstream",
    aliases={
        "apn": ["apn", "parcelnumber"],
        "first_name": ["owner1firstname", "ownerfirstname", "firstname"],
        "last_name": ["owner1lastname", "ownerlastname", "lastname"],
        "property_address": ["address", "propertyaddress"],
        "property_unit": ["unit", "unitnumber", "propertyunit"],
        "property_city": ["city", "propertycity"],
        "property_state": ["state", "propertystate"],
        "property_zip": ["zip", "zipcode", "propertyzip"],
        "property_county": ["county"],
        "property_value": ["estvalue", "estimatedvalue"],
        "estimated_equity": ["estequity", "estimatedequity"],
        "age": ["owner1age", "ownerage", "age"],
        "owner_occupied": ["owneroccupied"],
        "litigator": ["litigator"],
        "last_sale_date": ["lastsalerecordingdate", "lastsaledate", "saledate"],
        **_FACTS,
        **_channels("phone", "email", _CODE_WORDS),
    },
)

BATCHDATA = Profile(
    name="batchdata",
    provider="batchdata",
    aliases={
        "mak": ["mak", "masteraddresskey", "addressmak"],
        "apn": ["apn", "parcelapn", "propertyapn"],
        "first_name": ["ownerfirstname", "owner1firstname", "firstname"],
        "last_name": ["ownerlastname", "owner1lastname", "lastname"],
        "property_address": ["propertyaddress", "propertystreet", "address", "street"],
        "property_unit": ["propertyunit", "unit"],
        "property_city": ["propertycity", "city"],
        "property_state": ["propertystate", "state"],
        "property_zip": ["propertyzip", "zip", "zipcode"],
        "property_county": ["propertycounty", "county"],
        "property_value": ["estimatedvalue", "propertyvalue"],
        "estimated_equity": ["estimatedequity", "equity"],
        "age": ["ownerage", "age"],
        "owner_occupied": ["owneroccupied"],
        "litigator": ["litigator"],
        "last_sale_date": ["lastsaledate", "saledate", "lastsalerecordingdate"],
        **_FACTS,
        **_channels("phone", "email", _CODE_WORDS),
    },
)

GENERIC = Profile(
    name="generic",
    provider="generic",
    aliases={
        "mak": ["mak", "masteraddresskey"],
        "apn": ["apn", "parcelnumber"],
        "first_name": ["firstname", "ownerfirstname"],
        "last_name": ["lastname", "ownerlastname"],
        "property_address": ["address", "propertyaddress", "streetaddress", "street"],
        "property_unit": ["unit", "propertyunit", "apartment"],
        "property_city": ["city", "propertycity"],
        "property_state": ["state", "propertystate"],
        "property_zip": ["zip", "zipcode", "postalcode", "propertyzip"],
        "property_county": ["county"],
        "property_value": ["propertyvalue", "estimatedvalue", "value"],
        "estimated_equity": ["estimatedequity", "equity"],
        "age": ["age", "ownerage"],
        "owner_occupied": ["owneroccupied"],
        "litigator": ["litigator"],
        "last_sale_date": ["lastsaledate", "saledate", "lastsalerecordingdate"],
        **_FACTS,
        **_channels("phone", "email", _CODE_WORDS),
    },
)

PROFILES = {p.name: p for p in (PROPSTREAM, BATCHDATA, GENERIC)}


class MissingColumns(ValueError):
    pass


def map_headers(profile_name: str, headers: list[str]) -> tuple[dict[str, str], list[str]]:
    """Resolve a file's headers for ``profile_name``; raise MissingColumns naming what is absent."""
    profile = PROFILES[profile_name]
    mapping, extra = profile.resolve(headers)
    if not any(f in mapping for f in IDENTITY_FIELDS):
        wanted = " or ".join(f"{f} (header like {profile.aliases[f][0]!r})" for f in IDENTITY_FIELDS
                             if f in profile.aliases)
        hint = ""
        if len(headers) == 1 and any(d in headers[0] for d in (";", "\t", "|")):
            hint = " — the header is a single column: the file does not look comma-separated"
        raise MissingColumns(f"missing required column(s) for the {profile_name} profile: no column identifies "
                             f"the property; it needs {wanted}{hint}")
    return mapping, extra
