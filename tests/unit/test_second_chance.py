"""Second-chance links (a misspelt street, a missing ZIP), table-driven: what links, and the
near-misses that never do."""

import pytest

from orchestration.ingest import second_chance as sc


def test_parse_splits_a_stored_line():
    assert sc.parse("123 N MAIN ST APT 4B") == sc.Line("123", "N", "MAIN", "ST", "", "4B")
    assert sc.parse("9 COUNTY ROAD 12") == sc.Line("9", "", "COUNTY ROAD 12", "", "", "")
    assert sc.parse("77 OAK DR E # C") == sc.Line("77", "", "OAK", "DR", "E", "C")
    assert sc.parse("MAIN") is None


LINKS = [  # row address, lead address, block
    ("15393 W FROEST BLVD", "15393 W FOREST BLVD", "zip"),              # transposition
    ("23462 PLEASINT CIR", "23462 PLEASANT CIR", "zip"),                # substitution
    ("18473 GROE RD", "18473 GROVE RD", "zip"),                         # deletion
    ("12313 LINCON AVE APT 2", "12313 LINCOLN AVE APT 2", "zip"),
    ("28262 E COLUMBIA PKWY", "28262 E COLUMBIA PKWY", "city"),         # no ZIP: the same line, same owner
]
NO_LINKS = [
    ("15 W FROEST BLVD", "17 W FOREST BLVD", "zip"),                    # another house number
    ("15 W FOREST BLVD APT 2", "15 W FOREST BLVD APT 3", "zip"),        # another unit
    ("15 W FOREST BLVD", "15 W FOREST BLVD APT 3", "zip"),              # the building, not the unit
    ("15 W FOREST BLVD", "15 E FOREST BLVD", "zip"),                    # directional twin
    ("15 FOREST DR", "15 FOREST CT", "zip"),                            # another suffix
    ("15 4TH ST", "15 5TH ST", "zip"),                                  # numbered streets
    ("15 HIGHWAY 12", "15 HIGHWAY 21", "zip"),
    ("15 OAK ST", "15 ELM ST", "zip"),                                  # other names
    ("15 MAPLE ST", "15 NAPLE ST", "zip"),                              # first letter differs
    ("15 PARKER ST", "15 PARKWAYS ST", "zip"),                          # too far apart
    ("15 FROEST BLVD", "15 FOREST BLVD", "city"),                       # no ZIP: only the same line
]


@pytest.mark.parametrize("row, lead, block", LINKS)
def test_links(row, lead, block):
    found = sc.links([(1, row, "L1", lead, block, "S530", "S530 J520")])
    assert list(found) == [1] and found[1][0] == "L1"


@pytest.mark.parametrize("row, lead, block", NO_LINKS)
def test_near_misses_never_link(row, lead, block):
    assert sc.links([(1, row, "L1", lead, block, "S530", "S530")]) == {}


def test_without_a_zip_another_owner_never_links():
    line = "28262 E COLUMBIA PKWY"
    assert sc.links([(1, line, "L1", line, "city", "S530", "J520")]) == {}
    assert sc.links([(1, line, "L1", line, "city", None, "J520")]) == {}


def test_a_row_two_leads_pass_is_left_alone():
    assert sc.links([(1, "15 FORET BLVD", "L1", "15 FOREST BLVD", "zip"),
                     (1, "15 FORET BLVD", "L2", "15 FORGET BLVD", "zip")]) == {}
