"""DataFlow's quickstart: a model, its nodes, a workflow, a transaction, bulk writes.

Runs on the zero-configuration default, an SQLite file (dataflow.db) in the
working directory; set DATAFLOW_DATABASE_URL to run it anywhere else. Safe to
run again: it upserts instead of creating duplicates.
"""

from __future__ import annotations

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder, WorkflowError

db = DataFlow()


@db.model
class User:
    name: str
    email: str
    age: int = 0
    active: bool = True
    __dataflow__ = {"unique": [("email",)], "indexes": [("age",)]}


runtime = LocalRuntime()

# One workflow: upsert a user, then read it back through a connection.
workflow = WorkflowBuilder()
workflow.add_node(
    "UserUpsertNode", "ann", {"name": "Ann", "email": "ann@example.com", "age": 31, "conflict_on": ["email"]}
)
workflow.add_node("UserReadNode", "read", {})
workflow.add_connection("ann", "record.id", "read", "id")
results, run_id = runtime.execute(workflow.build())
print("read back:", results["read"])

# Bulk: 1,000 users in one node, measured counts from a bulk upsert.
team = [{"name": f"user {i}", "email": f"user{i}@example.com", "age": 18 + i % 50} for i in range(1000)]
workflow = WorkflowBuilder()
workflow.add_node("UserBulkUpsertNode", "load", {"data": team, "conflict_on": ["email"]})
workflow.add_node("UserListNode", "oldest", {"filter": {"age": {"$gte": 60}}, "order_by": ["-age", "name"], "limit": 3})
workflow.add_node("UserCountNode", "adults", {"filter": {"age": {"$gte": 18}, "active": True}})
workflow.add_connection("load", "inserted", "adults", "filter.age.$gte", when="inserted == 0")
results, _ = runtime.execute(workflow.build())
print("bulk upsert:", results["load"])
print("oldest:", [r["name"] for r in results["oldest"]["records"]])
print("adults:", results.get("adults", {}).get("count", "skipped: the condition was false"))

# A transaction: the failing read rolls back the deactivation before it.
workflow = WorkflowBuilder()
workflow.add_node("UserBulkUpdateNode", "deactivate", {"filter": {"age": {"$lt": 30}}, "fields": {"active": False}})
workflow.add_node("UserReadNode", "missing", {"id": 10**9})
workflow.add_connection("deactivate", "updated", "missing", "raise_on_not_found")
try:
    runtime.execute(workflow.build(), transaction=True)
except WorkflowError as error:
    print("rolled back:", error.node_id, "failed:", error.cause)

workflow = WorkflowBuilder()
workflow.add_node("UserCountNode", "inactive", {"filter": {"active": False}})
results, _ = runtime.execute(workflow.build())
print("inactive after rollback:", results["inactive"]["count"])
db.close()
