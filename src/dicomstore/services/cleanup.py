"""Removing bytes whose index rows are gone.

Always after the transaction that deleted the rows has committed: if this step fails or the
process dies, what is left are orphan blobs (which a sweep can remove), never rows without bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

from dicomstore.blobs import BlobStore

__all__ = ["remove_blobs", "remove_store_blobs"]


def remove_blobs(blobs: BlobStore, keys: Iterable[str]) -> None:
    for key in keys:
        blobs.delete(key)


def remove_store_blobs(blobs: BlobStore, blob_prefixes: Iterable[str]) -> None:
    """Every blob of deleted stores (each store's blobs live under its own random prefix)."""
    for prefix in blob_prefixes:
        remove_blobs(blobs, list(blobs.keys(f"{prefix}/")))
