"""Content-addressed object store: keys are hashes of the stored bytes."""

from nbops.store.objects import ObjectStore, open_store

__all__ = ["ObjectStore", "open_store"]
