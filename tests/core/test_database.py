import json

from cellmon.core.database import _dumps_json


def test_json_columns_serialize_like_the_standard_library() -> None:
    document = {"tags": {"cell": "c1"}, "fields": {"duration_ms": 12.5, "error": None}}

    assert json.loads(_dumps_json(document)) == document


def test_json_columns_still_store_what_orjson_refuses() -> None:
    # Integer keys and integers beyond 64 bits were stored before orjson served JSON columns.
    document = {1: "first cell", "count": 2**70}

    assert _dumps_json(document) == json.dumps(document)
