"""Running the code location's jobs from a terminal (``launch``: as the UI launches them) and inside
this process (``local_runs``: one sensor tick, a job run, the HTTP app on a loopback thread)."""
