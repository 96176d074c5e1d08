-- The property's address key from a lead's stored columns: the SQL twin of
-- orchestration.ingest.normalize.addr_hash, so an operator can look a lead up by address from psql
-- (SELECT * FROM leads WHERE addr_hash = lead_addr_hash('123 N MAIN ST APT 4B', NULL, NULL, '62704')).
-- The unit is reduced to '#<id>' (the first designator after the house number and one street word
-- starts it; APT 4B, UNIT 4B and # 4B are one unit); the key is anchored on the ZIP, and falls back
-- to the city and state only when the ZIP is missing. NULL when neither identifies the place.
CREATE OR REPLACE FUNCTION public.lead_addr_hash(address text, city text, state text, zip5 text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
SELECT sha256_hex(k.line || '|' || coalesce(nullif(zip5, ''), nullif(city, '') || '|' || nullif(state, '')))
FROM (
  SELECT CASE WHEN p.i IS NULL THEN address
              ELSE array_to_string(t.w[1:p.i - 1], ' ') || ' #'
                   || coalesce(nullif(array_to_string(t.w[p.i + 1:], ''), ''), t.w[p.i]) END AS line
  FROM (SELECT string_to_array(address, ' ') AS w) AS t
  CROSS JOIN LATERAL (
    SELECT min(u.o) AS i FROM unnest(t.w) WITH ORDINALITY AS u (x, o)
    WHERE u.o >= 3
      AND u.x = ANY(ARRAY[
        '#', 'APT', 'BLDG', 'BSMT', 'DEPT', 'FL', 'FRNT', 'HNGR', 'KEY', 'LBBY', 'LOT', 'LOWR', 'OFC', 'PH',
        'PIER', 'REAR', 'RM', 'SIDE', 'SLIP', 'SPC', 'STE', 'STOP', 'TRLR', 'UNIT', 'UPPER'
      ])
  ) AS p
  WHERE nullif(address, '') IS NOT NULL
) AS k
$function$;
