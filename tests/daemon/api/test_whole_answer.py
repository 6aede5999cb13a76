"""A non-stream answer is whole at its last chunk; the rest of its stream (the backend's slot, the
cache entry, the committed ledger row) is done before the answer goes out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from roundhouse.daemon.api.common import first_and_rest, whole_answer
from roundhouse.daemon.models import ChatChunk, Usage


class Stream:
    """A backend-like stream that notes how far it was read and whether it ran its cleanup."""

    def __init__(self, chunks: list[ChatChunk], fail_after: bool = False) -> None:
        self.chunks = chunks
        self.fail_after = fail_after
        self.read = 0
        self.finished = False

    async def run(self) -> AsyncIterator[ChatChunk]:
        try:
            for chunk in self.chunks:
                self.read += 1
                yield chunk
            if self.fail_after:
                raise RuntimeError("the cache is full")
        finally:
            self.finished = True


async def test_the_answer_is_whole_at_the_chunk_with_its_finish_and_usage() -> None:
    final = ChatChunk(content="lo", finish_reason="stop", usage=Usage(3, 2))
    stream = Stream([ChatChunk(content="hel"), final])
    first, rest = await first_and_rest(stream.run())
    chunks = await whole_answer(first, rest)
    assert [c.content for c in chunks] == ["hel", "lo"]
    assert stream.finished


async def test_a_stream_whose_usage_comes_last_is_read_to_its_end() -> None:
    # Cloud streams send the finish reason first and the usage in a chunk of its own.
    stream = Stream([ChatChunk(content="hi", finish_reason="stop"), ChatChunk(usage=Usage(3, 1))])
    first, rest = await first_and_rest(stream.run())
    chunks = await whole_answer(first, rest)
    assert len(chunks) == 2 and chunks[-1].usage == Usage(3, 1)


async def test_a_failure_after_the_answer_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    stream = Stream([ChatChunk(content="ok", finish_reason="stop", usage=Usage(1, 1))], fail_after=True)
    first, rest = await first_and_rest(stream.run())
    with caplog.at_level(logging.ERROR):
        chunks = await whole_answer(first, rest)
    assert [c.content for c in chunks] == ["ok"] and stream.finished
    assert "after its answer was whole" in caplog.text and "the cache is full" in caplog.text
