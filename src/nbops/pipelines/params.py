"""Pipeline parameters: ``-p NAME VALUE`` pairs typed like papermill's, plus YAML text or files."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nbops.errors import NbopsError


class ParameterError(NbopsError):
    exit_code = 2
    http_status = 400


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"True"`` -> True, ``"None"`` -> None, else the string."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text in ("None", "none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _yaml_mapping(text: str, where: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(f"{where} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"{where} must be a mapping of parameter names to values")
    return {str(k): v for k, v in data.items()}


def collect_parameters(pairs: Iterable[tuple[str, str]] = (), *, yaml_text: str | None = None,
                       yaml_file: str | Path | None = None,
                       base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge parameters: ``base``, then the YAML file, then YAML text, then ``-p`` pairs win."""
    params: dict[str, Any] = dict(base or {})
    if yaml_file is not None:
        path = Path(yaml_file)
        if not path.is_file():
            raise ParameterError(f"no parameters file {path}")
        params.update(_yaml_mapping(path.read_text(), str(path)))
    if yaml_text:
        params.update(_yaml_mapping(yaml_text, "the -y parameters"))
    for name, value in pairs:
        params[name] = parse_value(value)
    return check_parameters(params)


def check_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters must be identifiers with JSON-representable values (they are recorded as JSON)."""
    for name in params:
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(f"parameter name {name!r} is not a Python identifier")
    try:
        json.dumps(dict(params), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"parameters must be JSON values (numbers, strings, lists, maps): {exc}") from exc
    return dict(params)
