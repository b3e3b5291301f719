"""An audited shop, a subject access request and an erasure: dataflow-audit in one story.

    python -m pip install ./packages/dataflow-core ./packages/dataflow-sqlite ./packages/dataflow-audit
    python examples/audit_gdpr.py

Ann signs up and orders; support changes her address (the trail records who);
she asks what the shop holds about her (one JSON document, her old address
included, read back from the sealed trail); then she asks to be forgotten, and
afterwards no table holds anything she gave, while the trail still verifies.
It writes ``gdpr_example.db`` in the working directory, afresh on every run.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Annotated

from dataflow import DataFlow, MaxLength, Personal

DATABASE = Path("gdpr_example.db")
# In production the master key comes from your secret store; without one there, audited personal fields
# refuse to start. Here a key for this run only.
os.environ.setdefault("DATAFLOW_AUDIT_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
for stale in (DATABASE, Path(f"{DATABASE}-wal"), Path(f"{DATABASE}-shm")):
    stale.unlink(missing_ok=True)  # a fresh file each run: the key above is new each run too

db = DataFlow(f"sqlite:///{DATABASE}")


@db.model
class Customer:
    name: Annotated[str, MaxLength(100), Personal()]
    email: Annotated[str, MaxLength(200), Personal()]
    __dataflow__ = {"audit": True, "subject": "id", "unique": [("email",)]}


@db.model
class Order:
    customer_id: Customer
    address: Annotated[str, Personal()]
    total: int = 0
    __dataflow__ = {"audit": True}


def main() -> None:
    with db.actor("signup-form"):
        ann = db.express_sync.create("Customer", {"name": "Ann", "email": "ann@example.com"})
        order = db.express_sync.create("Order", {"customer_id": ann["id"], "address": "1 Main St", "total": 30})
    with db.actor("support:bob"):
        db.express_sync.update("Order", order["id"], {"address": "2 High St"})

    latest = db.audit.history("Order", order["id"])[0]
    print(f"1. order {order['id']}: last change by {latest.actor}: {sorted(latest.changes)}")

    document = db.gdpr.export("Customer", ann["id"])
    addresses = [e["changes"]["address"] for e in document["history"] if "address" in e["changes"]]
    print(f"2. export for Ann: {len(document['records']['Order'])} order(s), addresses seen {addresses}")

    result = db.gdpr.erase("Customer", ann["id"], mode="anonymize", actor="dpo")
    tables = ("customer", '"order"', "dataflow_audit", "dataflow_audit_key")
    everything = json.dumps([db.sql(f"SELECT * FROM {table}") for table in tables], default=str)
    left = [value for value in ("Ann", "ann@example.com", "1 Main St", "2 High St") if value in everything]
    print(f"3. erased {result.records}; her values left in the database: {left or 'none'}")
    print(f"4. {db.audit.verify()}")
    db.close()


if __name__ == "__main__":
    main()
