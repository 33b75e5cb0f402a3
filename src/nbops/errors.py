"""The one exception tree of nbops.

    NbopsError                      root; every error nbops raises on purpose
    ├── ConfigError                 malformed .nbops/config.toml or environment
    ├── WorkspaceNotFound           no .nbops/ found and creation not allowed
    ├── InvalidName                 a run, artifact or parameter name nbops refuses
    ├── CatalogError                the catalog could not be opened or written
    │   ├── ExtensionMissing        a DuckDB extension is not installed
    │   ├── CatalogTooNew           the catalog was written by a newer nbops
    │   └── CatalogBusy             lock conflicts outlasted every retry
    ├── StoreError                  the object store failed
    │   ├── ObjectCorrupted         an object's bytes no longer match its key
    │   └── ObjectMissing           a referenced object is not in the store
    ├── NotFound                    a run, artifact or reference does not exist
    └── UnsupportedObject           a value nbops cannot (or may not) serialize

Each error carries structured fields besides its message, and a ``hint``
that says what to do; the CLI prints both and exits with ``exit_code``.
"""

from __future__ import annotations


class NbopsError(Exception):
    """Root of every error nbops raises on purpose."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(NbopsError):
    exit_code = 2
    http_status = 400


class WorkspaceNotFound(NbopsError):
    exit_code = 2
    http_status = 404


class InvalidName(NbopsError):
    exit_code = 2
    http_status = 400


class CatalogError(NbopsError):
    pass


class ExtensionMissing(CatalogError):
    def __init__(self, extension: str, *, hint: str | None = None) -> None:
        self.extension = extension
        super().__init__(
            f"DuckDB extension {extension!r} is not available",
            hint=hint or f"pip install duckdb-extension-{extension}==1.5.5",
        )


class CatalogTooNew(CatalogError):
    def __init__(self, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            f"the catalog has schema version {found}, this nbops knows up to {supported}",
            hint="upgrade nbops: pip install -U nbops",
        )


class CatalogBusy(CatalogError):
    http_status = 503


class StoreError(NbopsError):
    pass


class ObjectCorrupted(StoreError):
    def __init__(self, key: str, actual: str) -> None:
        self.key = key
        self.actual = actual
        super().__init__(
            f"object {key} is corrupted: its bytes hash to {actual}",
            hint="re-log the value, or restore the object file from a backup",
        )


class ObjectMissing(StoreError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"object {key} is missing from the store", hint="run `nbops doctor`")


class NotFound(NbopsError):
    http_status = 404


class UnsupportedObject(NbopsError):
    http_status = 400
