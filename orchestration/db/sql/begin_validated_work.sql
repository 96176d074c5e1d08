-- Opens validation of one upload: drops its earlier validated rows and creates this
-- transaction's work tables. Validation COPYs each normalised slice into _validated_work (a temp
-- table: no row-level security, so COPY works; gone at commit), and the in-file duplicate groups
-- it found into _validated_groups. _validated_work is shaped like leads_validated, so a lead column
-- added there flows through without touching this file.
CREATE OR REPLACE FUNCTION public.begin_validated_work(p_upload_id text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  DELETE FROM leads_validated WHERE upload_id = p_upload_id;
  DROP TABLE IF EXISTS pg_temp._validated_work, pg_temp._validated_groups;
  CREATE TEMP TABLE _validated_work (
    row_number        integer NOT NULL,
    first_name        text,
    last_name         text,
    email             text,
    phone             text,
    property_address  text,
    property_city     text,
    property_state    text,
    property_zip      text,
    property_value    numeric(14, 2),
    estimated_equity  numeric(14, 2),
    age               integer,
    owner_occupied    boolean,
    email_verified    boolean NOT NULL,
    phone_verified    boolean NOT NULL,
    email_code        text,
    phone_code        text,
    melissa_payload   jsonb NOT NULL,
    mak               text,
    apn               text,
    addr_hash         text
  ) ON COMMIT DROP;
  CREATE TEMP TABLE _validated_groups (
    row_number      integer PRIMARY KEY,
    grp             integer NOT NULL,   -- the group's lowest row number
    drop_apn        boolean NOT NULL DEFAULT false,
    drop_addr_hash  boolean NOT NULL DEFAULT false
  ) ON COMMIT DROP;
END
$function$;
