"""A coordinator process for the fault tests: it runs one 2PC and stops dead at a chosen phase.

    python crash_coordinator.py '{"pg": URL, "mysql": URL, "name": NAME, "stop_at": "prepared"}'

It prints each phase as the coordinator passes it; at ``stop_at`` it waits
(forever) for the test to SIGKILL it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from txn_helpers import create_account, open_accounts

from dataflow_txn import DistributedTransaction
from dataflow_txn.gid import TransactionId


async def main(config: dict[str, Any]) -> None:
    pg, my = open_accounts(config["pg"]), open_accounts(config["mysql"])

    async def hook(phase: str, transaction: TransactionId) -> None:
        print(phase, flush=True)
        if phase == config["stop_at"]:
            await asyncio.sleep(3600)

    txn = DistributedTransaction(config["name"], log=pg, pattern="2pc")
    txn.coordinator.phase_hook = hook
    txn.add_participant("pg", pg, create_account(pg, "ann", 10))
    txn.add_participant("my", my, create_account(my, "bob", 20))
    await txn.execute_async()
    print("finished", flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
