"""DICOMweb routes under ``{store}/dicomWeb`` (``dicomweb-conformance.md`` §1), plus the
study/series metrics and storage info that live in the same tree.

Routes parse paths and headers, negotiate the representation (``negotiation.py``), call one
service and frame the answer (``multipart.py``). Everything that can fail — an unknown resource,
an unacceptable Accept — is settled before a streamed response sends its status line.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Send
from starlette.types import Scope as ASGIScope

from dicomstore.api.http.calls import SYSTEM_PARAMETERS, Call, endpoint
from dicomstore.api.http.management import STORE_PATH
from dicomstore.api.http.multipart import (
    MediaType,
    Part,
    amultipart_chunks,
    boundary_for,
    iter_parts,
    multipart_boundary,
    multipart_chunks,
    multipart_length,
    new_boundary,
    parse_media_type,
)
from dicomstore.api.http.negotiation import (
    BULKDATA_OFFERS,
    JSON_MEDIA_TYPES,
    METADATA_OFFERS,
    RENDERED_OFFERS,
    SEARCH_OFFERS,
    STORE_OFFERS,
    Offer,
    OfferSet,
    negotiate,
    transfer_syntax_offers,
)
from dicomstore.dicom.attributes import Level
from dicomstore.dicom.from_json import (
    OCTET_STREAM,
    BulkDataIndex,
    BulkDataPart,
    inline_binary_syntax,
    parse_metadata_part,
)
from dicomstore.dicom.qido import QidoMode
from dicomstore.dicom.render import RenderParameters
from dicomstore.dicom.stow_response import (
    FailedInstance,
    StoreOutcome,
    response_json,
    response_xml,
    status_code,
)
from dicomstore.dicom.xml import to_dicom_xml
from dicomstore.errors import InvalidArgument
from dicomstore.names import DicomStoreName
from dicomstore.services import Services
from dicomstore.services.retrieve import (
    InstanceBody,
    Retrieval,
    Scope,
    parse_frame_numbers,
    sent_as_stored,
)
from dicomstore.services.staging import StagedFile
from dicomstore.services.stow import StowTarget, Turn

__all__ = ["routes"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

DICOMWEB = STORE_PATH + "/dicomWeb"
STUDY = DICOMWEB + "/studies/{study:id}"
SERIES = STUDY + "/series/{series:id}"
INSTANCE = SERIES + "/instances/{instance:id}"

_DICOM = "application/dicom"
_DICOM_JSON = "application/dicom+json"
# The metadata part of a JSON STOW is read whole; bulk data parts are spooled to disk.
_MAX_METADATA_PART = 256 * 1024 * 1024
_SPOOL_WRITE_BYTES = 1024 * 1024
# Parts of one STOW request stored at once while the next are read (bounds memory to about
# this many spool writes).
_PARTS_IN_FLIGHT = 8
_OCTETS = "application/octet-stream"
# What an instance may be asked for in (spec §4.1): as stored, or one of Google's syntaxes;
# whether a given instance can be sent so is decided per instance (transcode_capability).
_INSTANCE_SYNTAXES = (
    "*", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112", "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.8.1",
)  # fmt: skip
_INSTANCE_OFFERS = transfer_syntax_offers("multipart/related", _INSTANCE_SYNTAXES, type=_DICOM)
_SINGLE_INSTANCE_OFFERS = _INSTANCE_OFFERS + transfer_syntax_offers(_DICOM, _INSTANCE_SYNTAXES)
# Frames (spec §4.2): media type → (its syntaxes, its default syntax, PS3.18 Table 8.7.3-5).
_FRAME_MEDIA = {
    _OCTETS: (("*", "1.2.840.10008.1.2.1"), "1.2.840.10008.1.2.1"),
    "image/jpeg": (
        ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
         "1.2.840.10008.1.2.4.70"),
        "1.2.840.10008.1.2.4.70",
    ),
    "image/jls": (("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"), "1.2.840.10008.1.2.4.80"),
    "image/jp2": (("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"), "1.2.840.10008.1.2.4.90"),
    "image/dicom-rle": (("1.2.840.10008.1.2.5",), "1.2.840.10008.1.2.5"),
}  # fmt: skip
_FRAME_OFFERS = tuple(
    offer
    for media, (syntaxes, default) in _FRAME_MEDIA.items()
    for offer in (
        *transfer_syntax_offers("multipart/related", syntaxes, default=default, type=media),
        *transfer_syntax_offers(media, syntaxes, default=default),
    )
)
# Each WADO resource's offers, negotiated once per distinct Accept value.
_INSTANCES = OfferSet(_INSTANCE_OFFERS)
_SINGLE_INSTANCE = OfferSet(_SINGLE_INSTANCE_OFFERS)
_FRAMES = OfferSet(_FRAME_OFFERS)
_METADATA = OfferSet(METADATA_OFFERS)
_BULK_DATA = OfferSet(BULKDATA_OFFERS)
_RENDERED = OfferSet(RENDERED_OFFERS)
# GIF (animated, for multi-frame instances) is the standard's, not Google's (spec §4.3).
_RENDERED_STANDARD = OfferSet((*RENDERED_OFFERS, Offer("image/gif")))
_SEARCH = OfferSet(SEARCH_OFFERS)


def _store_name(request: Request) -> DicomStoreName:
    path = request.path_params
    return _named(path["project"], path["location"], path["dataset"], path["store"])


# Checking a name's IDs character by character costs as much as a small read; clients use a few
# stores. An invalid name raises each time (errors are not cached).
_named = lru_cache(maxsize=256)(DicomStoreName.of)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _base_url(request: Request) -> str:
    """The server's URL as the client reached it, for RetrieveURLs and BulkDataURIs.

    From the Host header; when that names no port although the server listens on a non-default
    one, the listening port is added: dicomweb-client sends ``Host`` without the port.
    """
    url = request.base_url
    server = request.scope.get("server")
    default_port = 443 if url.scheme == "https" else 80
    if url.port is None and server and server[1] and server[1] != default_port:
        url = url.replace(port=server[1])
    return str(url).rstrip("/")


def _dicomweb_url(request: Request, store: DicomStoreName) -> str:
    return f"{_base_url(request)}/v1/{store}/dicomWeb"


async def _quickly(
    at_once: Callable[_P, _T | None],
    in_thread: Callable[_P, _T],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T:
    """The answer of ``at_once``, a service's event-loop twin of ``in_thread``; when it declines
    (None: the work would be slow), that of ``in_thread`` in a worker thread."""
    answer = at_once(*args, **kwargs)
    if answer is None:
        return await run_in_threadpool(in_thread, *args, **kwargs)
    return answer


def _scope(request: Request) -> Scope:
    path = request.path_params
    return Scope(_store_name(request), path["study"], path.get("series"), path.get("instance"))


class _PiecesResponse(Response):
    """A body already in memory as a few pieces (a part's head, its bytes, the close), sent one
    after the other with their total Content-Length: no join (no copy of a large part) and none
    of a streaming response's machinery (a task per response, a thread hop per chunk)."""

    def __init__(self, pieces: list[bytes], media_type: str) -> None:
        self.pieces = pieces
        length = sum(len(piece) for piece in pieces)
        super().__init__(None, media_type=media_type, headers={"content-length": str(length)})

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.pieces) - 1
        for position, piece in enumerate(self.pieces):
            more = position < last
            await send({"type": "http.response.body", "body": piece, "more_body": more})


def _multipart_body(
    parts: list[tuple[Mapping[str, str], bytes]], content_type: MediaType
) -> Response:
    """A multipart answer whose parts are already in memory: no streaming machinery, and the
    steady boundary when the bodies allow (``multipart.boundary_for``)."""
    boundary = boundary_for([body for _, body in parts])
    media_type = _with_boundary(str(content_type), boundary)
    return _PiecesResponse(list(multipart_chunks(parts, boundary)), media_type)


@lru_cache(maxsize=64)
def _with_boundary(content_type: str, boundary: str) -> str:
    """``content_type`` with a ``boundary`` parameter (checked as `MediaType` checks it); the
    steady boundary makes the same few values again and again."""
    media_type = parse_media_type(content_type)
    return str(MediaType(media_type.type, {**media_type.params, "boundary": boundary}))


def _multipart(
    parts: Iterator[tuple[Mapping[str, str], Any]], content_type: MediaType, *, status: int = 200
) -> StreamingResponse:
    boundary = new_boundary()
    media_type = MediaType(content_type.type, {**content_type.params, "boundary": boundary})
    return StreamingResponse(
        multipart_chunks(parts, boundary), status_code=status, media_type=str(media_type)
    )


# --- STOW-RS --------------------------------------------------------------------------------


async def _spooled(
    services: Services, lookup: Awaitable[StowTarget], chunks: AsyncIterable[bytes]
) -> StoreOutcome:
    return await _storing(services, lookup, await _received(services, chunks))


async def _received(
    services: Services, chunks: AsyncIterable[bytes | bytearray | memoryview]
) -> list[bytes | bytearray | memoryview] | StagedFile:
    """One uploaded instance, read whole: in memory if it fits in one spool write (most single
    images), else spooled to disk as it arrives."""
    rest = aiter(chunks)
    pending: list[bytes | bytearray | memoryview] = []
    size = 0
    async for chunk in rest:
        pending.append(chunk)
        size += len(chunk)
        if size >= _SPOOL_WRITE_BYTES:
            return await _spool(services, rest, pending)
    return pending


async def _storing(
    services: Services,
    lookup: Awaitable[StowTarget],
    upload: list[bytes | bytearray | memoryview] | StagedFile,
    turn: Turn | None = None,
) -> StoreOutcome:
    """Store a received instance in a worker thread: one thread hop for all of its work."""
    try:
        target = await lookup
    except BaseException:
        if turn is not None:
            turn.done()
        if isinstance(upload, StagedFile):
            upload.discard()
        raise
    if isinstance(upload, StagedFile):
        return await run_in_threadpool(services.stow.store, target, upload, turn)
    data = upload[0] if len(upload) == 1 and type(upload[0]) is bytes else b"".join(upload)
    return await run_in_threadpool(services.stow.store_bytes, target, data, turn)


async def _looked_up_meanwhile(
    chunks: AsyncIterable[bytes], lookup: asyncio.Future[StowTarget]
) -> AsyncIterator[bytes]:
    """The body's chunks while the store is looked up: the lookup's error (an unknown store)
    is raised as soon as it comes, even while the client is still sending."""
    source = aiter(chunks)
    while not lookup.done():
        step = asyncio.ensure_future(anext(source, None))
        await asyncio.wait((step, lookup), return_when=asyncio.FIRST_COMPLETED)
        if lookup.done() and not lookup.cancelled() and lookup.exception() is not None:
            step.cancel()
            lookup.result()
        chunk = await step
        if chunk is None:
            return
        yield chunk
    lookup.result()
    async for chunk in source:
        yield chunk


async def _store_parts(
    services: Services, lookup: Awaitable[StowTarget], parts: AsyncIterator[Part]
) -> list[StoreOutcome]:
    """Store each part of a multipart STOW, in order. Up to ``_PARTS_IN_FLIGHT`` received parts
    are stored while the next ones are read, so their index writes share commits."""
    storing: list[asyncio.Future[StoreOutcome]] = []
    turn: Turn | None = None
    try:
        async for part in parts:
            part_type = part.content_type
            if part_type is not None and part_type.type != _DICOM:
                failed = FailedInstance(
                    failure_detail=f"Part {part.index + 1} has content type "
                    f"{part_type.type}; each part must be {_DICOM}."
                )
                storing.append(_done(failed))
                continue
            upload = await _received(services, part.pieces())
            turn = Turn(turn)  # indexed in the order sent, though stored side by side
            storing.append(asyncio.ensure_future(_storing(services, lookup, upload, turn)))
            unfinished = [future for future in storing if not future.done()]
            if len(unfinished) >= _PARTS_IN_FLIGHT:
                await asyncio.wait(unfinished, return_when=asyncio.FIRST_COMPLETED)
        return list(await asyncio.gather(*storing))
    except BaseException:
        # A malformed body or a dropped client: let what was received finish storing (each part
        # is stored or not on its own, as it would be one request at a time), then fail.
        await asyncio.gather(*storing, return_exceptions=True)
        raise


def _done(outcome: StoreOutcome) -> asyncio.Future[StoreOutcome]:
    future: asyncio.Future[StoreOutcome] = asyncio.get_running_loop().create_future()
    future.set_result(outcome)
    return future


async def _spool(
    services: Services,
    chunks: AsyncIterable[bytes | bytearray | memoryview],
    received: list[bytes | bytearray | memoryview],
) -> StagedFile:
    """Write a body (``received`` so far, then the rest of ``chunks``) to a staged file, hashing
    it, off the event loop: the bytes are gathered into ~1 MiB writes handed to a worker thread,
    so disk and SHA-256 never stall other requests and memory stays bounded whatever the size."""
    spool = await run_in_threadpool(services.stow.spool)
    with spool:
        await run_in_threadpool(spool.write_all, received)
        pending: list[bytes | bytearray | memoryview] = []
        size = 0
        async for chunk in chunks:
            pending.append(chunk)
            size += len(chunk)
            if size >= _SPOOL_WRITE_BYTES:
                await run_in_threadpool(spool.write_all, pending)
                pending, size = [], 0
        if pending:
            await run_in_threadpool(spool.write_all, pending)
        return await run_in_threadpool(spool.finish)


async def _store_json_and_bulk_data(
    services: Services, lookup: Awaitable[StowTarget], parts: AsyncIterator[Part]
) -> list[StoreOutcome]:
    """STOW-RS of DICOM JSON metadata plus bulk data parts (PS3.18 §10.5.1.1, spec §2.1 item 2):
    the first part holds the instances, each later part a value named by its Content-Location."""
    first = await anext(parts, None)
    if first is None or first.content_type is None or first.content_type.type != _DICOM_JSON:
        raise InvalidArgument(f"The first part must be {_DICOM_JSON}: the instances' metadata.")
    instances = parse_metadata_part(await first.read(max_bytes=_MAX_METADATA_PART))
    syntax = inline_binary_syntax(first.content_type.params.get("transfer-syntax"))
    claims = BulkDataIndex(instances)
    bulk_data: dict[str, BulkDataPart] = {}
    try:
        async for part in parts:
            location = part.content_location
            claims.claim(location)
            assert location is not None
            staged = await _spool(services, part.chunks(), [])
            media = part.content_type
            bulk_data[location] = BulkDataPart(
                staged.path,
                media.type if media else OCTET_STREAM,
                media.params.get("transfer-syntax") if media else None,
            )
        claims.check_complete()
        target = await lookup
        return [
            await run_in_threadpool(services.stow.store_json, target, instance, bulk_data, syntax)
            for instance in instances
        ]
    finally:
        for value in bulk_data.values():
            if isinstance(value.content, Path):
                value.content.unlink(missing_ok=True)


async def _boundary(content_type: MediaType, lookup: Awaitable[StowTarget]) -> str:
    try:
        return multipart_boundary(content_type)
    except InvalidArgument:
        await lookup  # an unknown store comes before a malformed request
        raise


async def _store_body(
    services: Services,
    lookup: asyncio.Future[StowTarget],
    content_type: MediaType,
    chunks: AsyncIterable[bytes],
) -> list[StoreOutcome]:
    if content_type.type == _DICOM:
        return [await _spooled(services, lookup, chunks)]
    if (
        content_type.type == "multipart/related"
        and content_type.params.get("type", "").lower() == _DICOM_JSON
    ):
        parts = iter_parts(chunks, await _boundary(content_type, lookup))
        return await _store_json_and_bulk_data(services, lookup, parts)
    root_type = content_type.params.get("type", "").lower()
    if content_type.type != "multipart/related":
        await lookup  # an unknown store comes before a malformed request
        raise InvalidArgument(
            f"Unsupported Content-Type {content_type.type!r}; send "
            'multipart/related; type="application/dicom" or application/dicom.'
        )
    if root_type not in (_DICOM, ""):
        await lookup
        raise InvalidArgument(
            f"Unsupported multipart type {root_type!r}; send "
            'multipart/related; type="application/dicom" or type="application/dicom+json".'
        )
    outcomes = await _store_parts(
        services, lookup, iter_parts(chunks, await _boundary(content_type, lookup))
    )
    if not outcomes:
        raise InvalidArgument("The request holds no instances.")
    return outcomes


async def store_instances(request: Request) -> Response:
    """STOW-RS (PS3.18 §10.5): Part 10 instances, multipart or (Google's extension) single."""
    services = _services(request)
    offer = negotiate(request.headers.get("accept"), STORE_OFFERS)
    content_type = parse_media_type(request.headers.get("content-type", ""))
    name = _store_name(request)
    look_up = partial(
        services.stow.target,
        name,
        dicomweb_url=_dicomweb_url(request, name),
        study_instance_uid=request.path_params.get("study"),
        storage_class=request.headers.get("storage-class"),
    )
    # The store is looked up at once on an embedded index, else while the body arrives; an
    # unknown one is NOT_FOUND before the body is read either way.
    lookup: asyncio.Future[StowTarget]
    if services.stow.looks_up_at_once:
        lookup = asyncio.get_running_loop().create_future()
        try:
            lookup.set_result(look_up())
        except Exception as error:
            lookup.set_exception(error)
    else:
        lookup = asyncio.ensure_future(run_in_threadpool(look_up))
    try:
        chunks = _looked_up_meanwhile(request.stream(), lookup)
        outcomes = await _store_body(services, lookup, content_type, chunks)
    finally:
        if not lookup.done():
            lookup.cancel()
        elif not lookup.cancelled():
            lookup.exception()  # retrieved: an error already raised is not logged again
    render = response_json if offer.media_type in JSON_MEDIA_TYPES else response_xml
    return Response(render(outcomes), status_code=status_code(outcomes), media_type=str(offer))


# --- WADO-RS --------------------------------------------------------------------------------


async def retrieve_instances(request: Request) -> Response:
    """Study, series or instance as Part 10 (PS3.18 §10.4.1.1.1)."""
    services = _services(request)
    scope = _scope(request)
    single = scope.instance is not None
    accept = request.headers.get("accept")
    offers = _SINGLE_INSTANCE if single else _INSTANCES
    ranked = offers.rank(accept)  # 400 for a malformed header
    if not ranked:
        offers.negotiate(accept)  # raises NotAcceptable (406) naming what is offered
    syntaxes = [offer.transfer_syntax or "*" for offer in ranked]
    retrieve = services.retrieve
    retrieval = await _quickly(retrieve.retrieval_at_once, retrieve.retrieval, scope, syntaxes)
    offer = ranked[retrieval.choice]
    syntax = syntaxes[retrieval.choice]
    first = retrieval.first
    instances = retrieval.instances
    # Sent as stored, the length is known before any byte is read: a Content-Length, so that
    # neither side pays for chunked framing (an extra copy of every part on each side).
    as_stored = all(sent_as_stored(instance, syntax) for instance in instances)
    if offer.media_type == _DICOM:
        media = offer.content_type(first.transfer_syntax_uid)
        if first.data is not None:
            return Response(first.data, media_type=media)
        _, chunks = retrieve.instance_chunks(instances[0], syntax)
        length = {"Content-Length": str(instances[0].blob_size_bytes)} if as_stored else None
        return StreamingResponse(chunks, media_type=media, headers=length)
    media_type = MediaType("multipart/related", {"type": _DICOM})
    if syntax != "*":
        media_type = MediaType(media_type.type, {**media_type.params, "transfer-syntax": syntax})
    if len(instances) == 1 and first.data is not None:
        return _multipart_body([(_instance_headers(first), first.data)], media_type)
    boundary = new_boundary()
    length = None
    if as_stored:
        sizes = [
            (_part_headers(part.transfer_syntax_uid), part.blob_size_bytes) for part in instances
        ]
        length = {"Content-Length": str(multipart_length(sizes, boundary))}
    return StreamingResponse(
        amultipart_chunks(_instance_parts(services, retrieval, syntax), boundary),
        media_type=str(MediaType(media_type.type, {**media_type.params, "boundary": boundary})),
        headers=length,
    )


def _instance_headers(body: InstanceBody) -> Mapping[str, str]:
    return _part_headers(body.transfer_syntax_uid)


def _part_headers(transfer_syntax: str) -> Mapping[str, str]:
    return {"Content-Type": f"{_DICOM}; transfer-syntax={transfer_syntax}"}


async def _instance_parts(
    services: Services, retrieval: Retrieval, syntax: str
) -> AsyncIterator[tuple[Mapping[str, str], bytes | AsyncIterator[bytes]]]:
    """Each instance as one part, read whole — on the event loop when that is quick
    (``RetrieveService.reads_at_once``), else in a worker thread while the one before is sent
    (at most two instances in memory) — or, when large, streamed in chunks."""
    retrieve = services.retrieve
    instances = retrieval.instances
    body = retrieval.first
    for position, instance in enumerate(instances):
        upcoming = instances[position + 1] if position + 1 < len(instances) else None
        following = None
        if upcoming is not None and not retrieve.reads_at_once(upcoming, syntax):
            following = asyncio.ensure_future(
                run_in_threadpool(retrieve.instance_body, upcoming, syntax)
            )
        try:
            if body.data is not None:
                yield _instance_headers(body), body.data
            else:
                _, chunks = retrieve.instance_chunks(instance, syntax)
                yield _instance_headers(body), iterate_in_threadpool(chunks)
        except BaseException:
            if following is not None:
                following.cancel()
            raise
        if following is not None:
            body = await following
        elif upcoming is not None:
            body = retrieve.instance_body(upcoming, syntax)


async def retrieve_metadata(request: Request) -> Response:
    """Metadata of a study, series or instance (PS3.18 §10.4.1.1.2)."""
    services = _services(request)
    scope = _scope(request)
    offer = _METADATA.negotiate(request.headers.get("accept"))
    body = await run_in_threadpool(
        services.retrieve.metadata_json, scope, _dicomweb_url(request, scope.store)
    )
    if offer.media_type in JSON_MEDIA_TYPES:
        return Response(body, media_type="application/dicom+json")
    documents = json.loads(body)
    parts = (({"Content-Type": "application/dicom+xml"}, to_dicom_xml(doc)) for doc in documents)
    return _multipart(parts, MediaType("multipart/related", {"type": "application/dicom+xml"}))


async def retrieve_frames(request: Request) -> Response:
    """Frames of an instance (PS3.18 §10.4.1.1.3): one or a list such as ``1,3,5``."""
    services = _services(request)
    scope = _scope(request)
    numbers = parse_frame_numbers(request.path_params["frames"])
    offer = _FRAMES.negotiate(request.headers.get("accept"))
    retrieve = services.retrieve
    syntax = offer.transfer_syntax or "*"
    frames = await _quickly(retrieve.frames_at_once, retrieve.frames, scope, numbers, syntax)
    if offer.media_type != "multipart/related":
        if len(frames) != 1:
            raise InvalidArgument(
                f"A single-part {offer.media_type} answer holds one frame; ask for "
                f'multipart/related; type="{offer.media_type}" to get several.'
            )
        return Response(
            frames[0].data, media_type=offer.content_type(frames[0].transfer_syntax_uid)
        )
    part_type = offer.type or _OCTETS
    parts: list[tuple[Mapping[str, str], bytes]] = [
        ({"Content-Type": f"{part_type}; transfer-syntax={frame.transfer_syntax_uid}"}, frame.data)
        for frame in frames
    ]
    return _multipart_body(parts, MediaType("multipart/related", {"type": part_type}))


async def retrieve_bulk_data(request: Request) -> Response:
    """A bulk data element by the path of its BulkDataURI (spec §4.5)."""
    services = _services(request)
    scope = _scope(request)
    offer: Offer = _BULK_DATA.negotiate(request.headers.get("accept"))
    data = await run_in_threadpool(services.retrieve.bulk_data, scope, request.path_params["path"])
    if offer.media_type == _OCTETS:
        return Response(data, media_type=_OCTETS)
    part: tuple[Mapping[str, str], bytes] = ({"Content-Type": _OCTETS}, data)
    return _multipart_body([part], MediaType("multipart/related", {"type": _OCTETS}))


# --- rendered images and thumbnails ----------------------------------------------------------


def _single_frame_number(request: Request) -> int | None:
    text = request.path_params.get("frames")
    if text is None:
        return None
    numbers = parse_frame_numbers(text)
    if len(numbers) != 1:
        raise InvalidArgument("A rendered frame or thumbnail resource names exactly one frame.")
    return numbers[0]


def _image_offers(services: Services) -> OfferSet:
    return _RENDERED_STANDARD if services.search.mode is QidoMode.STANDARD else _RENDERED


async def retrieve_rendered(request: Request) -> Response:
    """Rendered instance or frame (PS3.18 §10.4.1.1.5): JPEG by default, or PNG."""
    services = _services(request)
    scope = _scope(request)
    frame = _single_frame_number(request)
    offer = _image_offers(services).negotiate(request.headers.get("accept"))
    parameters = RenderParameters.parse(request.query_params.multi_items())
    image = await run_in_threadpool(
        services.render.rendered, scope, frame, offer.media_type, parameters
    )
    return Response(image, media_type=offer.media_type)


async def retrieve_thumbnail(request: Request) -> Response:
    """Thumbnail of a study, series, instance or frame (PS3.18 §10.4.3.3.4)."""
    services = _services(request)
    scope = _scope(request)
    frame = _single_frame_number(request)
    offer = _RENDERED.negotiate(request.headers.get("accept"))
    parameters = RenderParameters.parse(request.query_params.multi_items(), thumbnail=True)
    image = await run_in_threadpool(
        services.render.thumbnail, scope, frame, offer.media_type, parameters
    )
    return Response(image, media_type=offer.media_type)


# --- QIDO-RS --------------------------------------------------------------------------------


def _searcher(level: Level) -> Any:
    async def search(request: Request) -> Response:
        """QIDO-RS (PS3.18 §10.6) at one level; the path may fix the study and series."""
        services = _services(request)
        name = _store_name(request)
        offer = _SEARCH.negotiate(request.headers.get("accept"))
        # Google's system parameters (google-api-python-client always sends alt=json) are not
        # matching keys: Google accepts them on every method.
        params = [
            (key, value)
            for key, value in request.query_params.multi_items()
            if key not in SYSTEM_PARAMETERS
        ]
        result = await run_in_threadpool(
            services.search.search,
            name,
            level,
            params,
            dicomweb_url=_dicomweb_url(request, name),
            study_uid=request.path_params.get("study"),
            series_uid=request.path_params.get("series"),
        )
        headers = {}
        if result.unsupported_keys:
            keys = ", ".join(result.unsupported_keys)
            headers["Warning"] = f'299 dicomstore "The following keys are not supported: {keys}"'
        if result.body is None:
            return Response(status_code=204, headers=headers)
        if offer.media_type in JSON_MEDIA_TYPES:
            return Response(result.body, media_type="application/dicom+json", headers=headers)
        parts = (
            ({"Content-Type": "application/dicom+xml"}, to_dicom_xml(match))
            for match in json.loads(result.body)
        )
        response = _multipart(
            parts, MediaType("multipart/related", {"type": "application/dicom+xml"})
        )
        response.headers.update(headers)
        return response

    search.__name__ = f"search_for_{level.value}"
    return search


# --- delete, metrics, storage info -----------------------------------------------------------


def _path_scope(call: Call) -> tuple[DicomStoreName, dict[str, str]]:
    path = call.path
    name = DicomStoreName.of(path["project"], path["location"], path["dataset"], path["store"])
    return name, dict(path)


def delete_study(services: Services, call: Call) -> Any:
    name, path = _path_scope(call)
    return services.dicomweb_delete.delete_study(name, path["study"])


def delete_series(services: Services, call: Call) -> Any:
    name, path = _path_scope(call)
    return services.dicomweb_delete.delete_series(name, path["study"], path["series"])


def delete_instance(services: Services, call: Call) -> Any:
    name, path = _path_scope(call)
    return services.dicomweb_delete.delete_instance(
        name, path["study"], path["series"], path["instance"]
    )


def store_metrics(services: Services, call: Call) -> Any:
    name, _ = _path_scope(call)
    return services.metrics.store_metrics(name)


def study_metrics(services: Services, call: Call) -> Any:
    name, path = _path_scope(call)
    return services.metrics.study_metrics(name, path["study"])


def series_metrics(services: Services, call: Call) -> Any:
    name, path = _path_scope(call)
    return services.metrics.series_metrics(name, path["study"], path["series"])


def storage_info(services: Services, call: Call) -> Any:
    name, path = _path_scope(call)
    return services.metrics.storage_info(name, path["study"], path["series"], path["instance"])


routes = [
    Route(DICOMWEB + "/studies", _searcher(Level.STUDY), methods=["GET"]),
    Route(DICOMWEB + "/series", _searcher(Level.SERIES), methods=["GET"]),
    Route(DICOMWEB + "/instances", _searcher(Level.INSTANCE), methods=["GET"]),
    Route(STUDY + "/series", _searcher(Level.SERIES), methods=["GET"]),
    Route(STUDY + "/instances", _searcher(Level.INSTANCE), methods=["GET"]),
    Route(SERIES + "/instances", _searcher(Level.INSTANCE), methods=["GET"]),
    Route(DICOMWEB + "/studies", store_instances, methods=["POST"]),
    Route(STUDY, store_instances, methods=["POST"]),
    Route(STUDY, retrieve_instances, methods=["GET"]),
    Route(SERIES, retrieve_instances, methods=["GET"]),
    Route(INSTANCE, retrieve_instances, methods=["GET"]),
    Route(STUDY + "/metadata", retrieve_metadata, methods=["GET"]),
    Route(SERIES + "/metadata", retrieve_metadata, methods=["GET"]),
    Route(INSTANCE + "/metadata", retrieve_metadata, methods=["GET"]),
    Route(INSTANCE + "/frames/{frames}", retrieve_frames, methods=["GET"]),
    Route(INSTANCE + "/bulkdata/{path:path}", retrieve_bulk_data, methods=["GET"]),
    Route(INSTANCE + "/rendered", retrieve_rendered, methods=["GET"]),
    Route(INSTANCE + "/frames/{frames}/rendered", retrieve_rendered, methods=["GET"]),
    Route(STUDY + "/thumbnail", retrieve_thumbnail, methods=["GET"]),
    Route(SERIES + "/thumbnail", retrieve_thumbnail, methods=["GET"]),
    Route(INSTANCE + "/thumbnail", retrieve_thumbnail, methods=["GET"]),
    Route(INSTANCE + "/frames/{frames}/thumbnail", retrieve_thumbnail, methods=["GET"]),
    Route(STUDY, endpoint(delete_study), methods=["DELETE"]),
    Route(SERIES, endpoint(delete_series), methods=["DELETE"]),
    Route(INSTANCE, endpoint(delete_instance), methods=["DELETE"]),
    Route(STORE_PATH + ":getDICOMStoreMetrics", endpoint(store_metrics), methods=["GET"]),
    Route(STUDY + ":getStudyMetrics", endpoint(study_metrics), methods=["GET"]),
    Route(SERIES + ":getSeriesMetrics", endpoint(series_metrics), methods=["GET"]),
    Route(INSTANCE + ":getStorageInfo", endpoint(storage_info), methods=["GET"]),
]
