"""The served OpenAPI document: every `$ref` resolves from its root, and the events route
documents its body and every answer it gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from cellmon.events.schemas import ClientEvent


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The node a local JSON pointer names, from the document's root."""
    assert ref.startswith("#/"), f"{ref}: not a reference within the document"
    node: Any = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} does not resolve"
        assert key in node, f"{ref} does not resolve"
        node = node[key]
    return node


async def test_every_ref_of_the_served_document_resolves(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    found = list(refs(document))
    assert found
    for ref in found:
        assert isinstance(resolve(document, ref), dict)
    # Served twice, the document stays the same (the app adds the events' schemas in place).
    assert (await client.get("/openapi.json")).json() == document


async def test_the_events_body_and_answers_are_documented(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    event = resolve(document, body["items"]["$ref"])
    assert set(event["properties"]) == set(ClientEvent.__annotations__)
    assert event["required"] == ["eventType"]
    assert "outOfRangeFields" in operation["requestBody"]["description"]
    assert set(operation["responses"]) == {"202", "400", "401", "413", "422", "429", "503"}
    for status, words in {
        "400": ("Content-Encoding", "gzip", "member"),
        "401": ("key",),
        "422": ("UTF-8", "nested too deep"),
    }.items():
        answer = operation["responses"][status]
        for word in words:
            assert word in answer["description"], (status, word)
        schema = answer["content"]["application/json"]["schema"]
        assert isinstance(resolve(document, schema["$ref"]), dict)
