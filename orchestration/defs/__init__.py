"""Dagster wiring, loaded the way Dagster's ``dg`` projects are: ``load_from_defs_folder`` walks
this folder and collects every asset, job, schedule and sensor defined at module level, and the
resources each ``resources.py`` binds in its ``@definitions`` function.

- ``resources.py``        the warehouse connection every group uses
- ``ingest/``             one partition per accepted upload: landed_file -> leads_staging ->
                          leads_validated -> leads; the upload sensor and its job
- ``warehouse/``          the dbt project (scores, mv_contactable_leads); the 05:30 refresh job
                          and its schedule
- ``campaign/``           the weekday feed; its job and 06:00 schedule

Each module is thin: the work is in Dagster-free functions (``orchestration.ingest``,
``orchestration.feeder``, SQL in ``orchestration/db/sql``). Nothing here connects to a database
or parses dbt at import time.
"""
