"""DataFlow's quickstart: a small sign-up service, in five steps.

1. Declare a model: DataFlow makes its table and eleven workflow nodes.
2. Sign Ann up and read her back: one node's output feeds the next.
3. Sign a thousand members up at once, then ask questions about them.
4. Welcome a sign-up only when a condition on its output holds.
5. Watch a transaction undo a write when a later step fails.

It runs on the zero-configuration default, an SQLite file (dataflow.db) in the
working directory; set DATAFLOW_DATABASE_URL to run it anywhere else. Run it as
often as you like: everyone is upserted by email, so every run tells the same
story; only step 3's counts show whether the members were new.
"""

from __future__ import annotations

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder, WorkflowError

# 1. A model. The table is created on first use; the nodes are UserCreateNode,
#    UserReadNode, UserUpsertNode, UserBulkUpsertNode, UserCountNode, ...
db = DataFlow()


@db.model
class User:
    name: str
    email: str
    age: int = 0
    active: bool = True
    __dataflow__ = {"unique": [("email",)], "indexes": [("age",)]}


runtime = LocalRuntime()

# 2. Ann signs up (an upsert: a second run updates her instead of failing on
#    her email), and a second node reads her back by the id the first returns.
workflow = WorkflowBuilder()
ann = {"name": "Ann", "email": "ann@example.com", "age": 31, "conflict_on": ["email"]}
workflow.add_node("UserUpsertNode", "sign_up", ann)
workflow.add_node("UserReadNode", "read", {})
workflow.add_connection("sign_up", "record.id", "read", "id")
results, _ = runtime.execute(workflow.build())
print(f"2. signed up {results['read']['name']}, age {results['read']['age']}")

# 3. A thousand members in one node; then two questions, answered side by side
#    (nodes that do not depend on each other run concurrently).
members = [{"name": f"member {i:04d}", "email": f"member{i}@example.com", "age": i % 60} for i in range(1000)]
workflow = WorkflowBuilder()
workflow.add_node("UserBulkUpsertNode", "load", {"data": members, "conflict_on": ["email"]})
load = runtime.execute(workflow.build())[0]["load"]
print(f"3. members: {load['inserted']} new, {load['updated']} updated")
workflow = WorkflowBuilder()
workflow.add_node("UserCountNode", "adults", {"filter": {"name": {"$like": "member %"}, "age": {"$gte": 18}}})
workflow.add_node("UserListNode", "oldest", {"order_by": ["-age", "name"], "limit": 3})
results, _ = runtime.execute(workflow.build())
print(f"   members aged 18 or over: {results['adults']['count']}")
print(f"   oldest: {', '.join(r['name'] for r in results['oldest']['records'])}")

# 4. A sign-up is welcomed (made active) only when the condition on the
#    upsert's output holds. One workflow, run once per person with parameters.
workflow = WorkflowBuilder()
workflow.add_node("UserUpsertNode", "sign_up", {"name": "", "email": "", "active": False, "conflict_on": ["email"]})
workflow.add_node("UserUpdateNode", "welcome", {"fields": {"active": True}})
workflow.add_connection("sign_up", "record.id", "welcome", "id", when="record.age >= 18")
for name, age in (("Cy", 40), ("Dee", 12)):
    person = {"name": name, "email": f"{name.lower()}@example.com", "age": age}
    results, _ = runtime.execute(workflow.build(), {"sign_up": person})
    print(f"4. {name}, {age}: {'welcomed' if 'welcome' in results else 'not welcomed: under 18'}")

# 5. In a transaction, a failing step undoes the steps before it: the
#    deactivation below is rolled back because the read after it fails.
count_young = WorkflowBuilder()
count_young.add_node("UserCountNode", "young", {"filter": {"age": {"$lt": 30}, "active": True}})
before = runtime.execute(count_young.build())[0]["young"]["count"]
workflow = WorkflowBuilder()
workflow.add_node("UserBulkUpdateNode", "deactivate", {"filter": {"age": {"$lt": 30}}, "fields": {"active": False}})
workflow.add_node("UserReadNode", "missing", {"id": 10**9})
workflow.add_connection("deactivate", "updated", "missing", "raise_on_not_found")
try:
    runtime.execute(workflow.build(), transaction=True)
except WorkflowError as error:
    print(f"5. node {error.node_id!r} failed ({type(error.cause).__name__}), so the run was rolled back")
after = runtime.execute(count_young.build())[0]["young"]["count"]
print(f"   active users under 30: {before} before, {after} after")
db.close()
