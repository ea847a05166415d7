"""Blob keys: ``/``-separated relative paths of safe segments, the same for every backend.

A key such as ``stores/7f3a…/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5`` must name the same
object on a local filesystem and in an object store, so the rules are the strictest of both: no
empty segment, no ``.`` or ``..``, no backslash or NUL, no leading ``/``, and nothing that could
escape the store's root or be mistaken for its own bookkeeping (segments starting with
:data:`RESERVED_PREFIX`). A key fits the index column that names it (``instances.blob_key``,
512 characters) and an object-store object name (1024 UTF-8 bytes); a segment fits a POSIX file
name (255 UTF-8 bytes).
"""

from __future__ import annotations

from dicomstore.errors import InvalidArgument

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_KEY_CHARACTERS",
    "MAX_SEGMENT_BYTES",
    "RESERVED_PREFIX",
    "is_valid_segment",
    "parents",
    "validate_key",
]

#: Segments starting with this belong to the store itself (temporary files, the staging folder).
RESERVED_PREFIX = ".dicomstore-"
#: The index's ``instances.blob_key`` column is ``VARCHAR(512)``.
MAX_KEY_CHARACTERS = 512
#: S3 and GCS object names are at most 1024 bytes of UTF-8.
MAX_KEY_BYTES = 1024
#: NAME_MAX on the filesystems we run on.
MAX_SEGMENT_BYTES = 255


def validate_key(key: str) -> str:
    """Check that ``key`` is a valid blob key and return it unchanged.

    Parameters
    ----------
    key : str
        A ``/``-separated relative path, for example ``"store/1.2.3/1.2.3.4/1.2.3.4.5"``.

    Returns
    -------
    str
        ``key`` itself, so a call can be inlined.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If ``key`` is not a string, is empty or too long, starts with ``/``, contains a backslash
        or NUL, or has an empty, ``.``, ``..``, reserved or over-long segment.
    """
    if not isinstance(key, str):
        raise InvalidArgument(f"blob key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidArgument("blob key is empty")
    if key.startswith("/"):
        raise InvalidArgument(f"blob key {key!r} must be relative (no leading '/')")
    if "\\" in key:
        raise InvalidArgument(f"blob key {key!r} contains a backslash")
    if "\x00" in key:
        raise InvalidArgument(f"blob key {key!r} contains a NUL character")
    if len(key) > MAX_KEY_CHARACTERS:
        raise InvalidArgument(f"blob key is longer than {MAX_KEY_CHARACTERS} characters")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"blob key {key!r} is not valid Unicode") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidArgument(f"blob key is longer than {MAX_KEY_BYTES} bytes of UTF-8")
    for segment in key.split("/"):
        if not segment:
            raise InvalidArgument(f"blob key {key!r} has an empty segment")
        if segment in (".", ".."):
            raise InvalidArgument(f"blob key {key!r} has a {segment!r} segment")
        if segment.startswith(RESERVED_PREFIX):
            raise InvalidArgument(
                f"blob key {key!r} has a segment starting with the reserved {RESERVED_PREFIX!r}"
            )
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidArgument(
                f"blob key {key!r} has a segment longer than {MAX_SEGMENT_BYTES} bytes"
            )
    return key


def is_valid_segment(name: str) -> bool:
    """Whether ``name`` may be one segment of a key (used to skip foreign files when listing)."""
    try:
        validate_key(name)
    except InvalidArgument:
        return False
    return "/" not in name


def parents(key: str) -> list[str]:
    """The proper prefixes of a valid key at segment boundaries: ``"a/b/c"`` → ``["a", "a/b"]``."""
    segments = key.split("/")
    return ["/".join(segments[:end]) for end in range(1, len(segments))]
