-- Opens validation of one upload: drops its earlier validated rows and creates this
-- transaction's work tables. Validation COPYs each normalised slice into _validated_work (a temp
-- table: no row-level security, so COPY works; gone at commit), and the in-file duplicate groups
-- it found into _validated_groups. _validated_work is shaped like leads_validated (one chosen
-- verification code per channel instead of the code arrays), so a column added there needs no
-- change here.
CREATE OR REPLACE FUNCTION public.begin_validated_work(p_upload_id text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  DELETE FROM leads_validated WHERE upload_id = p_upload_id;
  DROP TABLE IF EXISTS pg_temp._validated_work, pg_temp._validated_groups;
  CREATE TEMP TABLE _validated_work (LIKE leads_validated) ON COMMIT DROP;
  ALTER TABLE _validated_work
    DROP COLUMN upload_id,
    DROP COLUMN email_verification_codes,
    DROP COLUMN phone_verification_codes,
    DROP COLUMN duplicate_rows,
    DROP COLUMN member_rows,
    ADD COLUMN email_code text,
    ADD COLUMN phone_code text;
  CREATE TEMP TABLE _validated_groups (
    row_number      integer PRIMARY KEY,
    grp             integer NOT NULL,   -- the group's lowest row number
    drop_apn        boolean NOT NULL DEFAULT false,
    drop_addr_hash  boolean NOT NULL DEFAULT false,
    drop_owner      boolean NOT NULL DEFAULT false   -- another owner than the group's: lineage only
  ) ON COMMIT DROP;
END
$function$;
