"""Click options derived from the config dataclasses, so CLI defaults cannot drift from them."""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from training.config import DataConfig, RunOptions, TraceGANConfig
from training.errors import GanflowError

__all__ = ["AliasChoice", "OneLineErrors", "dataclass_options", "split_kwargs", "handle_errors", "option_names", "seed_recipe_kwargs",
           "seed_recipe_option"]


def option_names(f: dataclasses.Field) -> list[str]:
    """``--seq_len``, ``--seq-len`` and any extra spellings from the field's metadata."""
    names = [f"--{f.name}"]
    if "_" in f.name:
        names.append(f"--{f.name.replace('_', '-')}")
    names.extend(n for n in f.metadata.get("cli", ()) if n not in names)
    return names


def _click_type(f: dataclasses.Field) -> Any:
    default = f.default
    if isinstance(default, bool):
        return bool
    if isinstance(default, (int, float)):
        return type(default)
    return str


class AliasChoice(click.Choice):
    """A choice that also accepts earlier spellings (``aliases``: old -> current), turned into the
    current name; help and errors list the current names only."""

    def __init__(self, choices: list[str], aliases: dict[str, str]) -> None:
        super().__init__(list(choices))
        self.aliases = dict(aliases)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(self.aliases.get(value, value), param, ctx)


def dataclass_options(cls: type, *, exclude: tuple[str, ...] = (),
                      choices: dict[str, Callable[[], list[str] | click.ParamType]] | None = None,
                      defaults: dict[str, Any] | None = None) -> Callable:
    """Decorator adding one click option per field of ``cls`` (defaults from the dataclass, or
    from ``defaults`` where a command documents a different one); ``choices`` give a field a
    list of values or a click type."""
    choices, defaults = choices or {}, defaults or {}

    def deco(fn: Callable) -> Callable:
        for f in reversed(dataclasses.fields(cls)):
            if f.name in exclude:
                continue
            default = defaults.get(f.name, f.default)
            if isinstance(default, tuple):
                default = ",".join(default)
            kind = choices[f.name]() if f.name in choices else _click_type(f)
            kind = click.Choice(kind) if isinstance(kind, list) else kind
            fn = click.option(*option_names(f), f.name, type=kind, default=default,
                              show_default=True, help=f.metadata.get("help"))(fn)
        return fn
    return deco


def split_kwargs(kwargs: dict[str, Any], *classes: type) -> tuple[Any, ...]:
    """Build each dataclass in ``classes`` (default: DataConfig, TraceGANConfig, RunOptions) from
    the kwargs named like its fields; the leftover kwargs come last."""
    rest = dict(kwargs)
    built = []
    for cls in classes or (DataConfig, TraceGANConfig, RunOptions):
        names = [f.name for f in dataclasses.fields(cls)]
        built.append(cls(**{n: rest.pop(n) for n in names if n in rest}))
    return (*built, rest)


def seed_recipe_kwargs(ctx: click.Context) -> dict[str, Any]:
    """The reference recipe's preprocessing and rates as command kwargs, except options given explicitly."""
    from training.config import SEED_RECIPE

    return {k: ",".join(v) if isinstance(v, tuple) else v for k, v in SEED_RECIPE.items()
            if ctx.get_parameter_source(k) in (click.core.ParameterSource.DEFAULT, None)}


class OneLineErrors(click.Group):
    """A group whose usage errors (unknown option, bad choice, missing value) are one line on
    stderr and exit code 2, like every other input error, instead of click's three-line block."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("standalone_mode", None)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def handle_errors(fn: Callable) -> Callable:
    """Turn a ``GanflowError`` (or an ``OSError`` such as a full disk or an unwritable folder)
    into one line on stderr and exit code 2 (no traceback; ``-vv`` logs it)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (GanflowError, OSError) as exc:
            logging.getLogger("ganflow").debug("error", exc_info=True)
            click.echo(f"error: {exc}".replace("\n", " "), err=True)
            sys.exit(2)
    return wrapper


def seed_recipe_option(fn: Callable) -> Callable:
    return click.option("--seed_recipe", "--seed-recipe", type=bool, default=False, show_default=True,
                        help="the reference recipe's preprocessing and rates (docs/REFERENCE.md: feature_mode absolute, "
                             "no log1p, lrG 2e-5, lrD 3e-5, 1 D : 2 G); options given explicitly still win")(fn)
