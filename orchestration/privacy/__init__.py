"""The people in the data: sealed e-mails and phones (``pii``), blind indexes, the data-key ring
(``keys``), erasure on request and the suppression list. Keys live outside the database."""
