"""What people read: the restore's tables at an 80-column terminal."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Run
from tests.dr.conftest import SOURCE


@pytest.fixture
def narrow(monkeypatch) -> None:
    from rich.console import Console

    from garmaxctl import output

    monkeypatch.setattr(output, "stdout_console", lambda: Console(
        width=80, color_system=None, highlight=False, soft_wrap=True))


def test_restore_tables_fit_80_columns_with_names_unbroken(recorder, narrow, tmp_path
                                                           ) -> None:
    result = Run(tmp_path)("-s", "dev", "dr", "restore-db", "--to", "3h")
    assert result.exit_code == 0, result.stdout + result.stderr
    print(result.stdout)
    lines = result.stdout.splitlines()
    table = lines[:lines.index(next(line for line in lines if line.startswith("sent ")))]
    assert max(len(line) for line in table) <= 80
    new = next(line.split()[-1] for line in table if "new cluster" in line)
    assert new.startswith(f"{SOURCE}-restored-2") and len(new) == len(SOURCE) + 22
    assert any(f"{new}-writer" in line for line in table)
    window = next(line for line in table if " window " in line)
    assert window.strip().endswith("Z") and " .. " in window
