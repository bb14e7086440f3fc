"""ganflow: the CLI façade over ``training``, ``tuning`` and ``serving``."""

__all__ = ["main"]


def main() -> None:
    from ganflow.cli import main as cli_main

    cli_main()
