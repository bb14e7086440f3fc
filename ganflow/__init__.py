"""ganflow: the CLI façade over ``training``, ``tuning``, ``serving`` and ``feature_gan``."""

__all__ = ["main"]


def main() -> None:
    from ganflow.cli import main as cli_main

    cli_main()
