"""The built-in subcommands of ``dataflow``: migrate, init, shell, doctor, inspectdb."""
