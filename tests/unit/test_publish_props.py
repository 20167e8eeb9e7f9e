"""The PUBLISH properties the link packs itself are byte for byte what paho's own ``Properties.pack()`` gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.sync.publish_props import PackedPublishProperties, encode_publish_properties

text = st.text(max_size=300)
pairs = st.lists(st.tuples(text, text), max_size=4)
expiry = st.one_of(st.none(), st.integers(min_value=0, max_value=2**32 - 1))
correlation = st.one_of(st.none(), st.binary(max_size=300))


def paho_packed(user: list[tuple[str, str]], expiry_s: int | None, corr: bytes | None) -> bytes:
    props = Properties(PacketTypes.PUBLISH)
    if user:
        props.UserProperty = list(user)
    if expiry_s:
        props.MessageExpiryInterval = expiry_s
    if corr:
        props.CorrelationData = corr
    return bytes(props.pack())


@given(pairs, expiry, correlation)
def test_packed_properties_equal_pahos(user: list[tuple[str, str]], expiry_s: int | None, corr: bytes | None) -> None:
    assert encode_publish_properties(user, expiry_s, corr) == paho_packed(user, expiry_s, corr)


def test_the_agents_two_user_properties_pack_as_paho_packs_them() -> None:
    user = [("ce_type", "com.acme.cart.ops.v1"), ("ce_id", "kiosk-01:0123456789abcdef:1-1")]
    packed = PackedPublishProperties(encode_publish_properties(user))
    assert packed.pack() == paho_packed(user, None, None)
    assert packed.packetType == PacketTypes.PUBLISH
    assert not packed.isEmpty()


def test_a_field_longer_than_mqtt_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 65535 bytes"):
        encode_publish_properties([("ce_id", "x" * 70_000)])
