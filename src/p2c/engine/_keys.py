"""Reading records by source key (retries, change tracking): the filter that names them."""

from __future__ import annotations

__all__ = ["KEYS_PER_READ", "key_filter"]

from collections.abc import Sequence

from p2c.odata import Compare, Filter, Logical

KEYS_PER_READ = 200  # source keys per read by key: 200 `eq`s stay a URL of about 12 KB


def key_filter(key_fields: Sequence[str], keys: Sequence[str]) -> Filter:
    """``k eq 'a' or k eq 'b' …`` over source keys (composite keys are joined by '/'), as a
    balanced tree: its nesting grows with the logarithm of the keys, which SQL parsers
    and URL renderers take at any size."""
    ones: list[Filter] = []
    for text in keys:
        values = text.split("/", len(key_fields) - 1)
        one: Filter | None = None
        for name, value in zip(key_fields, values, strict=True):
            part = Compare("eq", name, value)
            one = part if one is None else Logical("and", one, part)
        assert one is not None
        ones.append(one)
    while len(ones) > 1:
        pairs = [Logical("or", a, b) for a, b in zip(ones[::2], ones[1::2], strict=False)]
        ones = pairs + ([ones[-1]] if len(ones) % 2 else [])
    return ones[0]
