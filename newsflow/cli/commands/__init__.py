"""One module per command. Each defines plain Typer-annotated functions (or a sub-app for a
command group) and imports only ``newsflow.cli.base`` from the CLI; ``newsflow.cli.main``
registers them. Implementations are imported inside the functions, so ``--help`` stays fast."""
