"""Accept-header negotiation (RFC 9110 §12.5.1, PS3.18 §8.7, spec §4.7), table-driven."""

from __future__ import annotations

import pytest

from dicomstore.api.http import negotiation
from dicomstore.api.http.multipart import MediaType
from dicomstore.api.http.negotiation import (
    BULKDATA_OFFERS,
    EXPLICIT_VR_LITTLE_ENDIAN,
    METADATA_OFFERS,
    RENDERED_OFFERS,
    SEARCH_OFFERS,
    STORE_OFFERS,
    MediaRange,
    Offer,
    OfferSet,
    negotiate,
    parse_accept,
    rank,
    transfer_syntax_offers,
)
from dicomstore.errors import InvalidArgument, NotAcceptable
from tests.test_public_api import _defined_public_names

EVRLE = EXPLICIT_VR_LITTLE_ENDIAN
IVRLE = "1.2.840.10008.1.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"
JPEG2000 = "1.2.840.10008.1.2.4.90"

# Retrieve instance/series/study: multipart in several syntaxes, and Google's single-part extension.
INSTANCE = transfer_syntax_offers(
    "multipart/related", [EVRLE, "*", IVRLE, JPEG_BASELINE], type="application/dicom"
) + transfer_syntax_offers("application/dicom", [EVRLE, "*", IVRLE, JPEG_BASELINE])
# Frames: a default per media type (spec §4.2).
FRAMES = (
    transfer_syntax_offers("multipart/related", [EVRLE, "*"], type="application/octet-stream")
    + transfer_syntax_offers(
        "multipart/related",
        [JPEG_BASELINE, JPEG_LOSSLESS],
        default=JPEG_BASELINE,
        type="image/jpeg",
    )
    + transfer_syntax_offers("multipart/related", [JPEG2000], default=JPEG2000, type="image/jp2")
    + (Offer("multipart/related", "image/png"),)
)


def dicom(syntax: str) -> Offer:
    return Offer("multipart/related", "application/dicom", syntax)


def single(syntax: str) -> Offer:
    return Offer("application/dicom", None, syntax)


def frames(part_type: str, syntax: str | None) -> Offer:
    return Offer("multipart/related", part_type, syntax)


JSON = Offer("application/dicom+json")
XML = Offer("application/dicom+xml")
MULTIPART_XML = Offer("multipart/related", "application/dicom+xml")
JPEG, PNG = RENDERED_OFFERS


def test_all_is_exact() -> None:
    assert sorted(negotiation.__all__) == sorted(_defined_public_names(negotiation))


# --- choosing -----------------------------------------------------------------------------------

MP_DICOM = 'multipart/related; type="application/dicom"'
MP_OCTET = 'multipart/related; type="application/octet-stream"'
MP_JPEG = 'multipart/related; type="image/jpeg"'
MP_XML = 'multipart/related; type="application/dicom+xml"'
A_JSON = "application/dicom+json"
A_XML = "application/dicom+xml"
OCTET = "application/octet-stream"


def case(name: str, accept: str | None, offers: tuple[Offer, ...], expected: Offer) -> object:
    return pytest.param(accept, offers, expected, id=name)


CASES = [
    # No header, an empty one, */* and application/*: the default.
    case("no header", None, STORE_OFFERS, XML),
    case("empty header", "", STORE_OFFERS, XML),
    case("blank header", " \t ", STORE_OFFERS, XML),
    case("only empty elements", " , ,", STORE_OFFERS, XML),
    case("any", "*/*", STORE_OFFERS, XML),
    case("type wildcard", "application/*", STORE_OFFERS, XML),
    case("exact", A_JSON, STORE_OFFERS, JSON),
    case("case-insensitive type", "Application/DICOM+JSON", STORE_OFFERS, JSON),
    case("charset ignored", f"{A_JSON}; charset=utf-8", STORE_OFFERS, JSON),
    case("dicomweb-client search", f"{A_JSON}, application/json", SEARCH_OFFERS, JSON),
    # q-values.
    case("higher q wins", f"{A_XML};q=0.5, {A_JSON}", STORE_OFFERS, JSON),
    case("q=1.000", f"{A_XML};q=0.9, {A_JSON};q=1.000", STORE_OFFERS, JSON),
    case("q=0 excludes", f"{A_XML};q=0, */*", STORE_OFFERS, JSON),
    case("q=0 on wildcard", f"*/*;q=0, {A_JSON};q=0.1", STORE_OFFERS, JSON),
    case("specific range sets q", f"*/*;q=0.9, {A_XML};q=0.1", STORE_OFFERS, JSON),
    case("type/* beats */*", "*/*;q=0.1, image/*;q=0.8, image/png", RENDERED_OFFERS, PNG),
    case("accept-ext after q", f"{A_JSON};q=0.5;ext=1, */*;q=0.4", STORE_OFFERS, JSON),
    # Ties: the more specific range, then the client's order, then the server's.
    case("explicit beats wildcard", f"*/*, {A_JSON}", STORE_OFFERS, JSON),
    case("client order", f"{A_JSON}, {A_XML}", STORE_OFFERS, JSON),
    case("client order reversed", f"{A_XML}, {A_JSON}", STORE_OFFERS, XML),
    case("server order under one range", "application/*", STORE_OFFERS, XML),
    case("server order for images", "image/*", RENDERED_OFFERS, JPEG),
    # The multipart type parameter, quoted or not, in any case.
    case("search multipart xml", MP_XML, SEARCH_OFFERS, MULTIPART_XML),
    case("unquoted type", f"multipart/related; type={A_XML}", METADATA_OFFERS, MULTIPART_XML),
    case(
        "type case",
        'multipart/related; type="Application/Dicom+XML"',
        METADATA_OFFERS,
        MULTIPART_XML,
    ),
    case("multipart without type", "multipart/related", METADATA_OFFERS, MULTIPART_XML),
    case("multipart wildcard", "multipart/*", METADATA_OFFERS, MULTIPART_XML),
    # Transfer syntaxes: exact, '*' for the stored one, missing for the default.
    case("instance default", None, INSTANCE, dicom(EVRLE)),
    case("instance any", "*/*", INSTANCE, dicom(EVRLE)),
    case("type without syntax", MP_DICOM, INSTANCE, dicom(EVRLE)),
    case("syntax star", f"{MP_DICOM}; transfer-syntax=*", INSTANCE, dicom("*")),
    case("star quoted", f'{MP_DICOM}; transfer-syntax="*"', INSTANCE, dicom("*")),
    case("syntax exact", f"{MP_DICOM}; transfer-syntax={IVRLE}", INSTANCE, dicom(IVRLE)),
    case(
        "parameters in any order",
        f'multipart/related; transfer-syntax={JPEG_BASELINE}; type="application/dicom"',
        INSTANCE,
        dicom(JPEG_BASELINE),
    ),
    case(
        "unknown syntax falls to the next range",
        f"{MP_DICOM}; transfer-syntax=1.2.3, {MP_DICOM}; transfer-syntax=*;q=0.5",
        INSTANCE,
        dicom("*"),
    ),
    case("single part", f"application/dicom; transfer-syntax={IVRLE}", INSTANCE, single(IVRLE)),
    case("single part default", "application/dicom", INSTANCE, single(EVRLE)),
    case(
        "star preferred by q",
        f"{MP_DICOM}; transfer-syntax={JPEG_BASELINE};q=0.4, {MP_DICOM}; transfer-syntax=*;q=0.9",
        INSTANCE,
        dicom("*"),
    ),
    case(
        "explicit syntax beats bare type",
        f"{MP_DICOM}, {MP_DICOM}; transfer-syntax=*",
        INSTANCE,
        dicom("*"),
    ),
    # Frames: each media type has its own default syntax.
    case("frames default", None, FRAMES, frames(OCTET, EVRLE)),
    case("frames octet star", f"{MP_OCTET}; transfer-syntax=*", FRAMES, frames(OCTET, "*")),
    case("frames jpeg default", MP_JPEG, FRAMES, frames("image/jpeg", JPEG_BASELINE)),
    case(
        "frames jpeg lossless",
        f"{MP_JPEG}; transfer-syntax={JPEG_LOSSLESS}",
        FRAMES,
        frames("image/jpeg", JPEG_LOSSLESS),
    ),
    case(
        "frames png, no syntax",
        'multipart/related; type="image/png"',
        FRAMES,
        frames("image/png", None),
    ),
    case(
        "frames jp2 preferred",
        f'{MP_JPEG};q=0.5, multipart/related; type="image/jp2"',
        FRAMES,
        frames("image/jp2", JPEG2000),
    ),
    # Bulk data: the stored bytes, multipart by default.
    case("bulkdata default", None, BULKDATA_OFFERS, BULKDATA_OFFERS[0]),
    case("bulkdata any", "*/*", BULKDATA_OFFERS, BULKDATA_OFFERS[0]),
    case("bulkdata single part", OCTET, BULKDATA_OFFERS, BULKDATA_OFFERS[1]),
    case("bulkdata star", f"{MP_OCTET}; transfer-syntax=*", BULKDATA_OFFERS, BULKDATA_OFFERS[0]),
    # A range as the type parameter: dicomweb-client's default for bulk data.
    case("bulkdata any type", 'multipart/related; type="*/*"', BULKDATA_OFFERS, BULKDATA_OFFERS[0]),
    case("instance any type", 'multipart/related; type="*/*"', INSTANCE, dicom(EVRLE)),
    case(
        "frames image type",
        'multipart/related; type="image/*"',
        FRAMES,
        frames("image/jpeg", JPEG_BASELINE),
    ),
    case(
        "exact type beats a type range",
        f'multipart/related; type="*/*", {MP_OCTET}; transfer-syntax=*',
        FRAMES,
        frames(OCTET, "*"),
    ),
]


@pytest.mark.parametrize(("accept", "offers", "expected"), CASES)
def test_negotiate(accept: str | None, offers: tuple[Offer, ...], expected: Offer) -> None:
    chosen = negotiate(accept, offers)
    assert chosen == expected
    assert chosen.default_syntax == next(o for o in offers if o == expected).default_syntax


def refused(name: str, accept: str, offers: tuple[Offer, ...]) -> object:
    return pytest.param(accept, offers, id=name)


NOT_ACCEPTABLE = [
    refused("other type", "text/html", STORE_OFFERS),
    refused("everything q=0", f"{A_XML};q=0, {A_JSON};q=0", STORE_OFFERS),
    refused("wildcard q=0", "*/*;q=0", STORE_OFFERS),
    refused("search as dicom", MP_DICOM, SEARCH_OFFERS),
    refused("metadata as dicom", MP_DICOM, METADATA_OFFERS),
    refused("syntax not offered", f"{MP_DICOM}; transfer-syntax={JPEG2000}", INSTANCE),
    refused("syntax on png", f"image/png; transfer-syntax={JPEG_BASELINE}", RENDERED_OFFERS),
    refused("syntax on json", f"{A_JSON}; transfer-syntax=*", STORE_OFFERS),
    refused("type on single part", f"{A_JSON}; type=application/dicom", STORE_OFFERS),
    refused(
        "JS client quoting",
        'multipart/related; type="application/dicom; transfer-syntax=*"',
        INSTANCE,
    ),
    refused("rendered gif", "image/gif", RENDERED_OFFERS),
]


@pytest.mark.parametrize(("accept", "offers"), NOT_ACCEPTABLE)
def test_not_acceptable(accept: str, offers: tuple[Offer, ...]) -> None:
    assert rank(accept, offers) == []
    with pytest.raises(NotAcceptable) as caught:
        negotiate(accept, offers)
    error = caught.value
    assert error.http_status == 406
    assert accept in error.message
    for offer in offers:  # the message says what would do, as Google's does
        assert str(offer) in error.message


MALFORMED = [
    ("no slash", "json"),
    ("empty subtype", "application/"),
    ("wildcard type only", "*/json"),
    ("bad q", "application/dicom+json;q=high"),
    ("q above 1", "application/dicom+json;q=1.5"),
    ("q negative", "application/dicom+json;q=-0.5"),
    ("q twice", "application/dicom+json;q=0.5;q=0.4"),
    ("unterminated quote", 'multipart/related; type="application/dicom, */*'),
    ("parameter without value", "application/dicom+json; charset"),
    ("control character", "application/dicom+json; a=\x01"),
    ("one bad element among good", "application/dicom+json, @@"),
]


@pytest.mark.parametrize("accept", [case[1] for case in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_accept_is_invalid_argument(accept: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        negotiate(accept, STORE_OFFERS)
    assert caught.value.http_status == 400
    assert caught.value.message.startswith("Invalid Accept header")


# --- parsing and ranking -------------------------------------------------------------------------


def test_parse_accept() -> None:
    ranges = parse_accept(
        'multipart/related; type="application/dicom, really"; transfer-syntax=*;q=0.5;x=y,'
        " , image/*;Q=0.25,*/*"
    )
    assert ranges == [
        MediaRange(
            MediaType(
                "multipart/related", {"type": "application/dicom, really", "transfer-syntax": "*"}
            ),
            0.5,
        ),
        MediaRange(MediaType("image/*"), 0.25),
        MediaRange(MediaType("*/*"), 1.0),
    ]
    assert [r.specificity for r in ranges] == [(2, 2), (1, 0), (0, 0)]
    assert parse_accept('a/b; p="x\\"y,z"')[0].media_type.params == {"p": 'x"y,z'}


def test_rank_gives_every_acceptable_offer_best_first() -> None:
    accept = (
        f"multipart/related; type=application/dicom; transfer-syntax={JPEG_BASELINE}, "
        "multipart/related; type=application/dicom; transfer-syntax=*; q=0.5, "
        "multipart/related; type=application/dicom; q=0.2"
    )
    assert rank(accept, INSTANCE) == [dicom(JPEG_BASELINE), dicom("*"), dicom(EVRLE)]
    # As */*: every offer in server order; plain JSON (for Google's client) comes last.
    assert rank(None, STORE_OFFERS) == [XML, JSON, Offer("application/json")]
    assert rank("*/*", INSTANCE) == [dicom(EVRLE), single(EVRLE)]


def test_negotiate_needs_offers() -> None:
    with pytest.raises(ValueError):
        negotiate("*/*", [])


# --- offers --------------------------------------------------------------------------------------


def test_offer_content_type() -> None:
    offer = dicom("*")
    assert str(offer) == 'multipart/related; type="application/dicom"; transfer-syntax=*'
    assert offer.content_type(JPEG_BASELINE) == (
        f'multipart/related; type="application/dicom"; transfer-syntax={JPEG_BASELINE}'
    )
    assert str(JSON) == "application/dicom+json"
    assert str(single(EVRLE)) == f"application/dicom; transfer-syntax={EVRLE}"


def test_offer_normalises_and_validates() -> None:
    assert Offer("Multipart/Related", "Application/DICOM") == Offer(
        "multipart/related", "application/dicom"
    )
    for bad in (
        lambda: Offer("*/*"),
        lambda: Offer("image/*"),
        lambda: Offer("multipart/related", "application/*"),
        lambda: Offer("json"),
        lambda: Offer("application/dicom", None, ""),
        lambda: Offer("application/dicom+json", default_syntax=True),
    ):
        with pytest.raises(ValueError):
            bad()


def test_transfer_syntax_offers() -> None:
    offers = transfer_syntax_offers(
        "multipart/related", ["*", EVRLE, IVRLE, "*"], type="application/dicom"
    )
    assert offers == (dicom(EVRLE), dicom("*"), dicom(IVRLE))
    assert [offer.default_syntax for offer in offers] == [True, False, False]
    with pytest.raises(ValueError, match="default"):
        transfer_syntax_offers("multipart/related", ["*"], type="application/dicom")


def test_resource_offers_follow_the_spec() -> None:
    assert negotiate(None, STORE_OFFERS) == XML  # §2.2
    assert negotiate(None, SEARCH_OFFERS) == JSON  # §3.4
    assert negotiate(None, METADATA_OFFERS) == JSON  # §4.4
    assert negotiate(None, RENDERED_OFFERS) == Offer("image/jpeg")  # §4.3
    assert str(negotiate(None, BULKDATA_OFFERS)) == (  # §4.5
        'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    )


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        'multipart/related; type="application/dicom"',
        f'multipart/related; type="application/dicom"; transfer-syntax={JPEG_BASELINE}, */*;q=0.1',
        "application/dicom; transfer-syntax=*",
    ],
)
def test_offer_set_answers_as_rank_and_negotiate(accept: str | None) -> None:
    offers = OfferSet(INSTANCE)
    for _ in range(2):  # computed, then remembered
        assert offers.rank(accept) == tuple(rank(accept, INSTANCE))
        assert offers.negotiate(accept) == negotiate(accept, INSTANCE)


def test_offer_set_remembers_a_bounded_number_of_accept_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str | None] = []
    real_rank = negotiation.rank

    def counting_rank(accept: str | None, offers: tuple[Offer, ...]) -> list[Offer]:
        calls.append(accept)
        return real_rank(accept, offers)

    monkeypatch.setattr(negotiation, "rank", counting_rank)
    offers = OfferSet(RENDERED_OFFERS, cache_size=2)
    for accept in ("image/png", "image/png", "image/jpeg", "image/png"):
        offers.negotiate(accept)
    assert calls == ["image/png", "image/jpeg"]
    # A third value pushes out the least recently used (image/jpeg), not image/png.
    for accept in ("image/*", "image/png", "image/jpeg"):
        offers.negotiate(accept)
    assert calls == ["image/png", "image/jpeg", "image/*", "image/jpeg"]


def test_offer_set_refuses_as_negotiate_does() -> None:
    offers = OfferSet(RENDERED_OFFERS)
    with pytest.raises(NotAcceptable) as refused:
        offers.negotiate("application/dicom")
    with pytest.raises(NotAcceptable) as expected:
        negotiate("application/dicom", RENDERED_OFFERS)
    assert refused.value.message == expected.value.message
    assert offers.rank("application/dicom") == ()
    for _ in range(2):  # a malformed value is never remembered: it raises each time
        with pytest.raises(InvalidArgument):
            offers.rank("image/png;q=2")
    with pytest.raises(ValueError):
        OfferSet(())
