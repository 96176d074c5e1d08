"""Business constants, defined once. Pure values: nothing here reads the environment.

Where SQL needs one of these, the Python side passes it as a parameter (the replay window, the
time zone); dbt reads the time zone from its own ``vars`` in ``dbt_project.yml`` — keep those in
step with this module (a unit test checks it).
"""

# Every scheduled job and every date the business speaks of (feed dates, the 05:30 refresh) is in
# the operators' time zone.
TIMEZONE = "America/Los_Angeles"

# The weekday feeder sends at most this many leads per feed date.
DAILY_FEED_CAP = 250

# The same bytes uploaded twice within this many days are refused as a replay.
REPLAY_WINDOW_DAYS = 7

# The largest upload the receiver accepts (bytes); larger bodies are refused while streaming (413).
MAX_UPLOAD_BYTES = 512 * 1024 * 1024

# The upload door's limits on what a sender may hold open: a body that sends nothing for
# BODY_IDLE_TIMEOUT_S seconds, or is still arriving after BODY_DEADLINE_S, is refused (408); one
# key may have at most MAX_UPLOADS_PER_KEY bodies streaming at once (429 beyond). A refused body is
# not kept: its quarantine record holds the headers, size, SHA-256 and its first QUARANTINE_HEAD_BYTES.
BODY_IDLE_TIMEOUT_S = 30.0
BODY_DEADLINE_S = 900.0
MAX_UPLOADS_PER_KEY = 4
QUARANTINE_HEAD_BYTES = 4096

# How long a job waits for another run's lock (the merge's, the feeder's) before it gives up with
# a lock timeout, a transient failure that the retry policy re-runs: a stuck session holding a lock
# must not hang the morning's jobs forever. A 1M-row merge takes minutes, so the merge waits long.
MERGE_LOCK_TIMEOUT_S = 1800.0
FEED_LOCK_TIMEOUT_S = 300.0

# Uploads of at least this many rows seal their e-mails and phones in a child process while the
# validation normalises the rest (orchestration.privacy.seal_worker). Starting it costs ~0.06 s,
# about what sealing 7k rows' e-mails and phones costs (~0.9 s per 200k values), so smaller
# uploads seal in the validating thread.
SEALING_WORKER_ROWS = 20_000

# Retention (the daily housekeeping): what holds people's data is kept only as long as it is
# useful. An upload's work rows (leads_staging, leads_validated: the file's text) go with its
# merge when WORK_ROWS_KEEP_HOURS is 0, else at the first sweep that many hours after it (a re-run
# of its partition stages them again from the landed file); landed
# files, quarantine records and campaign exports go after RETENTION_DAYS; DLQ payloads lose the
# row they quoted once resolved, or after RETENTION_DAYS.
WORK_ROWS_KEEP_HOURS = 0.0

RETENTION_DAYS = 30.0

# Upload sources: each names a column profile of orchestration.ingest.profiles.
SOURCES = ("propstream", "batchdata", "generic")

# Crons of the two daily jobs (in TIMEZONE).
REFRESH_CRON = "30 5 * * *"     # rebuild scores, refresh mv_contactable_leads
FEED_CRON = "0 6 * * 1-5"       # feed the campaign, Monday to Friday

# Bounds of one CSV record in an upload. A record that would run past either (an unbalanced
# quote swallowing later lines, a 50 MB cell) is set aside as malformed with its line number, and
# reading resumes on the next line.
MAX_RECORD_BYTES = 1024 * 1024
MAX_RECORD_LINES = 10        # physical lines one quoted field may span (a multi-line address: 2-3)
MAX_HEADER_CHARS = 1000      # a longer header cell means the first line is not a header row

# The longest value a mapped lead column (a name, an address line, an e-mail, a phone cell...)
# may hold; a row with a longer one is rejected with the reason, never stored truncated.
MAX_FIELD_CHARS = 255
