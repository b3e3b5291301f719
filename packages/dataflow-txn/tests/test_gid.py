"""Global transaction ids: what they encode, and that nothing else reaches a transaction statement."""

from __future__ import annotations

import time

import pytest

from dataflow import ConfigError
from dataflow_txn.gid import BranchId, TransactionId, check_name, literal


def test_a_branch_id_encodes_coordinator_transaction_and_participant() -> None:
    transaction = TransactionId.new("shop")
    branch = transaction.branch("orders")
    assert branch.text.startswith("dftx.shop.") and branch.text.endswith(".orders")
    assert BranchId.parse(branch.text) == branch
    assert TransactionId.parse(transaction.text) == transaction
    assert abs(transaction.created - time.time()) < 5
    assert len(TransactionId("a" * 16, "f" * 19).branch("b" * 16).text) <= 64  # XA's gtrid limit


def test_the_literal_is_the_checked_id_in_quotes() -> None:
    branch = TransactionId.new("shop").branch("stock")
    assert branch.literal() == f"'{branch.text}'"


@pytest.mark.parametrize(
    "text",
    [
        "dftx.shop.0192f3a4b5c1d2e3f4a.orders'; COMMIT PREPARED 'x",
        "dftx.shop.0192f3a4b5c1d2e3f4a.orders\n",
        "dftx.Shop.0192f3a4b5c1d2e3f4a.orders",
        "dftx.shop.0192f3a4b5c1d2e3f4.orders",
        "dftx.shop.0192f3a4b5c1d2e3f4a",
        "other-app-xid",
        "",
    ],
)
def test_anything_but_a_valid_branch_id_is_refused_before_sql(text: str) -> None:
    assert BranchId.parse(text) is None
    with pytest.raises(ValueError, match="refusing"):
        literal(text)


@pytest.mark.parametrize("name", ["Shop", "9lives", "a-b", "x" * 17, "it's", ""])
def test_coordinator_and_participant_names_are_checked(name: str) -> None:
    with pytest.raises(ConfigError, match="is not allowed"):
        check_name(name, "coordinator")
    with pytest.raises(ConfigError):
        TransactionId.new("shop").branch(name)
