"""The dialect compliance suite.

A dialect package runs every conformance test against its own database by
star-importing the suite into one of its test modules and providing one
fixture in its ``conftest.py``::

    # tests/conftest.py
    import pytest

    @pytest.fixture
    def dataflow_database_url():
        url = create_an_empty_database()      # a fresh database or schema per test
        yield url
        drop_it()

    # tests/test_compliance.py
    from dataflow.testing.suite import *  # noqa: F401,F403

Tests that need a capability the dialect does not declare in its
``Capabilities`` (``returning``, ``upsert``, ``copy``, ``savepoints``,
``two_phase``, ...) are skipped with that reason.
"""
