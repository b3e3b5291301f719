"""A saga process for the fault tests: it runs one saga and hangs at a chosen point until SIGKILLed.

python crash_saga.py '{"local": URL, "remote": URL, "pause": "between" | "inside", "forward": false}'
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from saga_helpers import opening_saga
from txn_helpers import open_accounts


async def main(config: dict[str, Any]) -> None:
    local, remote = open_accounts(config["local"]), open_accounts(config["remote"])
    saga = opening_saga(local, remote, pause=config["pause"], forward_recoverable=config["forward"])
    await saga.execute_async({"name": "ann", "amount": 10}, key="crash-1")
    print("finished", flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
