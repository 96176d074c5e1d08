"""Dagster wiring, loaded the way Dagster's ``dg`` projects are: ``load_from_defs_folder`` walks
this folder.

One rule: **every asset, asset check, job, schedule and sensor is defined at module level** and
collected by attribute. The only ``@definitions`` functions are in the ``resources.py`` modules,
which bind resources and define nothing else (in a module with a ``@definitions`` function Dagster
ignores every other object; ``tests/integration/test_defs_layout.py`` keeps both halves true).

**A folder is an asset group**: each asset sits in the group named after its folder.

- ``resources.py``        the warehouse connection every group uses (``WarehouseResource.connect()``)
- ``ingest/``             one partition per accepted upload: landed_file -> leads_staging ->
                          leads_validated -> leads; the upload sensor, the retry sensor, the
                          door's health checks and their job
- ``warehouse/``          the dbt project's staging and intermediate models, the score write-back
                          (``lead_scores``), the 05:30 refresh job and its schedule
- ``campaign/``           the marts the campaign reads (mv_contactable_leads, funnel_daily) and
                          their freshness check, the funnel's figures, the weekday feed with its
                          job and 06:00 schedule, the DLQ retry of pushes
- ``housekeeping/``       the daily retention job and its schedule
- ``alerts/``             run-failure and check-failure sensors posting to webhooks

Each module is thin: the work is in Dagster-free functions (``orchestration.ingest``,
``orchestration.campaign``, ``orchestration.ops``, SQL in ``orchestration/db``). Nothing here
connects to a database or parses dbt at import time.
"""
