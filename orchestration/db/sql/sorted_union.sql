-- Union of two text arrays, sorted, without duplicates: how verification codes merge.
CREATE OR REPLACE FUNCTION public.sorted_union(a text[], b text[])
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}')
FROM unnest(coalesce(a, '{}') || coalesce(b, '{}')) AS x
$function$;
