"""``dataflow monitor``: a live table of a running application's monitor.

The application serves its snapshot with ``start_http_server(db)``; the
command reads ``/snapshot`` from it every ``--interval`` seconds and prints
top statements, pool and lock waits. ``--once`` prints one table and exits.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from typing import Any

import click


def fetch_snapshot(url: str, top: int, timeout: float = 5.0) -> dict[str, Any]:
    target = url.rstrip("/")
    if not target.endswith("/snapshot"):
        target += "/snapshot"
    with urllib.request.urlopen(f"{target}?top={top}", timeout=timeout) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def _short(sql: str, width: int) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def render(snapshot: dict[str, Any], width: int = 120) -> str:
    """The table for one snapshot of one or more databases."""
    lines: list[str] = []
    for db in snapshot.get("databases", []):
        statements = db["statements"]
        transactions = db["transactions"]
        lines.append(f"== {db['database']} ({db['dialect']})")
        lines.append(
            f"statements {statements['total']}  errors {statements['errors']}  slow {statements['slow']}  "
            f"commits {transactions['commit']}  rollbacks {transactions['rollback']}  "
            f"retries {db.get('transaction_retries', {}).get('count', 0)}  "
            f"deadlocks {db['deadlocks']['count']}  lock waits {db['lock_waits']['count']}  "
            f"conflicts {db['concurrent_update_conflicts']}  lost updates {db['possible_lost_updates']['count']}"
        )
        pool = db.get("pool")
        if pool:
            lines.append(
                f"pool: size {pool['size']}  in use {pool['in_use']}  idle {pool['idle']}  waiting {pool['waiting']}"
            )
        else:
            lines.append("pool: not open")
        sql_width = max(20, width - 52)
        lines.append("")
        lines.append(
            f"{'top statements':<{sql_width}} {'count':>8} {'total s':>9} {'mean ms':>9} {'max ms':>9} {'err':>4}"
        )
        for row in db["top_statements"]:
            lines.append(
                f"{_short(row['sql'], sql_width):<{sql_width}} {row['count']:>8} {row['seconds']:>9.3f} "
                f"{row['mean_seconds'] * 1000:>9.2f} {row['max_seconds'] * 1000:>9.2f} {row['errors']:>4}"
            )
        waits = db["lock_waits"]["recent"]
        watching = "watching" if db["lock_waits"]["watching"] else "watcher not running"
        lines.append("")
        lines.append(f"lock waits ({watching}):" + ("" if waits else " none"))
        for wait in waits:
            chain = wait["chain"]
            behind = " <- ".join(f"{w['session']}: {_short(w['statement'] or '(idle in transaction)', 60)}"
                                 for w in chain[1:])  # fmt: skip
            lines.append(
                f"  {chain[0]['session']} waited {wait['waited']:.2f}s on "
                f"{_short(chain[0]['statement'] or '?', 60)} <- {behind}"
            )
        slow = db["slow_statements"]
        if slow:
            lines.append("")
            lines.append("slow statements:")
            for entry in slow:
                lines.append(f"  {entry['duration'] * 1000:9.1f} ms  {_short(entry['sql'], sql_width)}")
        lines.append("")
    return "\n".join(lines)


@click.command("monitor")
@click.option("--url", default="http://127.0.0.1:9464", show_default=True,
              help="Where the application serves its monitor (dataflow_monitor.start_http_server).")  # fmt: skip
@click.option("--interval", default=2.0, show_default=True, help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Print one table and exit.")
@click.option("--top", default=10, show_default=True, help="Statements to show, by total time.")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON (implies --once).")
def monitor_command(url: str, interval: float, once: bool, top: int, as_json: bool) -> None:
    """Show a live table of a running application's statements, pool and lock waits."""
    while True:
        try:
            snapshot = fetch_snapshot(url, top)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read the monitor at {url}: {exc}") from None
        if as_json:
            click.echo(json.dumps(snapshot, indent=2, default=str))
            return
        if not once:
            click.clear()
        click.echo(render(snapshot, width=120 if once else shutil.get_terminal_size().columns))
        if once:
            return
        time.sleep(interval)
