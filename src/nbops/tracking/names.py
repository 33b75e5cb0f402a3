"""Validation of user-given names and parsing of references like ``clf@v3``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbops.errors import InvalidName

_ARTIFACT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/ :]{0,249}$")


def check_artifact_name(name: str) -> str:
    if not isinstance(name, str) or not _ARTIFACT.match(name) or ".." in name:
        raise InvalidName(
            f"invalid artifact name {name!r}",
            hint="use letters, digits, '_', '-' and '.', at most 128 characters, no '/' or '..'",
        )
    return name


def check_key(key: str, what: str = "parameter") -> str:
    if not isinstance(key, str) or not _KEY.match(key) or ".." in key:
        raise InvalidName(
            f"invalid {what} name {key!r}",
            hint="use letters, digits, '_', '-', '.', '/', ':' and spaces, at most 250 characters",
        )
    return key


@dataclass(frozen=True)
class Ref:
    """``name``, ``name@vN``, ``name@latest``, ``name@alias`` or ``RUN/name``."""

    name: str
    run_id: str | None = None
    version: int | None = None
    alias: str | None = None


def parse_ref(text: str) -> Ref:
    text = text.strip()
    run_id = None
    if "/" in text:
        run_id, _, text = text.partition("/")
    name, _, tag = text.partition("@")
    check_artifact_name(name)
    if not tag or tag == "latest":
        return Ref(name, run_id)
    m = re.fullmatch(r"v(\d+)", tag)
    if m:
        return Ref(name, run_id, version=int(m.group(1)))
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,63}", tag):
        raise InvalidName(f"invalid reference {text!r}", hint="use NAME, NAME@vN, NAME@latest or NAME@ALIAS")
    return Ref(name, run_id, alias=tag)
