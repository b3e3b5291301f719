"""An example third-party DataFlow plugin: counts the statements each DataFlow instance runs."""
