"""Global transaction ids: what they encode, and the only way they reach SQL.

``PREPARE TRANSACTION``, ``COMMIT PREPARED`` and the ``XA`` statements take no
bound parameters, so the id is written into the statement text. Every id is
therefore built from, and checked against, one strict pattern before it is
quoted: lower-case letters, digits, ``_`` and ``.``, nothing else.

A branch id (what one participant prepares) reads::

    dftx.<coordinator>.<transaction>.<participant>
    dftx.shop.0192f3a4b5c1d2e3f4a.orders

``<transaction>`` is the creation time in milliseconds (11 hex digits) and 8
random hex digits, so recovery can tell a branch's age on any database (XA
RECOVER reports none). The whole id is at most 58 characters, under XA's
64-byte limit for a global transaction id.
"""

from __future__ import annotations

import re
import secrets
import time

import attrs

from dataflow.errors import ConfigError

PREFIX = "dftx"
NAME = re.compile(r"\A[a-z][a-z0-9_]{0,15}\Z")
BRANCH = re.compile(
    r"\Adftx\.(?P<coordinator>[a-z][a-z0-9_]{0,15})\.(?P<transaction>[0-9a-f]{19})\.(?P<participant>[a-z][a-z0-9_]{0,15})\Z"
)
TRANSACTION = re.compile(r"\Adftx\.(?P<coordinator>[a-z][a-z0-9_]{0,15})\.(?P<transaction>[0-9a-f]{19})\Z")


def check_name(name: str, what: str) -> str:
    """``name`` if it may appear in a transaction id, else a ``ConfigError`` saying what is allowed."""
    if not isinstance(name, str) or NAME.match(name) is None:
        raise ConfigError(
            f"{what} name {name!r} is not allowed: use 1 to 16 characters, lower-case letters, digits "
            "and '_', starting with a letter (it becomes part of global transaction ids)",
            field=what,
        )
    return name


@attrs.frozen
class TransactionId:
    """One distributed transaction of one coordinator."""

    coordinator: str
    transaction: str

    @classmethod
    def new(cls, coordinator: str) -> TransactionId:
        check_name(coordinator, "coordinator")
        stamp = int(time.time() * 1000)
        return cls(coordinator, f"{stamp:011x}{secrets.token_hex(4)}")

    @classmethod
    def parse(cls, text: str) -> TransactionId:
        found = TRANSACTION.match(text) if isinstance(text, str) else None
        if found is None:
            raise ValueError(f"{text!r} is not a DataFlow transaction id")
        return cls(found["coordinator"], found["transaction"])

    @property
    def text(self) -> str:
        return f"{PREFIX}.{self.coordinator}.{self.transaction}"

    @property
    def created(self) -> float:
        """When the transaction began, in seconds since the epoch (the coordinator's clock)."""
        return int(self.transaction[:11], 16) / 1000

    def branch(self, participant: str) -> BranchId:
        check_name(participant, "participant")
        return BranchId(self, participant)

    def __str__(self) -> str:
        return self.text


@attrs.frozen
class BranchId:
    """One participant's part of a distributed transaction: the id it prepares under."""

    transaction: TransactionId
    participant: str

    @classmethod
    def parse(cls, text: str) -> BranchId | None:
        """The branch ``text`` names, or None when it is not a DataFlow branch id (another application's)."""
        found = BRANCH.match(text) if isinstance(text, str) else None
        if found is None:
            return None
        return cls(TransactionId(found["coordinator"], found["transaction"]), found["participant"])

    @property
    def text(self) -> str:
        return f"{self.transaction.text}.{self.participant}"

    def literal(self) -> str:
        """The id as an SQL string literal, checked again against the pattern right here."""
        return literal(self.text)

    def __str__(self) -> str:
        return self.text


def literal(text: str) -> str:
    """``'text'`` for a valid branch id; ``ValueError`` for anything else, before it can reach SQL."""
    if not isinstance(text, str) or BRANCH.match(text) is None:
        raise ValueError(f"refusing to put {text!r} into a transaction statement: it is not a DataFlow branch id")
    return f"'{text}'"
