"""Each function and trigger has exactly one definition in the repository — its file under
orchestration/db/sql/ — and the migrated database holds exactly that text (PostgreSQL 18 and 15)."""

import re
import subprocess

import psycopg
import pytest

from orchestration.db import sqlfiles, store
from orchestration.settings import REPO_ROOT

OBJECTS = sqlfiles.objects()


def _words(sql: str) -> str:
    """A statement as comparable words: case, whitespace, casts and schema/paren noise aside."""
    sql = re.sub(r"::\w+", "", sql.replace("public.", "")).replace("(", " ").replace(")", " ")
    return " ".join(sql.lower().split())


@pytest.mark.parametrize("obj", OBJECTS, ids=[o.name for o in OBJECTS])
def test_live_function_is_the_file(migrated_url, obj):
    with psycopg.connect(migrated_url) as conn:
        live = store.function_definition(conn, obj.schema, obj.function_name)
    assert live is not None, f"{obj.name} is not in the migrated database: no revision applies its file"
    assert live == obj.function_definition, (
        f"{obj.name}: the database's definition differs from {obj.path.name} — edit the file and add a "
        "revision that re-applies it (orchestration/db/sqlfiles.py)")


def test_live_triggers_are_the_files(migrated_url):
    with psycopg.connect(migrated_url) as conn:
        live = {(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
            " JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal")}
    in_files = {}
    for obj in OBJECTS:
        for stmt in obj.triggers:
            m = re.match(r"CREATE OR REPLACE TRIGGER (\w+)\s.*?\sON (\w+)\s", stmt, re.S)
            in_files[(m.group(1), m.group(2))] = stmt.replace("CREATE OR REPLACE TRIGGER", "CREATE TRIGGER")
    assert set(live) == set(in_files), "every trigger lives in the file of the function it calls"
    for key, stmt in in_files.items():
        assert _words(live[key]) == _words(stmt), key


def test_git_grep_finds_one_definition_per_function():
    for obj in OBJECTS:
        pattern = rf"CREATE (OR REPLACE )?FUNCTION ({obj.schema}\.)?{re.escape(obj.function_name)}\("
        out = subprocess.run(["git", "grep", "--untracked", "-l", "-E", "-i", pattern, "--", "orchestration", "dbt_project"],
                             cwd=REPO_ROOT, capture_output=True, text=True)
        files = [f for f in out.stdout.split() if f]
        assert files == [str(obj.path.relative_to(REPO_ROOT))], (obj.name, files)


def test_equity_sql_show_prints_the_live_definition(stack):
    import contextlib
    import io

    from orchestration.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["sql", "show", "merge_validated_leads"]) == 0
    assert buf.getvalue().strip() == sqlfiles.get("merge_validated_leads").function_definition.strip()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["sql", "show", "no_such_function"]) == 2
