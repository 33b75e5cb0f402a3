"""Errors of the model server; each knows its HTTP status (``nbops.errors`` tree).

    NbopsError
    ├── Unauthorized      no API key, or an unknown/revoked one            (401)
    ├── BadRequest        the body is not JSON, or not rows/columns        (400)
    │   └── InvalidInput  a field is missing, unknown or of the wrong type  (422)
    └── (PermissionDenied from nbops.governance.errors: role too low        403)
"""

from __future__ import annotations

from nbops.errors import NbopsError


class Unauthorized(NbopsError):
    http_status = 401
    exit_code = 3


class BadRequest(NbopsError):
    http_status = 400
    exit_code = 2


class InvalidInput(BadRequest):
    """Carries the offending ``field`` (None when the problem is the shape of the body)."""

    http_status = 422

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field
