"""The ``dataflow`` command line. Plugins add subcommands through ``dataflow_register_commands``."""

from __future__ import annotations

import json

import click

from .commands.doctor import doctor
from .commands.init import init
from .commands.inspectdb import inspectdb
from .commands.migrate import migrate
from .commands.shell import shell
from .config import read_env_file
from .errors import ConfigError
from .plugins import plugin_host

PROCESS_HOOKS = (
    "dataflow_register_dialects",
    "dataflow_register_bulk_strategies",
    "dataflow_register_node_types",
    "dataflow_register_model_options",
)
"""The hooks called once per process, which ``dataflow plugins`` calls to find failing plugins."""


@click.group(help="DataFlow: zero-configuration, workflow-native database access.")
@click.version_option(package_name="dataflow-core")
def main() -> None:
    pass


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def plugins_command(as_json: bool) -> None:
    """List the plugins that loaded: name, distribution, version and hooks; and those that failed.

    Exits with status 1 when a plugin failed to load or to answer a hook, so that a
    deployment check catches a half-installed plugin.
    """
    host = plugin_host()
    try:
        infos = host.info()
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    for hook in PROCESS_HOOKS:
        host.collect(hook)  # a plugin failing in one of these shows among the problems
    problems = list(dict.fromkeys(host.problems))
    if as_json:
        listed = [
            {"name": i.name, "distribution": i.distribution, "version": i.version, "hooks": list(i.hooks)}
            for i in infos
        ]
        failed = [{"plugin": p.plugin, "where": p.where, "error": p.error} for p in problems]
        click.echo(json.dumps({"plugins": listed, "problems": failed}, indent=2))
        if problems:
            raise SystemExit(1)
        return
    if not infos:
        click.echo("no plugins loaded")
    for info in infos:
        origin = f"{info.distribution} {info.version}" if info.distribution else "registered in process"
        click.echo(f"{info.name} ({origin})")
        for hook in info.hooks:
            click.echo(f"    {hook}")
    for problem in problems:
        click.echo(f"problem: plugin {problem.plugin!r} failed in {problem.where}: {problem.error}", err=True)
    if problems:
        raise SystemExit(1)


def _add_builtin_commands() -> None:
    for command in (migrate, init, shell, doctor, inspectdb):
        main.add_command(command)


_add_builtin_commands()


def build_cli() -> click.Group:
    """The ``dataflow`` group with the subcommands plugins register."""
    group = click.Group(name="dataflow", help=main.help, commands=dict(main.commands), params=list(main.params))
    for command in plugin_host().collect("dataflow_register_commands"):
        if command.name in group.commands:
            raise click.ClickException(f"a plugin registers command {command.name!r}, which already exists")
        group.add_command(command)
    return group


def run() -> None:
    """Entry point of the ``dataflow`` script; reads ``.env`` in the working directory first."""
    read_env_file()
    try:
        cli = build_cli()
    except ConfigError as exc:
        # A misspelt DATAFLOW_PLUGINS fails before any command runs: say it the way click says errors.
        click.echo(f"Error: {exc.message}", err=True)
        raise SystemExit(1) from None
    cli()
