"""Pure rules of a stage's outcome: which errors time can fix, and the reject gate's verdict."""

import psycopg
import pytest
from psycopg import errors

from orchestration.ingest import pipeline


@pytest.mark.parametrize("exc, transient", [
    (errors.DeadlockDetected("x"), True),
    (errors.SerializationFailure("x"), True),
    (errors.LockNotAvailable("x"), True),
    (errors.QueryCanceled("x"), True),
    (errors.AdminShutdown("x"), True),
    (errors.CannotConnectNow("x"), True),
    (errors.TooManyConnections("x"), True),
    (errors.ConnectionFailure("x"), True),
    (psycopg.OperationalError("connection lost"), True),
    (ConnectionResetError(), True),
    (TimeoutError(), True),
    (errors.CheckViolation("x"), False),
    (errors.UniqueViolation("x"), False),
    (errors.InvalidTextRepresentation("x"), False),
    (errors.CharacterNotInRepertoire("x"), False),
    (errors.RaiseException("x"), False),
    (errors.UndefinedTable("x"), False),
    (ValueError("x"), False),
    (KeyError("x"), False),
    (MemoryError(), False),
    (FileNotFoundError(), False),
])
def test_only_errors_time_can_fix_are_transient(exc, transient):
    assert pipeline.is_transient(exc) is transient


def test_the_reject_gate_keeps_the_decision_made_at_validation():
    summary = {"validated": {"rows": 10, "rejected": 3}}
    assert pipeline.reject_gate(None, summary, 0.5) == (True, "3 of 10 rows rejected (30%; limit 50%)", 0.3)
    ok, why, rate = pipeline.reject_gate("30% of rows were rejected (limit 20%)", summary, 0.5)
    assert not ok and why.startswith("30% of rows were rejected") and rate == 0.3
    assert pipeline.reject_gate(None, {}, 0.2)[0] is False          # nothing validated: nothing to pass
    assert pipeline.reject_gate(None, {"validated": {"rows": 0, "rejected": 0}}, 0.2)[:2] == (
        True, "0 of 0 rows rejected (0%; limit 20%)")
