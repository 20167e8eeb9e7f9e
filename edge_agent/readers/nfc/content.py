"""What an NFC tag's NDEF says, decided without any I/O: a product, an identity credential, or a refusal.

Tags are keyed by their content, never their UID (phones and emulated tags randomise it, and a UID is a
persistent identifier of whoever carries the card).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ndef

from edge_agent.identifiers.gtin import InvalidCode
from edge_agent.identifiers.product_key import ProductKey, parse_code
from edge_agent.identity.tokens import find_credential


@dataclass(frozen=True, slots=True)
class ProductTag:
    key: ProductKey


@dataclass(frozen=True, slots=True)
class CredentialTag:
    token: str
    """Opaque here; identity.tokens verifies it. Never logged or stored as is."""


@dataclass(frozen=True, slots=True)
class RejectedTag:
    reason: str
    detail: str


TagContent = ProductTag | CredentialTag | RejectedTag


def _texts(records: Sequence[ndef.Record]) -> list[str]:
    """The candidate strings of a message: URI and Text records, and those inside Smart Posters."""
    out: list[str] = []
    for record in records:
        if isinstance(record, ndef.UriRecord):
            out.append(record.iri)
        elif isinstance(record, ndef.TextRecord):
            out.append(record.text)
        elif isinstance(record, ndef.SmartposterRecord) and record.resource is not None:
            out.append(record.resource.iri)
    return out


def classify(records: Sequence[ndef.Record]) -> TagContent:
    """The first record that means something decides; a message with none is refused with the best reason."""
    texts = _texts(records)
    if not texts:
        kinds = ",".join(sorted({r.type for r in records})) or "empty message"
        return RejectedTag("no_usable_record", f"no URI, Text or Smart Poster record ({kinds})")
    last_reason = InvalidCode("not_a_product_code", "")
    for text in texts:
        token = find_credential(text)
        if token is not None:
            return CredentialTag(token)
        try:
            return ProductTag(parse_code(text))
        except InvalidCode as exc:
            last_reason = exc
    return RejectedTag(last_reason.reason, f"{len(texts)} record(s), none a product or credential: {last_reason}")


def decode_message(octets: bytes) -> TagContent:
    """Raw NDEF bytes (truncated, hostile) to content; ndeflib's strict decoder refuses broken messages."""
    try:
        records = list(ndef.message_decoder(octets, errors="strict"))
    except (ndef.DecodeError, ValueError) as exc:
        # ndeflib raises a bare ValueError for some corrupt headers (an absolute-URI TNF with a type that is no
        # URI); found by the bit-flip fuzz in tests/unit/test_identity_and_session.py.
        return RejectedTag("malformed_ndef", str(exc)[:120])
    return classify(records)
