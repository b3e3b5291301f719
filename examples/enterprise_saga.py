"""An order placed across two databases: a saga that undoes its first step when the second fails.

An orders database and a stock database, each its own SQLite file here (set
ORDERS_URL / STOCK_URL to use PostgreSQL or MariaDB instead). Placing an
order writes the order, then takes the items out of stock. When the stock
step fails (not enough left), the saga runs the order's compensation, so no
order is left behind without its stock. Needs dataflow-txn:

    python -m pip install ./packages/dataflow-core ./packages/dataflow-sqlite ./packages/dataflow-txn
    python examples/enterprise_saga.py

Run it again and it gives the same story: every run starts from fresh tables.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from dataflow import DataFlow, LocalRuntime, ValidationError, WorkflowBuilder
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow_txn import DistributedTransaction, SagaContext, SagaError

orders = DataFlow(os.environ.get("ORDERS_URL", "sqlite:///orders.db"))
stock = DataFlow(os.environ.get("STOCK_URL", "sqlite:///stock.db"))


@orders.model
class Order:
    customer: str
    sku: str
    quantity: int


@stock.model
class Item:
    sku: str
    on_hand: int
    __dataflow__ = {"unique": [("sku",)]}


class RequireUpdated(Node):
    """Fails its step when the update before it changed no row (here: not enough stock)."""

    type_name: ClassVar[str] = "RequireUpdated"
    database: ClassVar[DataFlow | None] = stock
    parameters: ClassVar[frozenset[str] | None] = frozenset({"updated"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        if not inputs["updated"]:
            raise ValidationError("not enough stock for this order", model="Item", field="on_hand")
        return {"updated": inputs["updated"]}


def reset() -> None:
    """Empty both tables and put 5 lamps in stock, so every run tells the same story."""
    runtime = LocalRuntime()
    for db, model in ((orders, "Order"), (stock, "Item")):
        wipe = WorkflowBuilder()
        wipe.add_node(db.nodes[f"{model}BulkDeleteNode"], "wipe", {"filter": {}, "confirmed": True})
        runtime.execute(wipe.build())
    seed = WorkflowBuilder()
    seed.add_node(stock.nodes["ItemCreateNode"], "lamp", {"sku": "lamp", "on_hand": 5})
    runtime.execute(seed.build())


def place_order() -> DistributedTransaction:
    """Order first, then stock; a failed stock step deletes the order again."""
    create_order = WorkflowBuilder()
    create_order.add_node(orders.nodes["OrderCreateNode"], "create", {})

    cancel_order = WorkflowBuilder()
    cancel_order.add_node(orders.nodes["OrderDeleteNode"], "cancel", {})

    take_stock = WorkflowBuilder()
    take_stock.add_node(stock.nodes["ItemBulkUpdateNode"], "take", {})
    take_stock.add_node(RequireUpdated, "require", {})
    take_stock.add_connection("take", "updated", "require", "updated")

    def cancel(context: SagaContext, results: Any) -> dict[str, Any]:
        return {"cancel": {"id": results["create"]["id"]}}

    txn = DistributedTransaction("shop", log=orders, pattern="auto")  # SQLite cannot prepare: a saga
    txn.add_participant("orders", orders, create_order, compensation=cancel_order, compensation_params=cancel)
    txn.add_participant("stock", stock, take_stock)
    return txn


def order(txn: DistributedTransaction, customer: str, quantity: int) -> None:
    parameters = {
        "orders": {"create": {"customer": customer, "sku": "lamp", "quantity": quantity}},
        # Take the items only where enough are left; none taken means the order cannot be filled.
        "stock": {
            "take": {
                "filter": {"sku": "lamp", "on_hand": {"$gte": quantity}},
                "fields": {"on_hand": 5 - quantity},
            }
        },
    }
    try:
        outcome = txn.execute(parameters)
    except SagaError as error:
        print(f"{customer}: order undone ({error.step} failed), compensated: {list(error.compensated)}")
        return
    taken = outcome.results["stock"]["take"]["updated"]
    print(
        f"{customer}: {outcome.pattern} committed, order {outcome.results['orders']['create']['id']}, "
        f"{taken} stock row updated"
    )


def count(db: DataFlow, model: str) -> int:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes[f"{model}CountNode"], "count", {})
    results, _ = LocalRuntime().execute(workflow.build())
    return int(results["count"]["count"])


reset()
txn = place_order()
order(txn, "ann", 2)
order(txn, "bob", 9)  # more than is left: the stock step refuses, the order is deleted again
print("orders kept:", count(orders, "Order"))
orders.close()
stock.close()
