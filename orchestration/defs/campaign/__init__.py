"""The campaign group: the dbt marts it reads (mv_contactable_leads, funnel_daily) and their
freshness check, the funnel's figures, the weekday feed with its job and 06:00 schedule (its
sender-health check), the nightly block-list sync with Instantly, and the DLQ retry of failed
pushes."""
