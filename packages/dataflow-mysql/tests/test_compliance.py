"""The dialect compliance suite from dataflow-core, against the real MySQL/MariaDB server."""

from dataflow.testing.suite import *  # noqa: F403
