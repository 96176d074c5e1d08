"""sqlfluff (postgres dialect, dbt templating) passes on the dbt project and the function files."""

import subprocess
import sys
from pathlib import Path

from orchestration.settings import REPO_ROOT


def test_sqlfluff_lint_passes():
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    out = subprocess.run([str(sqlfluff), "lint", "dbt_project/models", "dbt_project/tests", "dbt_project/macros",
                          "orchestration/db/sql"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
