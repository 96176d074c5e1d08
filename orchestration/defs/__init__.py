"""Dagster wiring, loaded the way Dagster's ``dg`` projects are: ``load_from_defs_folder`` walks
this folder and collects every asset, job, schedule and sensor defined at module level, and the
resources each ``resources.py`` binds in its ``@definitions`` function.

Beware the rule Dagster applies here: in a module that has a ``@definitions`` function, every
other Dagster object of that module is ignored. Besides the ``resources.py`` modules, five modules
list their objects that way (``campaign/dlq_retry.py``, ``warehouse/checks.py``,
``housekeeping/jobs.py``, ``ingest/health.py``, ``alerts/sensors.py``): an object added to one of
them must be added to its list too, or it is lost.

- ``resources.py``        the warehouse connection every group uses
- ``ingest/``             one partition per accepted upload: landed_file -> leads_staging ->
                          leads_validated -> leads; the upload sensor, the retry sensor, the
                          door's health checks and their job
- ``warehouse/``          the dbt project (scores, mv_contactable_leads, funnel_daily); the 05:30
                          refresh job and its schedule; the funnel asset
- ``campaign/``           the weekday feed, its job and 06:00 schedule; the DLQ retry of pushes
- ``housekeeping/``       the daily retention job and its schedule
- ``alerts/``             run-failure and check-failure sensors posting to webhooks

Each module is thin: the work is in Dagster-free functions (``orchestration.ingest``,
``orchestration.campaign``, ``orchestration.ops``, SQL in ``orchestration/db/sql``). Nothing here
connects to a database or parses dbt at import time.
"""
