-- Stores one signed inbound event and applies it in the same transaction. A repeated
-- (source, webhook id) changes nothing and returns applied = false. The event's person is the
-- lead it names and every lead sharing its e-mail (or its phone, when it names neither):
--   reply        replied (if not further along), last_reply_at; a reply that revokes consent
--                (data.revoked, set by orchestration.events.revocation: "stop" however it is said,
--                or labelled not-interested / wrong person) suppresses every e-mail and phone of
--                the person's leads (reason revoked), withdraws their consent, and unsubscribes them
--   unsubscribe  an e-mail (and phone) suppression; unsubscribed
--   complaint    likewise, reason complaint
--   bounce       hard: an e-mail suppression; bounced. soft (p_soft): stored only
--   booked       converted
-- Statuses only move forward (status_rank), so events arriving out of order never undo a
-- suppression; an event for an e-mail no lead has is stored and still suppresses.
-- The e-mail and phone arrive sealed (orchestration.pii): leads are matched and suppressions
-- recorded by their blind indexes (pii_index), never by value.
CREATE OR REPLACE FUNCTION public.apply_lead_event(p_source text, p_webhook_id text, p_type text, p_occurred_at timestamp with time zone, p_email text, p_phone text, p_lead_id uuid, p_soft boolean, p_data jsonb)
 RETURNS TABLE(applied boolean, event_id bigint, leads_matched integer)
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_email text := p_email;
  v_phone text := p_phone;
  v_leads uuid[];
  v_event bigint;
  v_status campaign_status;
  v_revoked boolean := p_type = 'reply' AND coalesce(p_data ->> 'revoked', '') <> '';
BEGIN
  IF p_lead_id IS NOT NULL THEN
    SELECT coalesce(v_email, l.email), coalesce(v_phone, l.phone) INTO v_email, v_phone
    FROM leads l WHERE l.id = p_lead_id;
  END IF;
  SELECT coalesce(array_agg(l.id), '{}') INTO v_leads FROM leads l
  WHERE l.id = p_lead_id
     OR (v_email IS NOT NULL AND pii_index(l.email) = pii_index(v_email))
     OR (v_email IS NULL AND p_lead_id IS NULL AND v_phone IS NOT NULL AND pii_index(l.phone) = pii_index(v_phone));

  INSERT INTO lead_events (source, webhook_id, type, occurred_at, lead_id, email, phone, leads_matched, data)
  VALUES (p_source, p_webhook_id, p_type, p_occurred_at,
          CASE WHEN p_lead_id = ANY (v_leads) THEN p_lead_id ELSE v_leads[1] END,
          v_email, v_phone, cardinality(v_leads), coalesce(p_data, '{}'))
  ON CONFLICT (source, webhook_id) DO NOTHING
  RETURNING id INTO v_event;
  IF v_event IS NULL THEN
    RETURN QUERY SELECT false, NULL::bigint, 0;
    RETURN;
  END IF;

  IF p_type IN ('unsubscribe', 'complaint') OR (p_type = 'bounce' AND NOT p_soft) THEN
    INSERT INTO suppressions (channel, value, reason, source)
    SELECT c.channel, pii_index(c.value), p_type, p_source
    FROM (VALUES ('email', v_email), ('phone', CASE WHEN p_type = 'bounce' THEN NULL ELSE v_phone END)) AS c (channel, value)
    WHERE pii_index(c.value) IS NOT NULL
    ON CONFLICT DO NOTHING;
  END IF;

  IF v_revoked THEN
    INSERT INTO suppressions (channel, value, reason, source)
    SELECT DISTINCT c.channel, pii_index(c.value), 'revoked', p_source
    FROM (SELECT 'email', v_email
          UNION ALL SELECT 'phone', v_phone
          UNION ALL SELECT 'email', l.email FROM leads l WHERE l.id = ANY (v_leads)
          UNION ALL SELECT 'phone', l.phone FROM leads l WHERE l.id = ANY (v_leads)) AS c (channel, value)
    WHERE pii_index(c.value) IS NOT NULL
    ON CONFLICT DO NOTHING;
  END IF;

  v_status := CASE WHEN v_revoked THEN 'unsubscribed' ELSE CASE p_type WHEN 'reply' THEN 'replied' WHEN 'booked' THEN 'converted'
                          WHEN 'unsubscribe' THEN 'unsubscribed' WHEN 'complaint' THEN 'unsubscribed'
                          WHEN 'bounce' THEN CASE WHEN p_soft THEN NULL ELSE 'bounced' END END END;
  UPDATE leads l
  SET campaign_status = CASE WHEN v_status IS NOT NULL AND status_rank(v_status) > status_rank(l.campaign_status)
                             THEN v_status ELSE l.campaign_status END,
      last_reply_at = CASE WHEN p_type = 'reply' THEN greatest(l.last_reply_at, p_occurred_at)
                           ELSE l.last_reply_at END,
      consent = l.consent AND NOT v_revoked
  WHERE l.id = ANY (v_leads);
  RETURN QUERY SELECT true, v_event, cardinality(v_leads);
END
$function$;
