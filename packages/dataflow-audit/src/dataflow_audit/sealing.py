"""Personal values in the trail: sealed with AES-GCM under a key per data subject, each key wrapped by the master key.

A subject's key is made the first time one of its personal values is
recorded, wrapped (AES-GCM under the master key) and stored in
``dataflow_audit_key``, in the write's transaction. A sealed value is
``{"$sealed": base64(nonce + ciphertext), "subject": "..."}``; its associated
data binds it to its subject, model, record and field, so it cannot be moved.
Destroying a subject's key (erasure) leaves the entries, and so the chain,
as they are, but makes the sealed values unreadable for good.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dataflow.errors import ConfigError, DataFlowError
from dataflow.sql import Params, TableSQL

from .values import dumps, loads

if TYPE_CHECKING:
    from dataflow.session import Session

MASTER_KEY_ENV = "DATAFLOW_AUDIT_MASTER_KEY"
SEALED = "$sealed"


class AuditKeyError(DataFlowError):
    """A sealed value could not be opened with the configured master key (never guessed at)."""


def parse_master_key(text: str | bytes | None, source: str) -> bytes | None:
    """32 bytes from base64 text (or raw bytes); ``ConfigError`` naming ``source`` for anything else."""
    if text is None or text == "":
        return None
    if isinstance(text, bytes) and len(text) == 32:
        return text
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise ConfigError(f"{source} must be 32 bytes in base64 (make one with: openssl rand -base64 32)")
    return key


def master_key_from_environment() -> bytes | None:
    return parse_master_key(os.environ.get(MASTER_KEY_ENV), MASTER_KEY_ENV)


def aad(subject: str, model: str, key: str, field: str) -> bytes:
    return "\x1f".join((subject, model, key, field)).encode()


class KeyRing:
    """The subjects' keys of one database, opened with one master key."""

    def __init__(self, keys_table: TableSQL, master: bytes, *, check_master: bool = True) -> None:
        self.table = keys_table
        self._master = AESGCM(master)
        self._verified = not check_master
        """Set once a stored key opened: until then no new key is made (a wrong master key would mix the trail)."""

    def _wrap(self, key: bytes, subject: str) -> str:
        nonce = secrets.token_bytes(12)
        return base64.b64encode(nonce + self._master.encrypt(nonce, key, subject.encode())).decode()

    def _unwrap(self, wrapped: str, subject: str) -> bytes:
        raw = base64.b64decode(wrapped)
        try:
            return self._master.decrypt(raw[:12], raw[12:], subject.encode())
        except InvalidTag:
            raise AuditKeyError(
                f"the audit master key does not open the key of subject {subject!r}: {MASTER_KEY_ENV} is not the "
                "key the trail was written with"
            ) from None

    async def read(self, session: Session, subjects: Iterable[str]) -> dict[str, bytes]:
        """The keys of ``subjects`` that exist (erased subjects have none), unwrapped."""
        wanted = sorted(set(subjects))
        found: dict[str, bytes] = {}
        q = self.table.quoted
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            params = Params(self.table.dialect)
            holders = ", ".join(params.add(s) for s in chunk)
            sql = f"SELECT {q['subject']}, {q['wrapped']} FROM {self.table.table} WHERE {q['subject']} IN ({holders})"
            for subject, wrapped in await session.fetch(sql, params.values, operation="audit"):
                found[str(subject)] = self._unwrap(str(wrapped), str(subject))
        self._verified = self._verified or bool(found)
        return found

    async def _check_master(self, session: Session) -> None:
        """Open one stored key (any subject's) before making new ones: ``AuditKeyError`` for a wrong master key."""
        q = self.table.quoted
        sql = f"SELECT {q['subject']}, {q['wrapped']} FROM {self.table.table} ORDER BY {q['subject']} LIMIT 1"
        for subject, wrapped in await session.fetch(sql, operation="audit"):
            self._unwrap(str(wrapped), str(subject))
        self._verified = True

    async def ensure(self, session: Session, subjects: Iterable[str], tenant: str | None) -> dict[str, bytes]:
        """The keys of ``subjects``, made (and stored, in the session's transaction) for those without one."""
        wanted = set(subjects)
        keys = await self.read(session, wanted)
        missing = sorted(wanted - set(keys))
        if missing and not self._verified:
            await self._check_master(session)
        if missing:
            dialect = session.dialect
            columns = ("subject", "tenant", "wrapped", "created_at")
            holders = [dialect.placeholder(i + 1) for i in range(len(columns))]
            # A concurrent writer may make the same subject's key: its key is kept, and read back below.
            insert = dialect.upsert_sql(self.table.schema.table, columns, holders, ("subject",), ())
            now = time.time_ns() // 1000
            rows = [(s, tenant, self._wrap(secrets.token_bytes(32), s), now) for s in missing]
            await session.executemany(insert, rows, operation="audit")
            keys.update(await self.read(session, missing))
        return keys


async def destroy_key(session: Session, keys_table: TableSQL, subject: str) -> int:
    """Crypto-shredding: delete the subject's key; its sealed values can never be read again (no master key needed)."""
    params = Params(keys_table.dialect)
    sql = f"DELETE FROM {keys_table.table} WHERE {keys_table.quoted['subject']} = {params.add(subject)}"
    result = await session.execute(sql, params.values, operation="audit")
    return result.rowcount


def seal(key: bytes, value: Any, subject: str, context: bytes) -> dict[str, str]:
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(key).encrypt(nonce, dumps(value).encode(), context)
    return {SEALED: base64.b64encode(nonce + ciphertext).decode(), "subject": subject}


def is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and SEALED in value


def open_sealed(keys: Mapping[str, bytes], value: Mapping[str, str], context: bytes) -> Any:
    """The value, or None when its subject's key was destroyed; ``AuditKeyError`` when it does not open."""
    key = keys.get(value["subject"])
    if key is None:
        return None
    raw = base64.b64decode(value[SEALED])
    try:
        return loads(AESGCM(key).decrypt(raw[:12], raw[12:], context).decode())
    except InvalidTag:
        raise AuditKeyError(f"a sealed value of subject {value['subject']!r} does not open with its key") from None
