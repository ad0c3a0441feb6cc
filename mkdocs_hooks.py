"""MkDocs hook: the Sphinx roles of the docstrings (:func:`~a.b`, :meth:`c`) become cross-references.

The docstrings are numpydoc and also read by ``help()``, so they keep Sphinx's roles. mkdocstrings
renders such a role as its name followed by code; this turns it into an optional autorefs
reference, which mkdocs-autorefs links when the target is on the site and leaves as code when not.
"""
from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|obj|exc):<code>(~?)([\w.]+)</code>")


def _reference(match: re.Match) -> str:
    path = match.group(2)
    title = path.rsplit(".", 1)[-1] if match.group(1) else path
    return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_reference, html)
