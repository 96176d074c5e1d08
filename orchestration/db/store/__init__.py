"""The pipeline's database access, by table family (the merge itself lives in SQL, in
``orchestration/db/sql/``). Call sites use ``store.<function>``; each family is a module:

- ``connection``    connections (role, time zone, session settings); catalogue reads
- ``audit``         pipeline_events and pipeline_dlq
- ``uploads``       replay guard, work tables (staging, validated), the merge call, retention
- ``leads``         leads, brokers, a lead's card and lineage, inbound events
- ``campaign``      feed, batches, exports, consent tokens, pushes
- ``deliverability`` the sender-health breaker's figures, pauses, mailboxes, the shared block list
- ``dashboards``    the dashboards' marts, one query per report
- ``suppressions``  the suppression list
- ``sealed``        where sealed values are kept: re-encryption walks, usage per key
- ``erasure``       a person's erasure across those tables; upload rows naming an erased person

SQL that serves one capability lives here too, not in the capability: a reader of the database
finds every statement the pipeline sends in this package, the SQL files and dbt.
"""

from orchestration.db.store.audit import (  # noqa: F401 - re-exported
    DLQ_RECORD_KEYS,
    clear_dlq_for_upload,
    dlq_needing_a_person,
    door_counts,
    due_dlq,
    due_upload_retries,
    record_dlq,
    record_dlq_many,
    record_event,
    resolve_upload_failures,
    scrub_dlq_payloads,
    settle_dlq,
    supersede_upload_failures,
)
from orchestration.db.store.campaign import (  # noqa: F401 - re-exported
    date_exports,
    funnel_by_day,
    add_consent_tokens,
    batch_brokers,
    batch_consent_tokens,
    batch_export_rows,
    cleanup_consent_tokens,
    consent_audited,
    consent_offer,
    contactable_counts,
    fed_count,
    feed_campaign,
    last_refresh,
    latest_feed_run,
    mark_exported,
    pushed_leads,
    record_consent,
    record_push,
    unexported_batches,
    unpushed_batches,
)
from orchestration.db.store.connection import (  # noqa: F401 - re-exported
    connect,
    function_definition,
    relation_row_count,
    set_lock_timeout,
)
from orchestration.db.store.dashboards import mart_rows  # noqa: F401 - re-exported
from orchestration.db.store.deliverability import (  # noqa: F401 - re-exported
    assign_sending_accounts,
    blocked_indexes,
    latest_feed_date,
    mailbox_use,
    open_pause,
    open_pauses,
    recent_pauses,
    record_block_sync,
    resume_pause,
    sender_figures,
    suppress_blocked,
    unpushed_blocks,
    upload_exists,
)
from orchestration.db.store.erasure import (  # noqa: F401 - re-exported
    erase_lead_events,
    erase_leads,
    erase_owner_history,
    erase_work_rows,
    erasure_entries,
    leads_of_person,
    rows_naming_erased,
    scrub_dlq_of_person,
    scrub_upload_rows,
)
from orchestration.db.store.leads import (  # noqa: F401 - re-exported
    LEAD_CARD_FIELDS,
    apply_lead_event,
    held_back,
    lead_card,
    lead_for_row,
    lead_totals,
    risky_email_counts,
    upsert_brokers,
    write_eligibility,
    write_lead_scores,
)
from orchestration.db.store.sealed import (  # noqa: F401 - re-exported
    PLACES,
    Place,
    plain_suppressions,
    replace_suppression_value,
    sealed_sample,
    sealed_usage,
    stale_batch,
    write_resealed,
)
from orchestration.db.store.suppressions import (  # noqa: F401 - re-exported
    add_deletion_hashes,
    add_suppression,
    add_suppressions,
    deletion_hashes,
    latest_suppressions,
    leads_with_suppression_reason,
    person_tokens,
    remove_suppression,
    suppress_from_upload,
    suppress_imported_phones,
    suppression_counts,
    unverify_suppressed_phones,
)
from orchestration.db.store.uploads import (  # noqa: F401 - re-exported
    STAGING_COLUMNS_PREFIX,
    begin_staging,
    begin_validated_work,
    claim_content,
    cleanup_replay_guards,
    code_map,
    copy_frame,
    copy_rows,
    delete_work_rows,
    discard_validated,
    expired_work_uploads,
    finish_staging,
    hold_back_other_units,
    iter_staged,
    last_merge_if_unchanged,
    lineage_rows,
    load_validated_slice,
    merge_upload,
    publish_validated,
    release_work_rows,
    second_chance_candidates,
    stage_rows,
    staged_shape,
    upload_for_content,
    upload_summary,
    validated_count,
    validation_refusal,
    write_second_chance_links,
)
