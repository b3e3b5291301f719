"""The dialect compliance suite, on SQLite files."""

from dataflow.testing.suite import *  # noqa: F403
