"""Native DICOM Model XML (PS3.19 §A.1) of a DICOM JSON data set (PS3.18 §F.2).

The media type ``application/dicom+xml`` carries one data set as a ``<NativeDicomModel>``
document: the STOW-RS response when the client asks for XML (Google's default, spec §2.2), and
each part of ``multipart/related; type="application/dicom+xml"`` QIDO-RS and metadata responses
(spec §3.4, §4.4). dicomstore keeps data sets as DICOM JSON, so :func:`to_dicom_xml` converts from
that, one data set per document; a multipart writer calls it once per part.

The mapping (PS3.19 §A.1.1, Table A.1-1 and the RELAX NG schema of §A.1.6):

=====================================  ============================================================
DICOM JSON                             Native DICOM Model
=====================================  ============================================================
``"GGGGEEEE": {"vr": VR, ...}``        ``<DicomAttribute tag="GGGGEEEE" vr="VR" keyword="...">``;
                                       the keyword from pydicom's data dictionary, left out for
                                       tags it does not know (and for private tags)
``"Value": [v1, v2]``                  ``<Value number="1">v1</Value><Value number="2">v2</Value>``;
                                       numbers in their shortest round-trip form, ``null`` as an
                                       empty ``<Value number="n"/>``
PN ``{"Alphabetic": "F^G^M^P^S"}``     ``<PersonName number="n"><Alphabetic><FamilyName>F</…>``
                                       ``<GivenName>``, ``<MiddleName>``, ``<NamePrefix>``,
                                       ``<NameSuffix>``; empty components and groups left out
SQ ``"Value": [{…}, {…}]``             ``<Item number="1">…</Item>``, attributes nested
``"InlineBinary": "base64"``           ``<InlineBinary>base64</InlineBinary>``
``"BulkDataURI": "uri"``               ``<BulkData uri="uri"/>``
no value                               an empty ``<DicomAttribute …/>``
=====================================  ============================================================

Private data elements follow PS3.19 and what dcm4che and Google write: the block of a private
element is named by its creator, not by the element number, so (gggg,xxee) whose creator
(gggg,00xx) holds ``"CREATOR"`` becomes ``tag="gggg00ee" privateCreator="CREATOR"``, and the
private creator elements themselves are not written. Google's STOW response shows this shape:
FailureDetail, (0009,1097) with creator ``GOOGLE`` in DICOM JSON, is
``<DicomAttribute tag="00090097" vr="LT" keyword="FailureDetail" privateCreator="GOOGLE">`` in XML
(spec §2.2). A private element without a creator in its data set keeps its full tag. Private
elements have no keyword unless the caller names one in ``private_keywords``.

Attributes are written in ascending tag order, as PS3.19 data sets are ordered. The output is UTF-8
with an XML declaration, without indentation. Characters XML 1.0 cannot carry at all (C0 controls
but TAB, LF and CR, such as the form feed LT and UT values may hold, lone surrogates, U+FFFE and
U+FFFF) are replaced by U+FFFD; carriage returns are written as ``&#13;`` so that parsers give them
back instead of normalising line ends (XML 1.0 §2.11).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, TypeAlias

from pydicom.datadict import keyword_for_tag

__all__ = ["NATIVE_DICOM_MODEL_NAMESPACE", "PrivateKeywords", "to_dicom_xml"]

NATIVE_DICOM_MODEL_NAMESPACE: Final = "http://dicom.nema.org/PS3.19/models/NativeDICOM"
"""The XML namespace of PS3.19 §A.1.6, declared only when asked for (Google's documents omit it)."""

PrivateKeywords: TypeAlias = Mapping[tuple[str, int], str]
"""Keywords for private attributes: ``(private creator, tag as written in XML) -> keyword``, e.g.
``{("GOOGLE", 0x00090097): "FailureDetail"}``; the tag has its block byte cleared (``gggg00ee``).
"""

_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'
_TAG_RE: Final = re.compile(r"[0-9A-Fa-f]{8}")
_PN_GROUPS: Final = ("Alphabetic", "Ideographic", "Phonetic")
_PN_COMPONENTS: Final = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
# Everything outside XML 1.0's Char production (§2.2).
_NOT_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NO_PRIVATE_KEYWORDS: Final[PrivateKeywords] = {}


def to_dicom_xml(
    dataset: Mapping[str, Any],
    *,
    private_keywords: PrivateKeywords | None = None,
    namespace: bool = False,
) -> bytes:
    """Write a DICOM JSON data set as a Native DICOM Model XML document (PS3.19 §A.1).

    Parameters
    ----------
    dataset : Mapping[str, Any]
        One data set in DICOM JSON (PS3.18 §F.2): attributes keyed by 8 hexadecimal digits, each
        ``{"vr": VR}`` plus at most one of ``Value``, ``InlineBinary`` or ``BulkDataURI``.
    private_keywords : PrivateKeywords, optional
        Keywords to write for private attributes, by private creator and XML tag.
    namespace : bool, default False
        Declare :data:`NATIVE_DICOM_MODEL_NAMESPACE` on the root element. Google's documents do
        not; schema-validating consumers may want it.

    Returns
    -------
    bytes
        The document, UTF-8 encoded, starting with an XML declaration.

    Raises
    ------
    ValueError
        If ``dataset`` is not DICOM JSON (a key that is not a tag, an attribute without a VR,
        a sequence item that is not an object).

    Examples
    --------
    >>> to_dicom_xml({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]}})[39:]
    b'<NativeDicomModel><DicomAttribute tag="00100010" vr="PN" keyword="PatientName"><PersonName number="1"><Alphabetic><FamilyName>Doe</FamilyName><GivenName>Jane</GivenName></Alphabetic></PersonName></DicomAttribute></NativeDicomModel>'
    """  # noqa: E501
    out = [_DECLARATION]
    out.append(
        f'<NativeDicomModel xmlns="{NATIVE_DICOM_MODEL_NAMESPACE}">'
        if namespace
        else "<NativeDicomModel>"
    )
    _write_dataset(dataset, out, private_keywords or _NO_PRIVATE_KEYWORDS)
    out.append("</NativeDicomModel>")
    return "".join(out).encode("utf-8")


def _write_dataset(dataset: Mapping[str, Any], out: list[str], keywords: PrivateKeywords) -> None:
    if not isinstance(dataset, Mapping):
        raise ValueError(f"A DICOM JSON data set must be an object, not {dataset!r}.")
    attributes: list[tuple[int, Mapping[str, Any]]] = []
    creators: dict[int, str] = {}  # (gggg,00xx) -> its creator, for the private blocks
    for key, attribute in dataset.items():
        if not isinstance(key, str) or _TAG_RE.fullmatch(key) is None:
            raise ValueError(f"Not a DICOM JSON attribute tag: {key!r}.")
        if not isinstance(attribute, Mapping) or not isinstance(attribute.get("vr"), str):
            raise ValueError(f"The DICOM JSON attribute {key} has no VR: {attribute!r}.")
        tag = int(key, 16)
        attributes.append((tag, attribute))
        if _is_private_creator(tag):
            values = attribute.get("Value")
            if values and isinstance(values[0], str):
                # Leading and trailing spaces are not significant in LO (PS3.5 §6.2).
                creators[tag] = values[0].strip(" ")
    attributes.sort(key=lambda pair: pair[0])
    for tag, attribute in attributes:
        if tag in creators:
            continue  # conveyed by privateCreator on the elements of its block
        _write_attribute(tag, attribute, creators, out, keywords)


def _is_private_creator(tag: int) -> bool:
    return tag >> 16 & 1 == 1 and 0x0010 <= tag & 0xFFFF <= 0x00FF


def _write_attribute(
    tag: int,
    attribute: Mapping[str, Any],
    creators: Mapping[int, str],
    out: list[str],
    keywords: PrivateKeywords,
) -> None:
    vr: str = attribute["vr"]
    creator = None
    if tag >> 16 & 1:
        creator = creators.get(tag & 0xFFFF0000 | (tag >> 8 & 0xFF))
        if creator is not None:
            tag &= 0xFFFF00FF
        keyword = keywords.get((creator, tag), "") if creator is not None else ""
    else:
        keyword = _keyword(tag)
    head = f'<DicomAttribute tag="{tag:08X}" vr="{_attribute_value(vr)}"'
    if keyword:
        head += f' keyword="{_attribute_value(keyword)}"'
    if creator is not None:
        head += f' privateCreator="{_attribute_value(creator)}"'

    values = attribute.get("Value")
    if values:
        out.append(head + ">")
        if vr == "SQ":
            for number, item in enumerate(values, 1):
                out.append(f'<Item number="{number}">')
                _write_dataset(item if item is not None else {}, out, keywords)
                out.append("</Item>")
        elif vr == "PN":
            for number, value in enumerate(values, 1):
                _write_person_name(number, value, out)
        else:
            for number, value in enumerate(values, 1):
                if value is None:
                    out.append(f'<Value number="{number}"/>')
                else:
                    out.append(f'<Value number="{number}">{_value_text(value)}</Value>')
        out.append("</DicomAttribute>")
    elif "InlineBinary" in attribute:
        out.append(f"{head}><InlineBinary>{_text(attribute['InlineBinary'])}</InlineBinary>")
        out.append("</DicomAttribute>")
    elif "BulkDataURI" in attribute:
        out.append(f'{head}><BulkData uri="{_attribute_value(attribute["BulkDataURI"])}"/>')
        out.append("</DicomAttribute>")
    else:
        out.append(head + "/>")


def _write_person_name(number: int, value: Any, out: list[str]) -> None:
    if isinstance(value, str):  # lenient: a bare string is the alphabetic group
        value = {"Alphabetic": value}
    groups = []
    if isinstance(value, Mapping):
        for group in _PN_GROUPS:
            text = value.get(group)
            if not text:
                continue
            components = "".join(
                f"<{name}>{_text(component)}</{name}>"
                for name, component in zip(_PN_COMPONENTS, str(text).split("^"), strict=False)
                if component
            )
            if components:
                groups.append(f"<{group}>{components}</{group}>")
    if groups:
        out.append(f'<PersonName number="{number}">{"".join(groups)}</PersonName>')
    else:
        out.append(f'<PersonName number="{number}"/>')


@lru_cache(maxsize=8192)
def _keyword(tag: int) -> str:
    keyword: str = keyword_for_tag(tag)
    return keyword


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool):  # a bool is an int to Python, never a DICOM value
        raise ValueError(f"Not a DICOM JSON value: {value!r}.")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        # xsd:double's lexical forms; FD and FL may hold them, DICOM JSON can only as NaN/Infinity.
        return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")
    raise ValueError(f"Not a DICOM JSON value: {value!r}.")


def _clean(text: str) -> str:
    return _NOT_XML_CHAR.sub("\ufffd", text) if _NOT_XML_CHAR.search(text) else text


def _text(text: Any) -> str:
    """Character data: escaped, CR kept as a reference so that it survives parsing."""
    return (
        _clean(str(text))
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
    )


def _attribute_value(text: Any) -> str:
    """A double-quoted attribute value: as `_text`, and whitespace kept from normalisation."""
    return _text(text).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")
