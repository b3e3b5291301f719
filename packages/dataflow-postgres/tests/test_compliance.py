"""The core's dialect compliance suite, run against PostgreSQL."""

from dataflow.testing.suite import *  # noqa: F403
