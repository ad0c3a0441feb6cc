"""What the commands print: lines on stdout, tables with titles, one-line errors and warnings on stderr."""
from __future__ import annotations

import sys
from typing import Sequence, TextIO

import pandas as pd


def say(text: str = "") -> None:
    """Write one line of command output to stdout (the CLI's interface, not logging)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def error_line(text: str) -> None:
    """Write one ``error: ...`` line to stderr (the command's output on stdout stays clean for pipes)."""
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()


def indent(text: str, pad: str = "     ") -> str:
    return "\n".join(pad + line for line in text.splitlines())


def table(frame: pd.DataFrame, titles: pd.Series, columns: Sequence[str] = ("rank", "title", "domain", "score")) -> str:
    """A recommendation frame as text, with each item's title (``titles``: item id -> title)."""
    shown = frame.assign(title=frame["item_id"].map(titles).str.slice(0, 60), score=frame["score"].round(2))
    return shown[list(columns)].to_string(index=False)


def warn_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
              file: TextIO | None = None, line: str | None = None) -> None:
    """Show a warning as one ``warning: ...`` line on stderr (no source location: users did not write it)."""
    sys.stderr.write(f"warning: {message}\n")
