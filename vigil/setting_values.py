"""How a setting's value, from a file, a variable or a flag, becomes a typed value.

Each parser takes what TOML or the environment gave (a string, a number, a list) and returns
the value or raises ``ValueError`` with what is expected; :mod:`vigil.settings` adds which
setting and where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def algorithm_names(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    if not names:
        raise ValueError("at least one algorithm is required")
    return names


def int_in(low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = int(value)
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise ValueError(f"must be {bound}")
        return number

    return parse


def positive_float(value: Any) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be > 0")
    return number


def non_negative_float(value: Any) -> float:
    number = float(value)
    if not number >= 0:
        raise ValueError("must be >= 0")
    return number


def store_url(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("must be a SQLite file path or a postgresql:// URL")
    if "://" in text and not text.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
        raise ValueError("must be a SQLite file path, sqlite:///path or postgresql://user@host/db")
    return text


def url(value: Any) -> str:
    text = str(value).strip()
    if "://" not in text:
        raise ValueError("must be a URL such as amqp://host:5672// or redis://host:6379/0")
    return text


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def text(value: Any) -> str:
    return str(value).strip()


def fraction(value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError("must be between 0 and 1")
    return number


def existing_file(value: Any) -> str:
    text = str(value).strip()
    if text and not os.path.isfile(text):
        raise ValueError(f"no such file: {text}")
    return text
