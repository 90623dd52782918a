"""The project's errors: what a job may raise on purpose, with a message for the person
who runs it.

`DmdeError` is every error a job declares; the `dmde` command prints its message as one
paragraph and exits with its `exit_code`, never with a traceback. `ConfigError` is a
configuration problem, located: one `file: key path: problem` line per issue.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class DmdeError(RuntimeError):
    """An error a job raises on purpose: its message says what happened and what to do."""

    exit_code = 1


@dataclass(frozen=True)
class Issue:
    """One problem: where (file, then key path or CSV row/column) and what."""

    source: str
    path: str
    problem: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.path, self.problem) if part)


class ConfigError(DmdeError, ValueError):
    """A configuration problem; the message has one `file: path: problem` line per issue."""

    exit_code = 2

    def __init__(self, source: object, path: str, problem: str) -> None:
        self.issues: tuple[Issue, ...] = (Issue(display(source), path, problem),)
        super().__init__(str(self))

    @classmethod
    def from_issues(cls, issues: Iterable[Issue]) -> ConfigError:
        issues = tuple(issues)
        if not issues:
            raise ValueError("a ConfigError needs at least one issue")
        error = cls.__new__(cls)
        error.issues = issues
        ValueError.__init__(error, str(error))
        return error

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class UnknownNameError(ConfigError, KeyError):
    """A table, model, variable or Caf name that the configuration does not define."""

    def __str__(self) -> str:  # KeyError would quote the message
        return ConfigError.__str__(self)


class Problems(ValueError):
    """Raised by model validators: problems at key paths relative to the validated object,
    so that a ConfigError points at the exact key rather than at the whole object."""

    def __init__(self, problems: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{format_path(loc)}: {msg}" for loc, msg in self.problems))


def raise_problems(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    if problems:
        raise Problems(problems)


def display(source: object) -> str:
    """A file as the user would type it: relative to the current directory when inside it."""
    text = str(source)
    if text.startswith("<") or not isinstance(source, (str, Path)):
        return text
    try:
        return str(Path(source).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return text


def format_path(loc: Sequence[str | int]) -> str:
    """('variables', 3, 'modalities') -> 'variables[3].modalities'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_\-]+", str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return out


def got(value: object) -> str:
    """' (got …)': the offending value, shortened, for a message."""
    text = repr(value)
    return f" (got {text if len(text) <= 80 else text[:77] + '...'})"
