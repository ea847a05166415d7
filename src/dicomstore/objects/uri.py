"""Object URIs of import sources and export destinations, and the import wildcards.

``dicomStores.import`` reads ``gcsSource.uri`` and ``dicomStores.export`` writes under
``gcsDestination.uriPrefix``; a filter file is named by ``filterConfig.resourcePathsGcsUri``
(``shared/spec/store-features.md`` §6–§8). Google accepts ``gs://{bucket}/{object}``; dicomstore
also accepts ``s3://{bucket}/{key}`` and ``file:///{absolute/path}``.

Import wildcards (§7) apply to the object part only:

- ``*`` — zero or more characters, never ``/``;
- ``?`` — exactly one character, never ``/``;
- ``**`` — zero or more characters including ``/``; it must be the only wildcard and end the
  path, optionally followed by an extension: ``gs://b/dir/**.dcm`` is every ``.dcm`` under
  ``dir/``, at any depth.

Any other use of ``*`` is refused with INVALID_ARGUMENT. Bucket URIs are taken literally, as
Google takes them (``gs://b/a%20b`` names the object ``a%20b``); file URIs are percent-decoded as
RFC 8089 says (``file:///tmp/a%20b`` is the path ``/tmp/a b``, what :meth:`pathlib.Path.as_uri`
writes), before wildcards are looked for. An object whose name contains ``*`` or ``?`` can only
be imported through a wildcard. Everything here is pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NoReturn
from urllib.parse import unquote

from dicomstore.errors import InvalidArgument

__all__ = [
    "SCHEMES",
    "ObjectPattern",
    "ObjectUri",
    "export_prefix",
    "parse_import_pattern",
    "parse_object_uri",
]

#: The URI schemes of object storage, in the order error messages list them.
SCHEMES = ("gs", "s3", "file")

# Cloud Storage and S3 both cap object names at 1024 bytes of UTF-8; Linux paths at 4096.
_MAX_NAME_BYTES = {"gs": 1024, "s3": 1024, "file": 4095}
# Bucket names: 3–63 lowercase letters, digits, "-", "." (and "_" on Cloud Storage), starting and
# ending with a letter or digit. Cloud Storage allows dotted names up to 222 characters whose
# dot-separated parts are at most 63 each.
_GCS_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]", re.ASCII)
_S3_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", re.ASCII)
_IPV4_RE = re.compile(r"\d+\.\d+\.\d+\.\d+", re.ASCII)
_SHOWN_LENGTH = 200
_EXPECTED = "expected gs://bucket/object, s3://bucket/key or file:///absolute/path"
_WILDCARDS = ("*", "?")


@dataclass(frozen=True, slots=True)
class ObjectUri:
    """An object (or a name prefix) in a bucket, or a path on the local filesystem.

    Build one with :func:`parse_object_uri`, which validates it.

    Attributes
    ----------
    scheme : str
        ``"gs"``, ``"s3"`` or ``"file"``.
    bucket : str
        The bucket name; ``""`` for ``file``.
    name : str
        The object name inside the bucket, possibly ``""`` (the bucket itself). For ``file``, the
        absolute path without its leading ``/``.
    """

    scheme: str
    bucket: str
    name: str

    def __str__(self) -> str:
        """The URI text: ``gs://bucket/name``, ``s3://bucket/name`` or ``file:///name``.

        :func:`parse_object_uri` gives back an equal URI (``%`` in a file path is written ``%25``).
        """
        if self.scheme == "file":
            return "file:///" + self.name.replace("%", "%25")
        return f"{self.scheme}://{self.bucket}/{self.name}"

    def child(self, relative: str) -> ObjectUri:
        """This URI with ``relative`` appended after exactly one ``/``.

        ``gs://b/dir`` and ``gs://b/dir/`` both give ``gs://b/dir/{relative}``; the bucket root
        ``gs://b/`` gives ``gs://b/{relative}``.

        Raises
        ------
        ValueError
            If ``relative`` is empty or starts with ``/`` (a programming error, not a request's).
        """
        if not relative or relative.startswith("/"):
            raise ValueError(f"not a relative object name: {relative!r}")
        base = self.name if not self.name or self.name.endswith("/") else self.name + "/"
        return replace(self, name=base + relative)


def parse_object_uri(text: str, *, field: str) -> ObjectUri:
    """Parse and validate an object URI given in the request field ``field``.

    Parameters
    ----------
    text : str
        ``gs://bucket[/object]``, ``s3://bucket[/key]`` or ``file:///absolute/path``
        (``file://localhost/absolute/path`` too; percent-escapes decoded). Wildcard characters
        are kept in the name; :func:`parse_import_pattern` gives them meaning.
    field : str
        The request field, as the API spells it (``"gcsSource.uri"``), for error messages.

    Returns
    -------
    ObjectUri
        The parsed URI: the scheme lowercased, a file path percent-decoded, nothing else
        changed.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If the text is empty, contains control characters, has an unknown scheme, lacks a bucket
        or has an invalid one, has a ``.`` or ``..`` path segment, an over-long name, or (for
        ``file``) a relative path or an empty segment.
    """
    if not text:
        raise InvalidArgument(f"{field} is required: {_EXPECTED}.")
    if _has_control_character(text):
        _invalid(field, text, "it contains a control character (NUL, newline, …)")
    scheme, separator, rest = text.partition("://")
    scheme = scheme.lower()
    if not separator:
        _invalid(field, text, _EXPECTED)
    if scheme not in SCHEMES:
        _invalid(field, text, f"unsupported scheme {scheme}://; {_EXPECTED}")
    if scheme == "file":
        return _parse_file(field, text, rest)
    bucket, _, name = rest.partition("/")
    if not bucket:
        _invalid(field, text, f"the bucket name is missing; {_EXPECTED}")
    if any(wildcard in bucket for wildcard in _WILDCARDS):
        _invalid(field, text, "wildcards are allowed in the object name only, not the bucket")
    problem = _bucket_problem(scheme, bucket)
    if problem:
        _invalid(field, text, f"invalid bucket name {bucket!r}: {problem}")
    _check_name(field, text, name, _MAX_NAME_BYTES[scheme])
    return ObjectUri(scheme, bucket, name)


def _parse_file(field: str, text: str, rest: str) -> ObjectUri:
    if rest.startswith("localhost/"):
        rest = rest.removeprefix("localhost")
    if not rest.startswith("/"):
        _invalid(field, text, "a file URI must name an absolute path: file:///absolute/path")
    try:
        name = unquote(rest[1:], errors="strict")
    except UnicodeDecodeError:
        _invalid(field, text, "its percent-escapes are not UTF-8")
    if _has_control_character(name):
        _invalid(field, text, "it contains a control character (NUL, newline, …)")
    if "//" in name or name.startswith("/"):
        _invalid(field, text, "the path has an empty segment (//)")
    _check_name(field, text, name, _MAX_NAME_BYTES["file"])
    return ObjectUri("file", "", name)


def _has_control_character(text: str) -> bool:
    return any(ord(character) < 0x20 or ord(character) == 0x7F for character in text)


def _check_name(field: str, text: str, name: str, maximum: int) -> None:
    if any(segment in (".", "..") for segment in name.split("/")):
        _invalid(field, text, "'.' and '..' path segments are not allowed")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        _invalid(field, text, "it is not valid Unicode")
    if size > maximum:
        _invalid(field, text, f"the name is longer than {maximum} bytes")


def _bucket_problem(scheme: str, bucket: str) -> str | None:
    """Why ``bucket`` is not a valid bucket name for ``scheme``, or None."""
    maximum = 222 if scheme == "gs" and "." in bucket else 63
    if not 3 <= len(bucket) <= maximum:
        return f"it must be 3 to {maximum} characters long"
    pattern = _GCS_BUCKET_RE if scheme == "gs" else _S3_BUCKET_RE
    if not pattern.fullmatch(bucket):
        allowed = "'-', '_' and '.'" if scheme == "gs" else "'-' and '.'"
        return (
            f"use lowercase letters, digits, {allowed}, starting and ending with a letter or digit"
        )
    if ".." in bucket:
        return "it must not contain '..'"
    if any(len(part) > 63 for part in bucket.split(".")):
        return "each dot-separated part must be at most 63 characters long"
    if _IPV4_RE.fullmatch(bucket):
        return "it must not look like an IP address"
    return None


def _invalid(field: str, text: str, reason: str) -> NoReturn:
    shown = text if text.isprintable() else repr(text)[1:-1]
    if len(shown) > _SHOWN_LENGTH:
        shown = shown[:_SHOWN_LENGTH] + "…"
    raise InvalidArgument(f'Invalid {field} "{shown}": {reason}.')


# -- import patterns ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectPattern:
    """The objects an import source names: one object, or a wildcard pattern.

    Build one with :func:`parse_import_pattern`. List the bucket by :attr:`prefix` and keep the
    names that :meth:`matches` accepts.

    Attributes
    ----------
    uri : ObjectUri
        The URI as given; its name holds the wildcards.
    prefix : str
        The literal start of the name, before the first wildcard (the whole name without one).
    """

    uri: ObjectUri
    prefix: str
    _matcher: Callable[[str], bool] = field(repr=False, compare=False)

    def matches(self, name: str) -> bool:
        """Whether the object called ``name`` (in the same bucket) is selected."""
        return self._matcher(name)

    @property
    def has_wildcards(self) -> bool:
        """False if the pattern names exactly one object."""
        return any(wildcard in self.uri.name for wildcard in _WILDCARDS)


def parse_import_pattern(text: str, *, field: str = "gcsSource.uri") -> ObjectPattern:
    """Parse an import source URI and its wildcards (``store-features.md`` §7).

    Parameters
    ----------
    text : str
        For example ``gs://bucket/dir/**.dcm``, ``gs://bucket/study-?/*.dcm`` or
        ``gs://bucket/one.dcm``.
    field : str, default "gcsSource.uri"
        The request field, for error messages.

    Returns
    -------
    ObjectPattern
        The pattern; without wildcards it matches exactly the named object.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If the URI is invalid (see :func:`parse_object_uri`), names no object (a bare bucket, or a
        folder ending in ``/`` without a wildcard), or uses ``**`` anywhere but at the end of the
        path, with another wildcard, or followed by something other than an extension.
    """
    uri = parse_object_uri(text, field=field)
    name = uri.name
    if not name:
        _invalid(field, text, "name an object, or several with a wildcard (gs://bucket/dir/**.dcm)")
    if "**" in name:
        head, _, tail = name.partition("**")
        if any(wildcard in head or wildcard in tail for wildcard in _WILDCARDS):
            _invalid(field, text, "'**' must be the only wildcard in the path")
        if tail and ("/" in tail or not tail.startswith(".") or len(tail) == 1):
            _invalid(
                field, text, "'**' must end the path, optionally followed by an extension (**.dcm)"
            )
        return ObjectPattern(uri, head, _recursive_matcher(head, tail))
    first = min((name.find(w) for w in _WILDCARDS if w in name), default=-1)
    if first < 0:
        if name.endswith("/"):
            _invalid(field, text, "it names a folder; select its objects with a wildcard (…/**)")
        return ObjectPattern(uri, name, name.__eq__)
    return ObjectPattern(uri, name[:first], _segment_matcher(name))


def _recursive_matcher(head: str, tail: str) -> Callable[[str], bool]:
    """``{head}**{tail}``: any name starting with ``head`` and ending with ``tail``."""
    least = len(head) + len(tail)

    def matches(name: str) -> bool:
        return len(name) >= least and name.startswith(head) and name.endswith(tail)

    return matches


def _segment_matcher(pattern: str) -> Callable[[str], bool]:
    """``*`` and ``?`` never match ``/``, so segments pair up one to one and match apart."""
    segments = pattern.split("/")

    def matches(name: str) -> bool:
        parts = name.split("/")
        return len(parts) == len(segments) and all(map(_glob_segment, segments, parts))

    return matches


def _glob_segment(pattern: str, text: str) -> bool:
    """Match one segment against ``*`` and ``?`` without backtracking blow-up.

    The classic two-pointer algorithm: on a mismatch, only the most recent ``*`` is given one
    more character, so the cost is O(len(pattern) × len(text)) at worst, whatever the pattern
    (a regular expression like ``*a*a*a*b`` can take exponential time on a long name).
    """
    p = t = 0
    star = -1  # index in pattern of the last "*" seen
    resume = 0  # index in text where that "*" currently stops
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]) and pattern[p] != "*":
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif star >= 0:
            resume += 1
            p, t = star + 1, resume
        else:
            return False
    return all(character == "*" for character in pattern[p:])


# -- export destinations -----------------------------------------------------------------------


def export_prefix(text: str, *, field: str = "gcsDestination.uriPrefix") -> ObjectUri:
    """Parse an export destination (``store-features.md`` §8.1).

    Parameters
    ----------
    text : str
        ``gs://bucket/dir``, ``gs://bucket/dir/`` or ``gs://bucket`` (and the s3/file forms).
    field : str, default "gcsDestination.uriPrefix"
        The request field, for error messages.

    Returns
    -------
    ObjectUri
        The destination; its name ends with ``/``, or is ``""`` for the bucket root, so that
        ``uri.child("study/series/instance.dcm")`` is the object to write.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If the URI is invalid (see :func:`parse_object_uri`) or contains a wildcard.
    """
    uri = parse_object_uri(text, field=field)
    if any(wildcard in uri.name for wildcard in _WILDCARDS):
        _invalid(field, text, "wildcards are not allowed in an export destination")
    if uri.name and not uri.name.endswith("/"):
        uri = replace(uri, name=uri.name + "/")
    return uri
