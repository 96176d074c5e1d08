-- Whether a lead's e-mail, phone or address is on the suppression list, in one place: the
-- contactable model and the feeder's pick both call it. A person suppressed on one channel is
-- suppressed on every lead that shares that channel. Do-Not-Call entries (dnc_federal,
-- dnc_internal) bar calls to that phone only: the phone is left out of exports and pushes, but the
-- lead may still be e-mailed. The table is schema-qualified: the body is inlined into callers whose
-- search_path is another schema (dbt builds the contactable model in analytics). It takes the
-- blind indexes of the lead's e-mail and phone (pii_index: the warehouse holds no value) and its
-- address hash.
CREATE OR REPLACE FUNCTION public.lead_is_suppressed(p_email text, p_phone text, p_addr_hash text)
 RETURNS boolean
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
SELECT EXISTS (SELECT 1 FROM public.suppressions s WHERE s.channel = 'email' AND s.value = p_email)
    OR EXISTS (SELECT 1 FROM public.suppressions s WHERE s.channel = 'address' AND s.value = p_addr_hash)
    OR EXISTS (SELECT 1 FROM public.suppressions s WHERE s.channel = 'phone' AND s.value = p_phone
                 AND s.reason NOT IN ('dnc_federal', 'dnc_internal'))
$function$;
