"""Content negotiation for DICOMweb: an ``Accept`` header against what a resource can produce.

Every DICOMweb route describes the representations it can give as `Offer` objects, its default
first, and calls `negotiate` (or `rank`, to fall back on the next choice when producing the first
fails). The rules (RFC 9110 §12.5.1, PS3.18 §8.7, shared/spec/dicomweb-conformance.md §4.7):

- The header is a comma-separated list of media ranges (commas inside quoted strings do not
  split; empty elements are ignored, RFC 9110 §5.6.1), each parsed by
  `dicomstore.api.http.multipart.parse_media_type`, with an optional weight ``q`` (missing: 1;
  ``q=0``: not acceptable). Parameters after ``q`` are accept-extensions and are ignored.
- ``*/*`` matches every media type, ``type/*`` every subtype of ``type``.
- Of the parameters only ``type`` (the root part's media type of ``multipart/related``, compared
  case-insensitively; itself a range when it is ``*/*`` or ``type/*``, as dicomweb-client sends
  for bulk data) and ``transfer-syntax`` (a UID or ``*``, compared exactly) select; others
  such as ``charset`` are ignored. A range without ``type`` accepts any. A range without
  ``transfer-syntax`` accepts only the resource's default syntax for that media type (PS3.18
  §8.7.3.5: ``multipart/related; type="application/dicom"`` means Explicit VR Little Endian for
  instances, spec §4.1); ``transfer-syntax=*`` asks for the ``*`` offer (no transcoding), not for
  any syntax.
- Each offer takes the weight of the most specific range that matches it (exact type over
  ``type/*`` over ``*/*``, then more selecting parameters), so ``*/*, image/png;q=0`` excludes
  PNG. The best offer has the highest weight; ties go to the more specific range, then to the
  range the client listed first, then to the server's order. RFC 9110 leaves ties to the server
  (spec §4.7 too); preferring what the client names explicitly, in its order, is what clients that
  list several types expect.
- No ``Accept`` header (or an empty one) is ``*/*``: the first offer, which must be a default.

A malformed header is `dicomstore.errors.InvalidArgument` (HTTP 400); a header that accepts none
of the offers is `dicomstore.errors.NotAcceptable` (HTTP 406), whose message lists the offers,
as Google's does. A route with several ``Accept`` header lines joins them with ``", "`` first
(RFC 9110 §5.3).

Offers are plain values, so whoever knows what can be produced builds the list: the transcoding
code filters retrieval offers by the codecs available and `rank` gives the acceptable ones in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from dicomstore.api.http.multipart import MediaType, parse_media_type
from dicomstore.errors import InvalidArgument, NotAcceptable

__all__ = [
    "BULKDATA_OFFERS",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "JSON_MEDIA_TYPES",
    "METADATA_OFFERS",
    "RENDERED_OFFERS",
    "SEARCH_OFFERS",
    "STORE_OFFERS",
    "MediaRange",
    "Offer",
    "OfferSet",
    "negotiate",
    "parse_accept",
    "rank",
    "transfer_syntax_offers",
]

EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"
"""Google's default transfer syntax for instances and frames (spec §4.1, §4.2)."""

_ANY_SYNTAX: Final = "*"
_QVALUE_RE: Final = re.compile(r"0(?:\.[0-9]*)?|1(?:\.0*)?")


@dataclass(frozen=True, slots=True)
class Offer:
    """A representation a resource can produce.

    Attributes
    ----------
    media_type : str
        ``type/subtype``, e.g. ``application/dicom+json`` or ``multipart/related``; kept in lower
        case.
    type : str, optional
        For ``multipart/related``, the media type of its parts, e.g. ``application/dicom``; kept
        in lower case.
    transfer_syntax : str, optional
        A transfer syntax UID, or ``*`` for the stored syntax as it is; None for media types that
        have none (JSON, XML, PNG).
    default_syntax : bool, default False
        This offer's transfer syntax is what a range naming no ``transfer-syntax`` gets for this
        media type and ``type``: mark one offer per (media type, type) group.

    Examples
    --------
    >>> offer = Offer("multipart/related", "application/dicom", "1.2.840.10008.1.2.1", True)
    >>> str(offer)
    'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
    """

    media_type: str
    type: str | None = None
    transfer_syntax: str | None = None
    default_syntax: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("media_type", "type"):
            value = getattr(self, name)
            if value is not None:
                value = MediaType(value).type  # checks type/subtype, lowers it
                if "*" in value:
                    raise ValueError(f"An offer is a concrete media type, not {value!r}.")
                object.__setattr__(self, name, value)
        if self.transfer_syntax == "":
            raise ValueError("An empty transfer syntax; use None for media types without one.")
        if self.default_syntax and self.transfer_syntax is None:
            raise ValueError("Only an offer with a transfer syntax can be the default syntax.")

    def content_type(self, transfer_syntax: str | None = None) -> str:
        """The ``Content-Type`` of a response in this representation.

        Parameters
        ----------
        transfer_syntax : str, optional
            The syntax actually sent, for an offer of ``*`` (PS3.18 §8.7.3: the response names
            the real one). Default: the offer's own.
        """
        params: dict[str, str] = {}
        if self.type is not None:
            params["type"] = self.type
        syntax = transfer_syntax or self.transfer_syntax
        if syntax is not None:
            params["transfer-syntax"] = syntax
        return str(MediaType(self.media_type, params))

    def __str__(self) -> str:
        return self.content_type()


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One element of an ``Accept`` header.

    Attributes
    ----------
    media_type : MediaType
        The range, possibly ``*/*`` or ``type/*``, with its parameters before ``q``.
    q : float
        Its weight, from 0 (not acceptable) to 1.
    """

    media_type: MediaType
    q: float = 1.0

    @property
    def specificity(self) -> tuple[int, int]:
        """How precisely the range names a representation: (2 for ``type/subtype``, 1 for
        ``type/*``, 0 for ``*/*``; how many of ``type`` and ``transfer-syntax`` it gives)."""
        main, _, sub = self.media_type.type.partition("/")
        level = 0 if main == "*" else 1 if sub == "*" else 2
        params = self.media_type.params
        exact_type = "type" in params and not params["type"].endswith("*")
        return level, exact_type + ("transfer-syntax" in params)

    def matches(self, offer: Offer) -> bool:
        """Whether this range accepts ``offer`` (whatever its weight)."""
        media_type = self.media_type.type
        main, _, sub = media_type.partition("/")
        if main != "*":
            if sub == "*":
                if offer.media_type.partition("/")[0] != main:
                    return False
            elif offer.media_type != media_type:
                return False
        params = self.media_type.params
        part_type = params.get("type")
        if part_type is not None and not _type_matches(part_type.lower(), offer.type):
            return False
        syntax = params.get("transfer-syntax")
        if syntax is None:
            return offer.transfer_syntax is None or offer.default_syntax
        return syntax == offer.transfer_syntax


def _type_matches(part_type: str, offered: str | None) -> bool:
    """The ``type`` parameter against an offer's part type; it may be a range too:
    dicomweb-client asks for bulk data with ``multipart/related; type="*/*"``."""
    if offered is None:
        return False
    main, _, sub = part_type.partition("/")
    if main == "*":
        return True
    if sub == "*":
        return offered.partition("/")[0] == main
    return part_type == offered


_ANY = MediaRange(MediaType("*/*"))


def parse_accept(accept: str) -> list[MediaRange]:
    """Parse an ``Accept`` header value (RFC 9110 §12.5.1).

    Parameters
    ----------
    accept : str
        The header value: media ranges separated by commas, each with parameters and an optional
        ``q`` weight.

    Returns
    -------
    list[MediaRange]
        The ranges in header order; empty list elements are skipped.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        For a range that is not a media range (``*/json``, no ``/``, a bad parameter), an
        unterminated quoted string, or a weight that is not a number from 0 to 1.
    """
    ranges = []
    for element in _split_list(accept):
        try:
            parsed = parse_media_type(element)
        except InvalidArgument as error:
            raise InvalidArgument(f"Invalid Accept header: {error.message}") from None
        main, _, sub = parsed.type.partition("/")
        if main == "*" and sub != "*":
            raise InvalidArgument(
                f"Invalid Accept header: {element.strip()!r} is not a media range."
            )
        params: dict[str, str] = {}
        q = 1.0
        for name, value in parsed.params.items():
            if name == "q":
                if _QVALUE_RE.fullmatch(value) is None:
                    raise InvalidArgument(
                        f"Invalid Accept header: q={value!r} in {element.strip()!r} is not a "
                        "weight from 0 to 1."
                    )
                q = float(value)
                break  # what follows q is accept-extensions
            params[name] = value
        ranges.append(MediaRange(MediaType(parsed.type, params), q))
    return ranges


def _split_list(header: str) -> list[str]:
    """The elements of a comma-separated header list, commas in quoted strings kept."""
    elements: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(header):
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            elements.append(header[start:index])
            start = index + 1
    if quoted:
        raise InvalidArgument(f"Invalid Accept header {header!r}: a quoted string is not closed.")
    elements.append(header[start:])
    return [element for element in elements if element.strip(" \t")]


def rank(accept: str | None, offers: Sequence[Offer]) -> list[Offer]:
    """The offers the ``Accept`` header accepts, best first (the rules are the module's).

    Parameters
    ----------
    accept : str or None
        The ``Accept`` header value; None or blank for no header (as ``*/*``).
    offers : Sequence[Offer]
        What the resource can produce, its default first, then in the server's preference.

    Returns
    -------
    list[Offer]
        Every acceptable offer with a weight above 0, best first; empty when none is.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If the header is malformed.
    """
    # No header, or one with no ranges at all, accepts anything (RFC 9110 §12.5.1).
    ranges = (parse_accept(accept) if accept is not None else []) or [_ANY]
    scored: list[tuple[tuple[float, int, int, int, int], Offer]] = []
    for index, offer in enumerate(offers):
        best: tuple[tuple[int, int], int, float] | None = None
        for position, media_range in enumerate(ranges):
            if media_range.matches(offer):
                specificity = media_range.specificity
                if best is None or specificity > best[0]:
                    best = (specificity, position, media_range.q)
        if best is not None and best[2] > 0:
            (level, params), position, q = best
            scored.append(((-q, -level, -params, position, index), offer))
    scored.sort(key=lambda pair: pair[0])
    return [offer for _, offer in scored]


def negotiate(accept: str | None, offers: Sequence[Offer]) -> Offer:
    """Choose the representation to answer with.

    Parameters
    ----------
    accept : str or None
        The ``Accept`` header value; None or blank for no header.
    offers : Sequence[Offer]
        What the resource can produce, its default first (the answer when there is no header or
        ``*/*``), then in the server's preference.

    Returns
    -------
    Offer
        The best acceptable offer.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        If the header is malformed (HTTP 400).
    dicomstore.errors.NotAcceptable
        If it accepts none of the offers (HTTP 406); the message lists them.
    ValueError
        If ``offers`` is empty.

    Examples
    --------
    >>> negotiate("application/dicom+json", STORE_OFFERS).media_type
    'application/dicom+json'
    >>> negotiate(None, STORE_OFFERS).media_type
    'application/dicom+xml'
    """
    if not offers:
        raise ValueError("A resource must offer at least one representation.")
    ranked = rank(accept, offers)
    if not ranked:
        raise _not_acceptable(accept, offers)
    return ranked[0]


def _not_acceptable(accept: str | None, offers: Sequence[Offer]) -> NotAcceptable:
    return NotAcceptable(
        f"No supported media type found in [{accept or ''}]; the Accept header must include "
        f"one of: {', '.join(map(str, offers))}."
    )


class OfferSet:
    """A resource's offers, with `rank` and `negotiate` remembered per ``Accept`` value.

    Clients send the same few header values again and again, and parsing one costs more than
    the rest of serving a small resource; the last ``cache_size`` values are kept (a malformed
    one is not: it raises each time).

    Parameters
    ----------
    offers : Sequence[Offer]
        What the resource can produce, its default first, as for `negotiate`.
    cache_size : int, default 64
        How many distinct ``Accept`` values to remember.
    """

    def __init__(self, offers: Sequence[Offer], *, cache_size: int = 64) -> None:
        if not offers:
            raise ValueError("A resource must offer at least one representation.")
        self.offers: tuple[Offer, ...] = tuple(offers)
        self._ranked = lru_cache(maxsize=cache_size)(self._rank)

    def _rank(self, accept: str | None) -> tuple[Offer, ...]:
        return tuple(rank(accept, self.offers))

    def rank(self, accept: str | None) -> tuple[Offer, ...]:
        """`rank` of these offers."""
        return self._ranked(accept)

    def negotiate(self, accept: str | None) -> Offer:
        """`negotiate` among these offers."""
        ranked = self._ranked(accept)
        if not ranked:
            raise _not_acceptable(accept, self.offers)
        return ranked[0]


def transfer_syntax_offers(
    media_type: str,
    transfer_syntaxes: Iterable[str],
    *,
    default: str = EXPLICIT_VR_LITTLE_ENDIAN,
    type: str | None = None,
) -> tuple[Offer, ...]:
    """Offers of one media type in several transfer syntaxes, the default first.

    Parameters
    ----------
    media_type : str
        E.g. ``multipart/related`` or, single part, ``application/dicom``.
    transfer_syntaxes : Iterable[str]
        The syntaxes that can be produced, UIDs or ``*``, in the server's preference.
    default : str, default EXPLICIT_VR_LITTLE_ENDIAN
        What a range without ``transfer-syntax`` gets; it must be among ``transfer_syntaxes``.
    type : str, optional
        The ``type`` parameter, e.g. ``application/dicom``.

    Returns
    -------
    tuple[Offer, ...]
        One offer per syntax, the default's first.

    Examples
    --------
    >>> offers = transfer_syntax_offers(
    ...     "multipart/related", ["*", "1.2.840.10008.1.2.1"], type="application/dicom"
    ... )
    >>> [offer.transfer_syntax for offer in offers]
    ['1.2.840.10008.1.2.1', '*']
    """
    syntaxes = list(dict.fromkeys(transfer_syntaxes))
    if default not in syntaxes:
        raise ValueError(f"The default transfer syntax {default!r} is not offered.")
    syntaxes.remove(default)
    return tuple(
        Offer(media_type, type, syntax, default_syntax=syntax == default)
        for syntax in [default, *syntaxes]
    )


# google-api-python-client sends ``Accept: application/json`` on every call, these HttpBody
# methods included; it gets DICOM JSON (served as application/dicom+json), so Google's own
# client works unchanged. Last in each list: it never wins over a DICOM media type.
_PLAIN_JSON: Final = Offer("application/json")

JSON_MEDIA_TYPES: Final = frozenset({"application/dicom+json", "application/json"})
"""Offers answered with a DICOM JSON body."""

STORE_OFFERS: Final = (
    Offer("application/dicom+xml"),
    Offer("application/dicom+json"),
    _PLAIN_JSON,
)
"""STOW-RS responses: XML by default, JSON on request (spec §2.2)."""

SEARCH_OFFERS: Final = (
    Offer("application/dicom+json"),
    Offer("multipart/related", "application/dicom+xml"),
    _PLAIN_JSON,
)
"""QIDO-RS responses: JSON by default, or one XML document per part (spec §3.4)."""

METADATA_OFFERS: Final = SEARCH_OFFERS
"""WADO-RS metadata: JSON by default, or one XML document per part (spec §4.4)."""

RENDERED_OFFERS: Final = (Offer("image/jpeg"), Offer("image/png"))
"""Rendered instances and frames: JPEG by default, or PNG (spec §4.3)."""

BULKDATA_OFFERS: Final = (
    Offer("multipart/related", "application/octet-stream", _ANY_SYNTAX, default_syntax=True),
    Offer("application/octet-stream", None, _ANY_SYNTAX, default_syntax=True),
)
"""Bulk data: the bytes as stored, multipart by default or single part (spec §4.5)."""
