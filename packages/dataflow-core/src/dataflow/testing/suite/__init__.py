"""The compliance suite: ``from dataflow.testing.suite import *`` in a dialect's tests.

Needs a ``dataflow_database_url`` fixture (see :mod:`dataflow.testing`).
"""

from ..helpers import db, users
from .test_aggregate import *  # noqa: F403
from .test_aggregate import sales
from .test_bad_input import *  # noqa: F403
from .test_bad_input import users_and_ann
from .test_bulk import *  # noqa: F403
from .test_bulk_columns import *  # noqa: F403
from .test_bulk_columns import readings
from .test_changes import *  # noqa: F403
from .test_changes import captured
from .test_concurrency import *  # noqa: F403
from .test_express import *  # noqa: F403
from .test_filters import *  # noqa: F403
from .test_filters import population, tagged
from .test_fused_update import *  # noqa: F403
from .test_fused_update import fusing
from .test_hostile_input import *  # noqa: F403
from .test_lifecycle import *  # noqa: F403
from .test_migration_keys import *  # noqa: F403
from .test_migrations import *  # noqa: F403
from .test_nodes import *  # noqa: F403
from .test_pages import *  # noqa: F403
from .test_pages import crowd
from .test_relations import *  # noqa: F403
from .test_relations import scoped, shop
from .test_schema_changes import *  # noqa: F403
from .test_schema_changes import reopen
from .test_sql import *  # noqa: F403
from .test_transactions import *  # noqa: F403
from .test_types import *  # noqa: F403
from .test_url_options import *  # noqa: F403
from .test_values import *  # noqa: F403
from .test_values import samples
from .test_versioning import *  # noqa: F403
from .test_write_guards import *  # noqa: F403
from .test_write_guards import two_users

__all__ = [
    "captured",
    "crowd",
    "db",
    "fusing",
    "population",
    "readings",
    "reopen",
    "sales",
    "samples",
    "scoped",
    "shop",
    "tagged",
    "two_users",
    "users",
    "users_and_ann",
] + [n for n in dir() if n.startswith("test_")]
