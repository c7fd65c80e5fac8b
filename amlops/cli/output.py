"""How the CLI writes to a terminal: consoles that print user text literally, styled labels, a status line.

Rich parses `[...]` as markup and `:name:` as emoji in any string it prints, so a request id
`[/x]` crashes a print and `secure: v1:abc:def` turns into a picture. Every console here has
markup, emoji and highlighting off; style comes only from `Text` spans built in code.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from rich.console import Console
from rich.text import Text


def plain_console(stderr: bool = False) -> Console:
    """A console that prints strings as they are (no markup, no emoji codes, no highlighting).

    Lines are soft-wrapped: the terminal wraps a long message, so a copied line stays one line.
    """
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True)


out = plain_console()
err = plain_console(stderr=True)


def labelled(label: str, style: str, message: str) -> Text:
    """`label message` with only the label styled, e.g. a red `error:` before a literal message."""
    return Text.assemble((label, style), " ", message)


@contextlib.contextmanager
def status(message: str, console: Console | None = None) -> Iterator[None]:
    """A spinner with `message` on stderr while a long step runs, only when stderr is a terminal.

    Piped or redirected output (CI logs, `--format json > file`) gets nothing extra.
    """
    console = console or err
    if not console.is_terminal:
        yield
        return
    with console.status(Text(message)):
        yield
