"""Shared by the importers: reading a JSON file, and the error that rejects a whole import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ImportRejected(ValueError):
    """The input cannot be imported as a whole. The message names the problem and where it is."""


def read_json(path: str | Path) -> Any:
    """The decoded file. Its messages follow the file name: "x.json: not valid JSON (...)"."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportRejected(f"cannot be read ({exc.strerror})") from None
    try:
        return json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise ImportRejected(f"not valid JSON ({exc})") from None


def describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in sorted(value)[:6])
        return f"an object with keys {keys}" if keys else "an empty object"
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
