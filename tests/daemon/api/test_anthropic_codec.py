"""Tool call deltas as the different upstreams send them become exact `tool_use` blocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roundhouse.daemon.dialects.anthropic_messages import CutOff, StreamEncoder, message_json
from roundhouse.daemon.models import ChatChunk, Usage


def delta(
    index: int | None, *, id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    call: dict[str, Any] = {"function": {"arguments": args}}
    if index is not None:
        call["index"] = index
    if id is not None:
        call["id"] = id
    if name is not None:
        call["function"]["name"] = name
    return call


def events(chunks: list[ChatChunk]) -> list[dict[str, Any]]:
    encoder = StreamEncoder(message_id="msg_1", model="m", input_estimate=3)
    raw = encoder.start() + b"".join(encoder.feed(c) for c in chunks) + encoder.end()
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def blocks_of(stream: list[dict[str, Any]]) -> list[tuple[int, str, Any]]:
    """(index, type, text or parsed input) per block, rebuilt from the events alone."""
    blocks: dict[int, list[Any]] = {}
    for event in stream:
        if event["type"] == "content_block_start":
            assert event["index"] not in blocks, "a block index opened twice"
            block = event["content_block"]
            blocks[event["index"]] = [block["type"], block.get("name"), ""]
        elif event["type"] == "content_block_delta":
            d = event["delta"]
            blocks[event["index"]][2] += d.get("text", d.get("partial_json", ""))
    return [
        (i, kind, (name, json.loads(body)) if kind == "tool_use" else body)
        for i, (kind, name, body) in sorted(blocks.items())
    ]


END = ChatChunk(finish_reason="tool_calls", usage=Usage(5, 9))


def test_a_server_that_repeats_id_and_name_on_every_delta_gets_one_block_per_call() -> None:
    chunks = [
        ChatChunk(content="Let me look."),
        ChatChunk(tool_calls=[delta(0, id="call_a", name="read", args='{"path": ')]),
        ChatChunk(tool_calls=[delta(0, id="call_a", name="read", args='"a.txt"}')]),
        ChatChunk(tool_calls=[delta(1, id="call_b", name="grep", args='{"q": "x"}')]),
        END,
    ]
    stream = events(chunks)
    assert blocks_of(stream) == [
        (0, "text", "Let me look."),
        (1, "tool_use", ("read", {"path": "a.txt"})),
        (2, "tool_use", ("grep", {"q": "x"})),
    ]
    assert [e["index"] for e in stream if e["type"] == "content_block_stop"] == [0, 1, 2]
    assert stream[-2]["delta"]["stop_reason"] == "tool_use" and stream[-2]["usage"]["output_tokens"] == 9
    whole = message_json(chunks, message_id="msg_1", model="m", input_estimate=3)
    assert [b.get("input") for b in whole["content"]] == [None, {"path": "a.txt"}, {"q": "x"}]


def test_calls_told_apart_by_id_alone_and_whole_calls_in_one_chunk() -> None:
    chunks = [
        ChatChunk(tool_calls=[delta(None, id="call_a", name="read", args='{"p": 1}')]),
        ChatChunk(tool_calls=[delta(None, id="call_b", name="read", args="{}")]),
        END,
    ]
    assert blocks_of(events(chunks)) == [(0, "tool_use", ("read", {"p": 1})), (1, "tool_use", ("read", {}))]
    whole = [
        {"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
        {"id": "c2", "type": "function", "function": {"name": "b", "arguments": ""}},
    ]
    message = message_json([ChatChunk(tool_calls=whole), END], message_id="m", model="m", input_estimate=1)
    assert [(b["id"], b["name"], b["input"]) for b in message["content"]] == [
        ("c1", "a", {"x": 1}),
        ("c2", "b", {}),
    ]


@pytest.mark.parametrize(
    "chunks",
    [
        [ChatChunk(tool_calls=[delta(0, id="c", name="read", args='{"path": "a')])],  # no finish
        [ChatChunk(tool_calls=[delta(0, id="c", name="read", args='{"path": "a')]), END],  # bad JSON
        [ChatChunk(tool_calls=[delta(0, id="c", args="{}")]), END],  # never named
    ],
)
def test_an_unfinished_tool_call_is_never_presented_as_complete(chunks: list[ChatChunk]) -> None:
    encoder = StreamEncoder(message_id="msg_1", model="m", input_estimate=3)
    for chunk in chunks:
        encoder.feed(chunk)
    with pytest.raises(CutOff):
        encoder.end()
    with pytest.raises(CutOff):
        message_json(chunks, message_id="msg_1", model="m", input_estimate=3)
