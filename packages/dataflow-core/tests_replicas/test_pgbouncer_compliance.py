"""The core's dialect compliance suite, run against PostgreSQL through PgBouncer in transaction pooling mode.

Each test gets an empty ``public`` schema in one database (PgBouncer does not carry a
``search_path`` startup parameter, so the URL's ``schema`` option is not
used here), reached with ``pgbouncer=true``.
"""

import pytest

from dataflow.testing.pgbouncer import PgBouncer
from dataflow.testing.suite import *  # noqa: F403


@pytest.fixture
def dataflow_database_url(pgbouncer: PgBouncer, bouncer_database: str) -> str:
    return pgbouncer.url(bouncer_database, "pgbouncer=true")
