"""Structured outputs for llama.cpp: a request's `response_format` as a GBNF grammar.

Every dialect arrives here in OpenAI's shape: `{"type": "json_object"}` (Ollama `format: "json"`)
or `{"type": "json_schema", "json_schema": {"schema": {...}}}` (Ollama `format: {schema}`).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from roundhouse.daemon.backends.base import BackendError

_FIELD = "response_format.json_schema.schema"


def grammar_for(response_format: dict[str, Any] | None) -> Any:
    """The grammar the sampler must follow, or None when the answer is free text."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        schema = response_format.get("schema")  # llama-cpp-python's own spelling
        return _compile(json.dumps(schema, sort_keys=True) if isinstance(schema, dict) else None)
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise BackendError(f"{_FIELD} must be a JSON Schema object", status=400, kind="invalid_request")
        return _compile(json.dumps(schema, sort_keys=True))
    return None


@functools.lru_cache(maxsize=64)  # a client sends the same schema request after request
def _compile(schema_json: str | None) -> Any:
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import JSON_GBNF

    if schema_json is None:
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    try:
        return LlamaGrammar.from_json_schema(schema_json, verbose=False)
    except Exception as exc:  # the converter raises bare Exceptions for what it cannot express
        raise BackendError(
            f"{_FIELD} cannot be followed by the embedded model: {str(exc).splitlines()[0][:160]}",
            status=400,
            kind="invalid_request",
        ) from None
