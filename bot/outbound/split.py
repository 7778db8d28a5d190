"""Split long messages at WeCom's UTF-8 byte limits, at the most natural break available.

WeCom measures ``text`` content (≤ 2048 bytes) and ``markdown`` content (≤ 4096 bytes) in UTF-8
bytes, not characters: one Chinese character is 3 bytes, most emoji 4. :func:`split_utf8` cuts a
message into chunks that each fit, and nothing is dropped or added: separators stay at the end
of the chunk they close, so ``"".join(split_utf8(t, n)) == t`` always holds.
"""

from __future__ import annotations

from itertools import accumulate

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096

# Break preferences, best first. A break goes *after* the separator, which stays with the chunk
# it ends. Sentence ends are Chinese and ASCII; clause breaks include spaces.
_NEWLINES = frozenset("\n")
_SENTENCE_ENDS = frozenset("。！？；!?;…")
_CLAUSE_BREAKS = frozenset("，、：,: \t\u3000")
_TIERS = (_NEWLINES, _SENTENCE_ENDS, _CLAUSE_BREAKS)
# Closing quotes/brackets that belong with the punctuation just before them: "好。”" stays whole.
_CLOSERS = frozenset("”’」』）)】》〉\"'")
# A break is only taken if the chunk before it is at least this share of the limit; otherwise a
# newline near the start would waste a whole message (webhooks allow 20 per minute).
_MIN_FILL = 0.5


def utf8_len(text: str) -> int:
    """UTF-8 length in bytes (a lone surrogate counts 3 bytes rather than raising)."""
    return len(text.encode("utf-8", "surrogatepass"))


def split_utf8(text: str, limit_bytes: int) -> list[str]:
    """Split ``text`` into chunks whose UTF-8 encoding is at most ``limit_bytes`` each.

    Breaks after a newline if one falls in the second half of the chunk, else after sentence
    punctuation (。！？；!?;…), else after a clause break (，、：,: or a space), else at the last
    code point that fits. Code points are never split. Separators are kept (at the end of the
    chunk they close), so the chunks concatenate back to ``text`` exactly; a text that fits is
    returned as ``[text]`` and the empty string as ``[]``.
    """
    if limit_bytes < 4:
        raise ValueError("limit_bytes must be at least 4 (one UTF-8 code point)")
    if not text:
        return []
    sizes = [utf8_len(ch) for ch in text]
    if sum(sizes) <= limit_bytes:
        return [text]
    # ends[i] = bytes of text[:i]
    ends = [0, *accumulate(sizes)]
    chunks: list[str] = []
    start = 0
    n = len(text)
    while start < n:
        if ends[n] - ends[start] <= limit_bytes:
            chunks.append(text[start:])
            break
        # largest stop such that text[start:stop] fits (at least one code point always fits)
        stop = start + 1
        while stop < n and ends[stop + 1] - ends[start] <= limit_bytes:
            stop += 1
        cut = _best_cut(text, ends, start, stop, limit_bytes)
        chunks.append(text[start:cut])
        start = cut
    return chunks


def _best_cut(text: str, ends: list[int], start: int, stop: int, limit: int) -> int:
    """Where to end the chunk that begins at ``start`` and may run to ``stop`` (exclusive)."""
    min_bytes = int(limit * _MIN_FILL)
    for tier in _TIERS:
        # candidate cut positions after a separator, scanning backwards from the longest chunk
        for i in range(stop - 1, start - 1, -1):
            if ends[i + 1] - ends[start] < min_bytes:
                break
            if text[i] in tier:
                cut = i + 1
                while cut < stop and text[cut] in _CLOSERS:
                    cut += 1
                return cut
    return stop
