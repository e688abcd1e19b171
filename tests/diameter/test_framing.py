"""The framer accepts any TCP chunking and ends the stream on a bad header."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.diameter.errors import FramingError
from ocs.diameter.framing import Framer
from tests.diameter.messages import ccr, ccr_avps


def message(number: int) -> bytes:
    return ccr(ccr_avps(request_number=number), hop_by_hop=number)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.data())
def test_any_chunking_yields_the_same_messages(count: int, data: st.DataObject) -> None:
    messages = [message(n) for n in range(count)]
    stream = b"".join(messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    framer = Framer()
    received: list[bytes] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        received += framer.feed(stream[previous:cut])
        previous = cut
    assert received == messages
    assert framer.buffered == 0


def test_one_byte_at_a_time_and_several_per_read() -> None:
    framer = Framer()
    first, second = message(1), message(2)
    received = []
    for octet in first:
        received += framer.feed(bytes([octet]))
    assert received == [first]
    assert framer.feed(second + second + first[:7]) == [second, second]
    assert framer.buffered == 7


def test_a_whole_message_is_returned_without_copying() -> None:
    data = message(1)
    assert Framer().feed(data)[0] is data


@pytest.mark.parametrize(
    ("first_word", "reason"),
    [
        (2 << 24 | 20, "version"),
        (1 << 24 | 16, "length"),
        (1 << 24 | 0, "length"),
        (1 << 24 | 22, "length"),
        (1 << 24 | 65540, "too_large"),
        (1 << 24 | 0xFFFFFC, "too_large"),
    ],
)
def test_bad_headers_end_the_stream_as_soon_as_four_octets_arrive(
    first_word: int, reason: str
) -> None:
    framer = Framer()
    with pytest.raises(FramingError) as caught:
        framer.feed(struct.pack(">I", first_word))
    assert caught.value.reason == reason
    with pytest.raises(FramingError):  # and stays ended: no resync on later data
        framer.feed(message(1))
    assert framer.buffered == 0


def test_a_bad_header_after_good_messages_is_found() -> None:
    framer = Framer()
    with pytest.raises(FramingError):
        framer.feed(message(1) + b"GET / HTTP/1.1\r\n\r\n")


def test_the_maximum_is_configurable() -> None:
    small = Framer(max_message_size=64)
    with pytest.raises(FramingError, match="exceeds the maximum 64"):
        small.feed(message(1))
    with pytest.raises(ValueError):
        Framer(max_message_size=10)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_either_frames_or_raises_and_never_buffers_more_than_a_message(
    garbage: bytes,
) -> None:
    framer = Framer(max_message_size=128)
    try:
        for part in (garbage[:50], garbage[50:]):
            for framed in framer.feed(part):
                assert framed[0] == 1 and len(framed) % 4 == 0
    except FramingError:
        return
    assert framer.buffered < 128
