"""Ingest settings: where uploads land and which keys verify signed drops (``EC_LANDING_DIR``,
``EC_UPLOAD_KEYS_FILE``, read when a run or tick starts)."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration.ops import health
from orchestration.privacy import pii
from orchestration.defs.resources import WarehouseResource, env_int, env_var
from orchestration.ingest import signing
from orchestration.core.landing import Landing
from orchestration.ingest.pipeline import Context


class IngestSettings(dg.ConfigurableResource):
    """Where uploads land, which keys verify signed drops, and how many rejects a file may have."""

    landing_dir: str = Field(description="landing directory (EC_LANDING_DIR)")
    upload_keys_file: str = Field(description="file of active 'key_id:secret' lines (EC_UPLOAD_KEYS_FILE)")
    index_key_file: str = Field(default="", description="the blind-index key e-mails and phones are found by "
                                                        "(EC_INDEX_KEY_FILE)")
    pii_keys_file: str = Field(default="", description="the data keys e-mails and phones are sealed with "
                                                       "(EC_PII_KEYS_FILE)")
    max_reject_percent: int = Field(default=20, description="refuse a file when more than this percentage of "
                                                            "its rows is rejected (EC_MAX_REJECT_PERCENT)")
    min_verified_percent: int = Field(default=10, description="warn when fewer of an upload's leads than this "
                                                              "percentage have a verified e-mail (EC_MIN_VERIFIED_PERCENT)")
    retry_base_s: float = Field(default=60.0, description="an ingest that failed for a transient reason (lost "
                                "connection, deadlock, lock timeout) is re-run after this many seconds, then "
                                "after doubling delays (at most 6 h)")
    retry_max_attempts: int = Field(default=5, description="re-runs of a transiently failed ingest before a "
                                                           "person is needed")
    keep_work_rows_hours: int = Field(default=0, description="0: a merge removes its upload's work rows "
                                        "(the file's text) at once; more keeps them that long for debugging, "
                                        "the daily sweep removes them then (EC_KEEP_WORK_ROWS_HOURS)")
    validation_workers: int = Field(default=0, description="worker processes validating an upload's slices side "
                                    "by side (0: the run's own process); each holds about 1 GB at 100k-row slices "
                                    "(EC_VALIDATION_WORKERS)")
    max_uploads_per_tick: int = Field(default=25, description="new partitions a sensor tick may request")
    max_sidecars_per_tick: int = Field(default=10, description="signed drops a sensor tick may verify")

    def landing(self) -> Landing:
        return Landing(self.landing_dir).ensure()

    def signing_keys(self) -> list[signing.SigningKey]:
        path = Path(self.upload_keys_file)
        return signing.parse_keys(path.read_text()) if path.exists() else []

    def pipeline_context(self, warehouse: WarehouseResource, *, run_id: str | None, log) -> Context:
        return Context(database_url=warehouse.url, landing=self.landing(), role=warehouse.role_or_none,
                       run_id=run_id, log=log, max_reject_rate=self.max_reject_percent / 100,
                       retry_base_s=self.retry_base_s, retry_max_attempts=self.retry_max_attempts,
                       keep_work_rows_hours=self.keep_work_rows_hours, validation_workers=self.validation_workers,
                       **self._sealer())

    def _sealer(self) -> dict:
        """The sealer, or why there is none (the stages that need it then say so)."""
        try:
            return {"sealer": pii.load_sealer(self.pii_keys_file or None, self.index_key_file or None)}
        except (pii.KeyRingError, ValueError) as exc:
            return {"sealer": None, "sealer_error": str(exc)}


class HealthSettings(dg.ConfigurableResource):
    """Thresholds of the door health checks (pipeline_health_job)."""

    max_bad_signature_percent: int = Field(default=20, description="percentage of the last hour's uploads "
                                           "refused for a bad signature (EC_MAX_BAD_SIGNATURE_PERCENT)")
    max_replay_percent: int = Field(default=50, description="percentage of the last day's uploads refused as "
                                                            "replays (EC_MAX_REPLAY_PERCENT)")
    min_uploads: int = Field(default=5, description="fewer uploads than this in the window: too few to judge")

    def thresholds(self) -> health.Thresholds:
        return health.Thresholds(self.max_bad_signature_percent / 100, self.max_replay_percent / 100,
                                 self.min_uploads)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={
        "ingest": IngestSettings(landing_dir=env_var("EC_LANDING_DIR"),
                                 upload_keys_file=env_var("EC_UPLOAD_KEYS_FILE"),
                                 index_key_file=env_var("EC_INDEX_KEY_FILE"),
                                 pii_keys_file=env_var("EC_PII_KEYS_FILE"),
                                 max_reject_percent=env_int("EC_MAX_REJECT_PERCENT"),
                                 keep_work_rows_hours=env_int("EC_KEEP_WORK_ROWS_HOURS"),
                                 validation_workers=env_int("EC_VALIDATION_WORKERS"),
                                 min_verified_percent=env_int("EC_MIN_VERIFIED_PERCENT")),
        "health_settings": HealthSettings(max_bad_signature_percent=env_int("EC_MAX_BAD_SIGNATURE_PERCENT"),
                                          max_replay_percent=env_int("EC_MAX_REPLAY_PERCENT")),
    })
