"""``dataflow init``: a starter project that runs at once on SQLite."""

from __future__ import annotations

from pathlib import Path

import click

FILES = {
    ".env": "DATAFLOW_DATABASE_URL=sqlite:///app.db\n",
    "models.py": '''"""The application's models. `dataflow migrate status --models models:db` reads them."""

from dataflow import DataFlow
from dataflow.config import read_env_file

read_env_file()  # DATAFLOW_DATABASE_URL from .env, unless the environment already sets it
db = DataFlow()


@db.model
class Task:
    title: str
    done: bool = False
    __dataflow__ = {"indexes": [("done",)], "timestamps": True}
''',
    "workflow.py": '''"""An example workflow: add a task, finish it, count what is left."""

from dataflow import LocalRuntime, WorkflowBuilder

from models import db


def main() -> dict:
    workflow = WorkflowBuilder()
    workflow.add_node("TaskCreateNode", "add", {"title": "try DataFlow"})
    workflow.add_node("TaskUpdateNode", "finish", {"fields": {"done": True}})
    workflow.add_node("TaskCountNode", "finished", {})
    workflow.add_connection("add", "id", "finish", "id")
    workflow.add_connection("finish", "done", "finished", "filter.done", when="done == true")
    results, _ = LocalRuntime().execute(workflow.build(), transaction=True)
    return results


if __name__ == "__main__":
    print(main())
''',
    "test_app.py": '''"""A first test: run it with pytest."""

from workflow import main


def test_a_finished_task_is_done() -> None:
    results = main()
    assert results["finish"]["done"] is True
    assert results["finished"]["count"] >= 1
''',
}


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Create a starter project in DIRECTORY: models, .env, an example workflow and a test."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [name for name in FILES if (directory / name).exists()]
    if existing and not force:
        raise click.ClickException(f"{', '.join(existing)} already exist in {directory}; pass --force to overwrite")
    for name, text in FILES.items():
        (directory / name).write_text(text)
        click.echo(f"created {directory / name}")
    click.echo(f"\nnext: cd {directory} && python workflow.py && python -m pytest")
