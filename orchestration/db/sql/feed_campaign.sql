-- Picks, marks and records up to p_cap top-scored contactable leads for one feed date, in one
-- transaction under an advisory lock, so the cap per date and "each lead once per owner" hold
-- under retries, overlapping runs and backfills (a feed records the owner it reached, the lead's
-- owner_since: after a sale the merge starts the lead's campaign over, and its new owner is fed).
-- Respects each broker's weekly cap; walks candidates in score order through the feeder's partial
-- index and widens its window only when broker caps leave the batch short. Suppressions are re-checked at pick time (an unsubscribe that arrived
-- after the view's refresh is honoured); one e-mail is fed at most once per batch, and not again
-- under another lead within p_email_gap_days of a feed date that carried it. Each fed lead records
-- the vendor list that supplied it (its newest upload): the sender-health breaker judges lists by
-- their own bounces, and a list paused in campaign_pauses feeds nobody until a person resumes it.
CREATE OR REPLACE FUNCTION public.feed_campaign(p_feed_date date, p_cap integer, p_run_id text, p_email_gap_days integer DEFAULT 90)
 RETURNS TABLE(lead_id uuid, broker_id uuid, lead_score integer, batch_id bigint)
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_fed integer;
  v_need integer;
  v_window integer;
  v_seen integer;
  v_batch bigint;
  v_week_start date := date_trunc('week', p_feed_date)::date;
BEGIN
  PERFORM pg_advisory_xact_lock(job_lock_key('campaign_feed'));
  SELECT count(*) INTO v_fed FROM campaign_batch_leads f WHERE f.feed_date = p_feed_date;
  v_need := p_cap - v_fed;
  IF v_need <= 0 THEN
    RETURN;
  END IF;

  DROP TABLE IF EXISTS _feed_pick;
  CREATE TEMP TABLE _feed_pick (lead_id uuid, broker_id uuid, lead_score integer, owner_since timestamptz,
                               upload_id text) ON COMMIT DROP;
  -- Walk candidates in score order through the partial index; widen the window only when
  -- broker caps leave the batch short.
  v_window := greatest(v_need * 4, 1000);
  LOOP
    TRUNCATE _feed_pick;
    WITH candidates AS (
      SELECT l.id AS lead_id, c.broker_id, l.lead_score, l.email, l.phone, l.addr_hash, l.owner_since, src.upload_id
      FROM leads l
      JOIN analytics.mv_contactable_leads c ON c.lead_id = l.id
      LEFT JOIN LATERAL (SELECT s.upload_id FROM lead_sources s WHERE s.lead_id = l.id
                         ORDER BY s.received_at DESC, s.upload_id DESC LIMIT 1) src ON true
      WHERE l.campaign_status IN ('new', 'queued') AND l.email_verified
        AND NOT EXISTS (SELECT 1 FROM campaign_batch_leads f WHERE f.lead_id = l.id
                        AND f.owner_since IS NOT DISTINCT FROM l.owner_since)
        AND NOT EXISTS (SELECT 1 FROM campaign_pauses p WHERE p.resumed_at IS NULL AND p.upload_id = src.upload_id)
      ORDER BY l.lead_score DESC, l.id
      LIMIT v_window
    ),
    allowed AS (
      SELECT cd.*, row_number() OVER (PARTITION BY pii_index(cd.email) ORDER BY cd.lead_score DESC, cd.lead_id) AS email_rank
      FROM candidates cd
      WHERE NOT lead_is_suppressed(pii_index(cd.email), pii_index(cd.phone), cd.addr_hash)
        -- (a feed of a lead's previous owner carried that owner's e-mail, not the one it holds now)
        AND NOT EXISTS (SELECT 1 FROM leads o JOIN campaign_batch_leads f ON f.lead_id = o.id
                        WHERE pii_index(o.email) = pii_index(cd.email) AND f.owner_since IS NOT DISTINCT FROM o.owner_since
                          AND f.feed_date BETWEEN p_feed_date - p_email_gap_days AND p_feed_date + p_email_gap_days)
    ),
    week_fed AS (
      SELECT f.broker_id, count(*) AS n FROM campaign_batch_leads f
      WHERE f.feed_date >= v_week_start AND f.feed_date < v_week_start + 7
        AND f.broker_id IN (SELECT DISTINCT cd.broker_id FROM allowed cd)
      GROUP BY f.broker_id
    ),
    ranked AS (
      SELECT cd.*, row_number() OVER (PARTITION BY cd.broker_id
                                      ORDER BY cd.lead_score DESC, cd.lead_id) AS broker_rank,
             b.max_leads_per_week - coalesce(w.n, 0) AS broker_room
      FROM allowed cd
      JOIN brokers b ON b.id = cd.broker_id AND b.status = 'active'
      LEFT JOIN week_fed w ON w.broker_id = cd.broker_id
      WHERE cd.email_rank = 1
    )
    INSERT INTO _feed_pick
    SELECT r.lead_id, r.broker_id, r.lead_score, r.owner_since, r.upload_id FROM ranked r
    WHERE r.broker_rank <= r.broker_room
    ORDER BY r.lead_score DESC, r.lead_id
    LIMIT v_need;
    SELECT count(*) INTO v_seen FROM _feed_pick;
    EXIT WHEN v_seen >= v_need;
    -- Short: stop when the window already held every remaining candidate.
    EXIT WHEN (SELECT count(*) FROM leads l
               JOIN analytics.mv_contactable_leads c ON c.lead_id = l.id
               WHERE l.campaign_status IN ('new', 'queued') AND l.email_verified
                 AND NOT EXISTS (SELECT 1 FROM campaign_batch_leads f WHERE f.lead_id = l.id
                                 AND f.owner_since IS NOT DISTINCT FROM l.owner_since))
              <= v_window;
    v_window := v_window * 4;
  END LOOP;

  IF v_seen = 0 THEN
    RETURN;
  END IF;
  INSERT INTO campaign_batches (feed_date, lead_ids, run_id)
  SELECT p_feed_date, array_agg(p.lead_id ORDER BY p.lead_score DESC, p.lead_id), p_run_id
  FROM _feed_pick p
  RETURNING id INTO v_batch;
  INSERT INTO campaign_batch_leads (lead_id, batch_id, feed_date, broker_id, lead_score, owner_since, upload_id)
  SELECT p.lead_id, v_batch, p_feed_date, p.broker_id, p.lead_score, p.owner_since, p.upload_id FROM _feed_pick p;
  UPDATE leads l SET campaign_status = 'active' FROM _feed_pick p WHERE l.id = p.lead_id;
  RETURN QUERY SELECT p.lead_id, p.broker_id, p.lead_score, v_batch FROM _feed_pick p
               ORDER BY p.lead_score DESC, p.lead_id;
END
$function$;
