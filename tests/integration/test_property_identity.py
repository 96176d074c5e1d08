"""One property, one lead: keys that find the same property however it is written, rows keyed
without an address, newer data winning over re-runs, the lineage of every lead, and the re-keying
of existing leads when the rules change."""

import json

import psycopg

from orchestration.ingest import pipeline
from tests.support.stack import opened
from tests.support.merges import COLS, ingest, land_and_validate, lead


def rerunnable(ctx, upload_id):
    """An upload whose merge a test runs again by itself (a backfill of the merge alone): its work
    rows stay past the merge (else a re-run re-stages the whole partition from the landed file)."""
    ctx.keep_work_rows_hours = 1
    return ctx, upload_id


def sources(db, lead_id):
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT upload_id, row_number FROM lead_sources WHERE lead_id = %s "
                            "ORDER BY received_at, row_number", (lead_id,)).fetchall()


def test_an_older_upload_rerun_never_rolls_back_newer_values(db):
    ctx_a, upload_a = rerunnable(*land_and_validate(
        db, (COLS + "M1,,1 Main St,Town,CA,90210,Ann,70,a@example.com,valid,,,,\n").encode()))
    pipeline.merge(ctx_a, upload_a)
    ingest(db, ["M1,,1 Main St,Town,CA,90210,Annie,,b@example.com,valid,,,,"])
    newest = lead(db)[0]
    assert newest["first_name"] == "Annie" and newest["email"] == "b@example.com" and newest["age"] == 70
    counts = pipeline.merge(ctx_a, upload_a).counts          # the older upload again (a re-run or a backfill)
    after = lead(db)[0]
    assert counts["updated"] == 0
    assert {k: after[k] for k in ("first_name", "email", "age", "last_seen_at", "updated_at")} == \
        {k: newest[k] for k in ("first_name", "email", "age", "last_seen_at", "updated_at")}


def test_an_older_upload_still_fills_what_is_empty(db):
    ctx_a, upload_a = land_and_validate(db, (COLS + "M2,,2 Main St,Town,CA,90210,Bo,71,,,,,,\n").encode())
    ingest(db, ["M2,,2 Main St,Town,CA,90210,Bob,,,,,,,"])
    pipeline.merge(ctx_a, upload_a)
    row = lead(db)[0]
    assert row["first_name"] == "Bob" and row["age"] == 71


def test_every_input_row_is_traced_to_its_lead(db):
    ctx, uid = rerunnable(*land_and_validate(db, (COLS + "M3,,3 Main St,Town,CA,90210,Cy,,,,,,,\n"
                                      ",,9 Oak St,Town,CA,90210,Di,,,,,,,\n"
                                      "M3,,3 Main Street,Town,CA,90210,Cyrus,,,,,,,\n"          # in-file duplicate
                                      ",,3 MAIN ST,TOWN,CA,90210,,,,,,,,\n").encode()))         # and by address
    pipeline.merge(ctx, uid)
    by_mak = lead(db, "mak = 'M3'")[0]
    oak = lead(db, "mak IS NULL")[0]
    assert sources(db, by_mak["id"]) == [(uid, 1), (uid, 3), (uid, 4)]
    assert sources(db, oak["id"]) == [(uid, 2)]
    second = ingest(db, ["M3,,3 Main St,Town,CA,90210,,,,,,,,"])
    assert second["inserted"] == 0 and len(sources(db, by_mak["id"])) == 4
    pipeline.merge(ctx, uid)                                   # a re-run writes no new lineage
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM lead_sources").fetchone()[0] == 5


def test_alternate_city_name_and_city_typo_find_the_same_lead(db):
    ingest(db, [",,10 Elm St,Los Angeles,CA,90028,Al,,,,,,,"])
    counts = ingest(db, [",,10 Elm Street,Hollywood,CA,90028,,,,,,,,", ",,10 ELM ST,Los Angelos,CA,90028,,,,,,,,"])
    assert counts["inserted"] == 0 and len(lead(db)) == 1


APN_COLS = "apn,property_address,property_city,property_state,property_zip,property_county,owner_first_name\n"


def test_apn_leading_zeros_find_the_same_lead_within_its_county(db):
    def upload(*rows):
        ctx, uid = land_and_validate(db, (APN_COLS + "\n".join(rows) + "\n").encode())
        return pipeline.merge(ctx, uid).counts

    upload("06-41-123,1 Ranch Rd,Fresno,CA,93650,,")                        # the county from the ZIP
    counts = upload("6-41-123,,,CA,,Fresno County,Ed")                      # an APN, its state and county
    assert counts["inserted"] == 0 and lead(db)[0]["first_name"] == "Ed" and lead(db)[0]["apn"] == "641123"
    assert lead(db)[0]["property_county"] == "FRESNO"
    # the same number in another county of the state is another parcel; without a county (or a
    # ZIP that tells it) a record cannot say which parcel it is, and stays apart
    counts = upload("641123,9 Vine St,Visalia,CA,93291,Tulare,Flo", "641123,,,CA,,,Gus")
    assert counts["inserted"] == 2 and len(lead(db)) == 3


def test_a_key_only_row_merges_into_its_lead_or_waits_uncontactable(db):
    ingest(db, ["M5,,5 Main St,Town,CA,90210,,,,,,,,"])
    counts = ingest(db, ["M5,,,,,,Eve,,eve@example.com,valid,,,,", "M6,,,,,,Fay,,fay@example.com,valid,,,,"])
    assert counts["inserted"] == 1 and counts["updated"] == 1
    assert lead(db, "mak = 'M5'")[0]["first_name"] == "Eve"
    fay = lead(db, "mak = 'M6'")[0]
    assert fay["property_address"] is None and fay["addr_hash"] is None
    counts = ingest(db, ["M6,,6 Main St,Town,CA,90210,,,,,,,,"])            # the address arrives later
    assert counts["updated"] == 1 and lead(db, "mak = 'M6'")[0]["property_address"] == "6 MAIN ST"


def test_a_single_line_address_is_split_and_keyed(db):
    ingest(db, [',,"14336 silva st, royalton, mn 56373",,,,Gus,,,,,,,'])
    row = lead(db)[0]
    assert (row["property_address"], row["property_city"], row["property_state"], row["property_zip"]) == \
        ("14336 SILVA ST", "ROYALTON", "MN", "56373")
    assert ingest(db, [",,14336 Silva Street,Royalton,MN,56373,,,,,,,,"])["inserted"] == 0


def test_a_lead_without_an_address_is_not_contactable_until_one_arrives(db, defs, instance):
    from tests.support.stack import refresh_view

    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO brokers (company_name, license_states, territory_zip_codes) "
                     "VALUES ('West', '{CA}', '{90210}')")
    ingest(db, ["M7,,,Beverly Hills,CA,90210,Gil,,gil@example.com,deliverable,,,,"])
    assert lead(db)[0]["assigned_broker_id"] is not None and lead(db)[0]["email_verified"]
    refresh_view(db, defs, instance)
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0] == 0
    ingest(db, ["M7,,7 Palm Dr,Beverly Hills,CA,90210,,,,,,,,"])
    refresh_view(db, defs, instance)
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0] == 1


OWNER_COLS = "mak,property_address,property_city,property_state,property_zip,owner_first_name,owner_last_name," \
             "email_1,email_1_status,phone_1,phone_1_status,last_sale_date\n"


def owner_upload(db, *rows: str):
    return rerunnable(*land_and_validate(db, (OWNER_COLS + "\n".join(rows) + "\n").encode()))


def history(db):
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT first_name, last_name, email, phone FROM lead_owner_history ORDER BY id").fetchall()
    return [(r[0], r[1], opened({"email": r[2]})["email"], opened({"phone": r[3]})["phone"]) for r in rows]


def test_a_new_owner_replaces_the_old_one_and_the_campaign_starts_over(db):
    ctx_old, old_upload = owner_upload(db, "M1,1 Main St,Town,CA,90210,Ann,Smith,ann@example.com,deliverable,"
                                           "(415) 555-0100,connected,")
    pipeline.merge(ctx_old, old_upload)
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE leads SET campaign_status = 'active', consent = true, consented_at = now(), "
                     "broker_notes = 'called Ann'")
    ctx, uid = owner_upload(db, "M1,1 Main St,Town,CA,90210,Bob,Jones,bob@example.com,,,,3/4/2026")
    pipeline.merge(ctx, uid)
    row = lead(db)[0]
    assert (row["first_name"], row["last_name"], row["email"], row["phone"]) == ("Bob", "Jones", "bob@example.com", None)
    assert not row["email_verified"] and not row["phone_verified"] and row["email_verification_codes"] == []
    assert row["campaign_status"] == "new" and not row["consent"] and row["broker_notes"] is None
    assert row["melissa_payload"]["emails"][0]["address"] == "bob@example.com" and "phones" not in row["melissa_payload"] \
        or row["melissa_payload"]["phones"] == []
    assert history(db) == [("Ann", "Smith", "ann@example.com", "+14155550100")]
    with psycopg.connect(db) as conn:
        events = conn.execute("SELECT count(*) FROM pipeline_events WHERE event_type = 'owner_changed'").fetchone()[0]
    assert events == 1
    # the previous owner's older list again: it changes no owner field and fills none of Bob's gaps
    pipeline.merge(ctx_old, old_upload)
    again = lead(db)[0]
    assert (again["first_name"], again["email"], again["phone"]) == ("Bob", "bob@example.com", None)
    assert len(history(db)) == 1


def test_same_household_trusts_and_misspellings_are_not_owner_changes(db):
    ingest_rows = ["M2,2 Main St,Town,CA,90210,John,Smith,john@example.com,deliverable,,,",
                   ]
    ctx, uid = owner_upload(db, *ingest_rows)
    pipeline.merge(ctx, uid)
    for first, last in [("Mary", "Smith"), ("", "Smith Family Trust"), ("John", "Smyth"), ("", "Estate of John Smith"),
                        ("John & Mary", "Smith-Jones"), ("", "")]:
        ctx, uid = owner_upload(db, f"M2,2 Main St,Town,CA,90210,{first},{last},other@example.com,risky,,,")
        pipeline.merge(ctx, uid)
        assert lead(db)[0]["email"] == "john@example.com", (first, last)     # verified kept: the same owner
    assert history(db) == []


def test_two_owners_of_one_property_in_one_file_the_newer_sale_names_the_owner(db):
    ctx, uid = owner_upload(db, "M3,3 Main St,Town,CA,90210,Cy,Old,cy@example.com,deliverable,,,1/2/2015",
                            "M3,3 Main St,Town,CA,90210,Di,New,di@example.com,deliverable,,,6/7/2024",
                            "M4,4 Main St,Town,CA,90210,Ed,First,ed@example.com,deliverable,,,",
                            "M4,4 Main St,Town,CA,90210,Flo,Second,flo@example.com,deliverable,,,")
    pipeline.merge(ctx, uid)
    owners = {r["mak"]: (r["first_name"], r["email"]) for r in lead(db)}
    assert owners == {"M3": ("Di", "di@example.com"), "M4": ("Ed", "ed@example.com")}
    with psycopg.connect(db) as conn:
        reported = conn.execute("SELECT count(*) FROM pipeline_dlq WHERE reason LIKE '%%another owner%%'"
                                " OR payload::text LIKE '%%another owner%%'").fetchone()[0]
        reported += conn.execute("SELECT count(*) FROM pipeline_events WHERE details::text LIKE '%%another owner%%'"
                                 ).fetchone()[0]
    assert reported >= 1
    assert sorted(sources(db, lead(db, "mak = 'M3'")[0]["id"])) == [(uid, 1), (uid, 2)]


def test_equity_lead_show_prints_a_lead_its_sources_and_previous_owners(db, monkeypatch, capsys):
    from orchestration import cli

    ctx, first = owner_upload(db, "M9,9 Main St,Town,CA,90210,Ann,Smith,ann@example.com,deliverable,,,")
    pipeline.merge(ctx, first)
    ctx, second = owner_upload(db, "M9,9 Main Street,Town,CA,90210,Bob,Jones,bob@example.com,,,,")
    pipeline.merge(ctx, second)
    lead_id = str(lead(db)[0]["id"])
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    capsys.readouterr()
    assert cli.main(["lead", "show", lead_id]) == 0
    out = capsys.readouterr().out
    assert "Bob" in out and "9 MAIN ST" in out
    assert f"{first}  row 1" in out and f"{second}  row 1" in out
    assert "previous owners (1)" in out and "Ann Smith" in out
    # the operator sees the e-mails opened, and the look is recorded (never the values)
    assert "bob@example.com" in out and "ann@example.com" in out and "enc1." not in out
    with psycopg.connect(db) as conn:
        [(details,)] = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'pii_decrypted'").fetchall()
    assert details["purpose"] == "equity lead show" and details["values"] == 2 and "@" not in json.dumps(details)
    assert cli.main(["lead", "show", "--upload", second, "--row", "1"]) == 0
    assert lead_id in capsys.readouterr().out
    assert cli.main(["lead", "show", lead_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lead"]["id"] == lead_id and doc["lead"]["email"] == "bob@example.com" and not doc["sealed"]
    assert [s["upload_id"] for s in doc["sources"]] == [first, second]
    assert [(o["first_name"], o["email"]) for o in doc["previous_owners"]] == [("Ann", "ann@example.com")]
    assert cli.main(["lead", "show", "--upload", second, "--row", "7"]) == 1
    assert "became no lead" in capsys.readouterr().err
    assert cli.main(["lead", "show", "not-a-uuid"]) == 2
    assert cli.main(["lead", "show"]) == 2


def test_a_misspelt_street_links_to_its_lead_but_never_across_house_numbers_or_units(db):
    ingest(db, [",,15393 W Forest Blvd,Farwell,MN,56327,Kevin,,,,,,,",
                ",,200 Oak St Apt 2,Farwell,MN,56327,Lou,,,,,,,"])
    counts = ingest(db, [",,15393 West Froest Boulevard,Farwell,MN,56327,,,,,,,,",   # a typo: linked
                         ",,15395 W Froest Blvd,Farwell,MN,56327,,,,,,,,",           # another house
                         ",,200 Oak St Apt 3,Farwell,MN,56327,,,,,,,,",              # another unit
                         ",,15393 E Forest Blvd,Farwell,MN,56327,,,,,,,,"])          # a directional twin
    assert counts["second_chance_links"] == 1 and counts["inserted"] == 3
    with psycopg.connect(db) as conn:
        linked = conn.execute("SELECT l.property_address FROM pipeline_events e JOIN leads l ON l.id = e.lead_id "
                              "WHERE e.event_type = 'second_chance_link'").fetchall()
    assert linked == [("15393 W FOREST BLVD",)]


def test_a_sold_propertys_lead_is_fed_once_to_each_owner(db, defs, instance):
    from tests.support.stack import refresh_view, run_job

    def feed(day):
        assert run_job(defs, instance, "campaign_feed_job", day).success
        with psycopg.connect(db) as conn:
            return [(opened({"email": e})["email"],) for (e,) in conn.execute(
                "SELECT l.email FROM campaign_batch_leads f JOIN campaign_batches b ON b.id = f.batch_id"
                " JOIN leads l ON l.id = f.lead_id WHERE f.feed_date = %s", (day,)).fetchall()]

    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO brokers (company_name, license_states, territory_zip_codes) "
                     "VALUES ('West', '{CA}', '{90210}')")
    ctx, uid = owner_upload(db, "M1,1 Main St,Town,CA,90210,Ann,Smith,ann@example.com,deliverable,,,")
    pipeline.merge(ctx, uid)
    refresh_view(db, defs, instance)
    assert feed("2026-03-06") == [("ann@example.com",)]
    refresh_view(db, defs, instance)
    assert feed("2026-03-09") == []  # the same owner is never fed twice
    ctx, uid = owner_upload(db, "M1,1 Main St,Town,CA,90210,Bob,Jones,bob@example.com,deliverable,,,3/4/2026")
    pipeline.merge(ctx, uid)
    assert lead(db)[0]["campaign_status"] == "new"
    refresh_view(db, defs, instance)
    assert feed("2026-03-10") == [("bob@example.com",)]  # the new owner is
    refresh_view(db, defs, instance)
    assert feed("2026-03-11") == []
    with psycopg.connect(db) as conn:
        feeds = conn.execute("SELECT count(*), count(DISTINCT owner_since) FROM campaign_batch_leads").fetchone()
        pushes_key = conn.execute("SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i"
                                  " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                                  " WHERE i.indrelid = 'campaign_pushes'::regclass AND i.indisprimary").fetchone()[0]
    assert feeds == (2, 1)  # Ann's feed predates any recorded sale (NULL), Bob's names his owner_since
    assert pushes_key == ["batch_id", "lead_id"]


# -- lists nobody here wrote: single lines without commas, typos inside one file, parcel rows
#    that name their county but not their state --------------------------------------------------

COMMA_LESS = [
    # a row whose whole address is in the street cell, and the same property as a vendor writes it
    ("14846 park road ridgeland wi 54763", "14846 Park Rd,Ridgeland,WI,54763"),
    ("186 w hickory dr florham park nj", "186 W Hickory Drive,Florham Park,NJ,07932"),
    ("6610 marshall drive 6c fortson ga 31808", "6610 Marshall Dr #6C,Fortson,GA,31808"),
    ("90 Mckinney Ave Apartment 5 Saucier MS 39574", "90 MCKINNEY AVE APT 5,SAUCIER,MS,39574"),
    ("87 Indian Hills Circle Pe Ell WA 98572", "87 Indian Hills Cir,Pe Ell,WA,98572-1234"),
    ("5023 Wilnut Ave Unit F Alcova WY 82620-7482", "5023 Wilnut Avenue # F,Alcova,WY,82620"),
    ("6052 west saunders road, gillette, wyoming 82718", "6052 W SAUNDERS RD,GILLETTE,WY,82718-6246"),
]


def test_single_lines_of_every_shape_find_the_vendor_row_of_their_property(db):
    ingest(db, [f',,"{line}",,,,Ann,,,,,,,' for line, _ in COMMA_LESS])
    assert len(lead(db)) == len(COMMA_LESS)
    counts = ingest(db, [f",,{row},Ann,,,,,,," for _, row in COMMA_LESS])
    assert counts["inserted"] == 0 and len(lead(db)) == len(COMMA_LESS)


def test_a_single_line_no_reading_places_is_refused_with_its_reason(db):
    good = "".join(f",,{n} Elm St,Town,CA,90210,Bo,,,,,,,\n" for n in range(1, 7))
    ctx, uid = land_and_validate(db, (COLS + ',,"12 Oak Dr Zzyzxville FL 33999",,,,Ann,,,,,,,\n' + good).encode())
    pipeline.merge(ctx, uid)
    with psycopg.connect(db) as conn:
        reasons = [r[0] for r in conn.execute("SELECT reason FROM pipeline_dlq WHERE payload->>'upload_id' = %s",
                                              (uid,)).fetchall()]
    assert len(reasons) == 1 and "no reading of its city, state and ZIP" in reasons[0]
    assert [r["first_name"] for r in lead(db)] == ["Bo"] * 6


TYPO_TWINS = [
    ("6052 W SAUNDERS RD", "6052 W SAUNERS RD", "GILLETTE,WY,82718"),
    ("28775 Lawson Ave Apt 7c", "28775 Lawsoon Ave # 7C", "Lumberton,MS,39455"),
    ("410 Sunset Blvd", "410 Sunseet Blvd", "Cody,WY,82414"),
]


def test_two_rows_of_one_file_a_typo_apart_are_one_lead_and_near_misses_stay_apart(db):
    rows = []
    for a, b, place in TYPO_TWINS:
        rows += [f",,{a},{place},Ann,,,,,,,", f",,{b},{place},Ann,,,,,,,"]
    # same ZIP and number, but another unit, another directional, another owner: three properties
    rows += [",,410 Sunset Blvd Apt 2,Cody,WY,82414,Ann,,,,,,,", ",,410 E Sunset Blvd,Cody,WY,82414,Ann,,,,,,,"]
    counts = ingest(db, rows)
    assert counts["inserted"] == len(TYPO_TWINS) + 2
    with psycopg.connect(db) as conn:
        per_lead = [r[0] for r in conn.execute("SELECT count(*) FROM lead_sources GROUP BY lead_id "
                                               "ORDER BY 1 DESC").fetchall()]
    assert per_lead == [2, 2, 2, 1, 1]


def test_a_parcel_row_naming_its_county_but_no_state_finds_its_lead(db):
    # CAROLINE is a county of Virginia and of Maryland: the name alone does not place the row
    ingest(db, [",3054-051-855,12 Ladysmith Rd,Ruther Glen,VA,22546,Ann,,,,,,,"])
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE leads SET property_county = 'CAROLINE'")
    body = ("mak,apn,property_county,owner_first_name\n" ",3054051855,CAROLINE,Ann\n").encode()
    ctx, uid = land_and_validate(db, body)
    counts = pipeline.merge(ctx, uid).counts
    assert counts["inserted"] == 0 and counts["second_chance_links"] == 1 and len(lead(db)) == 1
    # in one file: the address row and the county-only row of the same parcel
    ctx, uid = land_and_validate(db, ("mak,apn,property_address,property_city,property_state,property_zip,"
                                      "property_county,owner_first_name\n"
                                      ",777-1,5 Bowling Green Rd,Bowling Green,VA,22427,Caroline County,Bo\n"
                                      ",7771,,,,,CAROLINE,Bo\n").encode())
    assert pipeline.merge(ctx, uid).counts["inserted"] == 1 and len(lead(db)) == 2


def test_a_unitless_record_of_another_owner_at_a_building_with_units_is_another_unit_not_a_sale(db):
    first = [",12 Oak St Apt 1,Town,CA,90210,Ann,Smith,,,,,", ",12 Oak St Apt 2,Town,CA,90210,Bo,Jones,,,,,",
             ",12 Oak St,Town,CA,90210,Cy,Smith,,,,,",            # unit dropped: the building's unit-less lead
             ",9 Elm St,Town,CA,90210,Di,Smith,,,,,"]             # a house
    pipeline.merge(*owner_upload(db, *first))
    assert len(lead(db)) == 4
    ctx, uid = owner_upload(db, ",12 OAK STREET,Town,CA,90210,Ed,Brown,,,,,",   # another unit, its unit dropped
                            ",9 Elm Street,Town,CA,90210,Flo,Brown,,,,,")       # a sale of the house
    counts = pipeline.merge(ctx, uid).counts
    assert counts["units_held_back"] == 1 and counts["inserted"] == 1
    by_name = {r["first_name"]: r for r in lead(db)}
    assert by_name["Cy"]["last_name"] == "Smith" and by_name["Ed"]["addr_hash"] is None
    assert by_name["Ed"]["property_address"] == "12 OAK ST" and "Di" not in by_name and by_name["Flo"]
    with psycopg.connect(db) as conn:
        rules = [r[0] for r in conn.execute("SELECT details->>'rule' FROM pipeline_events "
                                            "WHERE event_type = 'dedupe_conflict' AND upload_id = %s", (uid,))]
        sales = conn.execute("SELECT count(*) FROM pipeline_events WHERE event_type = 'owner_changed'").fetchone()[0]
    assert rules == ["a unit-less record of another owner at a building with unit leads: another unit, not a sale"]
    assert sales == 1
    # the same upload again (a re-run of its merge in full): its row finds the lead it became, nothing new
    ctx.reprocess = True
    again = pipeline.merge(ctx, uid).counts
    assert again["inserted"] == 0 and len(lead(db)) == 5
    # the same owner at the building's unit-less address is the same lead, as before
    assert ingest(db, [",,12 Oak St,Town,CA,90210,Cy,,,,,,,"])["inserted"] == 0


def test_filling_a_stubs_state_never_moves_its_apn_onto_another_leads_scope(db):
    header = "mak,apn,property_address,property_city,property_state,property_zip,property_county,owner_first_name\n"

    def upload(row):
        ctx, uid = land_and_validate(db, (header + row + "\n").encode())
        return pipeline.merge(ctx, uid).counts

    upload("M77,5550001,,,,,WASHINGTON,Ann")        # a county of many states: a stub without a state
    upload(",555-0001,,,OR,,Washington County,Ann")   # the same number with its state: another stub
    counts = upload("M77,5550001,9 Main St,Beaverton,OR,97005,WASHINGTON,Ann")
    assert counts["conflicts"] >= 1
    with psycopg.connect(db) as conn:
        scopes = conn.execute("SELECT apn, property_state, property_county FROM leads WHERE apn IS NOT NULL "
                              "ORDER BY property_state NULLS FIRST").fetchall()
    assert scopes == [("5550001", None, "WASHINGTON"), ("5550001", "OR", "WASHINGTON")]


def test_a_lead_made_without_its_zip_meets_the_record_that_has_it_and_only_its_owners(db):
    header = "mak,apn,property_address,property_city,property_state,property_zip,owner_first_name,owner_last_name\n"

    def upload(*rows):
        ctx, uid = land_and_validate(db, (header + "\n".join(rows) + "\n").encode())
        return pipeline.merge(ctx, uid).counts

    # Cedar Rapids has many ZIPs: a record without one is keyed by its city and state
    upload(",,1640 3rd Avenue SE,Cedar Rapids,IA,,Katherine,Price", ",,22 Oak St,Cedar Rapids,IA,,Ann,Lee")
    counts = upload(",,1640 3RD AVE SE,CEDAR RAPIDS,IA,52403,Kate,Price",     # its ZIP, the same owner
                    ",,22 Oak St,Cedar Rapids,IA,52402,Bo,Smith")             # its ZIP, another owner
    assert counts["second_chance_links"] == 1 and counts["inserted"] == 1
    assert len(lead(db)) == 3
    assert lead(db, "last_name = 'Price'")[0]["property_zip"] == "52403"      # the ZIP filled in
