-- How far a campaign status has gone, so out-of-order events only ever move a lead forward: a
-- reply arriving after an unsubscribe leaves it unsubscribed, a booking after a bounce leaves it
-- bounced. Suppressing statuses rank highest.
CREATE OR REPLACE FUNCTION public.status_rank(s campaign_status)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
SELECT CASE s WHEN 'replied' THEN 1 WHEN 'converted' THEN 2 WHEN 'bounced' THEN 3
              WHEN 'unsubscribed' THEN 4 WHEN 'do_not_contact' THEN 5 ELSE 0 END
$function$;
