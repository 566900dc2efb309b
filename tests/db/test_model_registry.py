"""Every process that opens a database (API, worker, scheduler, CLI) knows every table,
so a foreign key into another domain (e.g. opportunities → campaigns) always resolves,
even when nothing else imported that domain's models."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from prm.db.engine import Database
from prm.db.base import Base
for table in Base.metadata.tables.values():
    for key in table.foreign_keys:
        key.column  # raises NoReferencedTableError if the target table is unknown
print(len(Base.metadata.tables))
"""


def test_opening_a_database_loads_every_table() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 60
