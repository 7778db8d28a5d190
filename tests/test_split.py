"""split_utf8: every chunk fits in UTF-8 bytes, nothing is lost, breaks fall in good places."""

from __future__ import annotations

import random

import pytest

from bot.outbound.split import MARKDOWN_LIMIT, TEXT_LIMIT, split_utf8, utf8_len

HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可"
EMOJI = "😀🙏👍🚧🔥🎉"
PUNCT = "，。！？；、："
ASCII = "abcXYZ0129 .,!?;"


def _random_text(rng: random.Random, n: int) -> str:
    pools = [HAN] * 6 + [EMOJI, PUNCT, ASCII, "\n", " "]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def test_constants() -> None:
    assert (TEXT_LIMIT, MARKDOWN_LIMIT) == (2048, 4096)


@pytest.mark.parametrize(
    "text",
    ["", "短消息", "a" * TEXT_LIMIT, "中" * (TEXT_LIMIT // 3)],
    ids=["empty", "short", "ascii-at-limit", "han-at-limit"],
)
def test_fitting_text_is_one_chunk(text: str) -> None:
    assert split_utf8(text, TEXT_LIMIT) == ([text] if text else [])


@pytest.mark.parametrize(
    "limit", [4, 5, 7, 16, 100, TEXT_LIMIT, MARKDOWN_LIMIT], ids=lambda n: f"limit{n}"
)
@pytest.mark.parametrize("seed", range(8), ids=lambda s: f"seed{s}")
def test_random_text_chunks_fit_and_concatenate_back(seed: int, limit: int) -> None:
    rng = random.Random(seed * 1000 + limit)
    text = _random_text(rng, rng.randint(limit // 2, limit * 3))
    chunks = split_utf8(text, limit)
    assert "".join(chunks) == text
    assert all(chunk for chunk in chunks)
    assert all(utf8_len(chunk) <= limit for chunk in chunks)
    if utf8_len(text) > limit:
        assert len(chunks) >= 2


def test_never_splits_a_code_point() -> None:
    text = "😀" * 10  # 4 bytes each
    chunks = split_utf8(text, 6)
    assert chunks == ["😀"] * 10


def test_prefers_newline_in_the_second_half() -> None:
    first = "甲" * 20 + "\n"  # 61 bytes
    second = "乙" * 20
    assert split_utf8(first + second, 100) == [first, second]


def test_ignores_a_newline_that_would_leave_a_tiny_chunk() -> None:
    text = "甲\n" + "乙" * 40  # the newline is at byte 4 of a 100-byte window
    chunks = split_utf8(text, 100)
    assert len(chunks[0].encode()) >= 50
    assert "".join(chunks) == text


def test_then_sentence_punctuation_with_its_closing_quote() -> None:
    text = "他说：“路灯坏了。”" + "乙" * 40
    chunks = split_utf8(text, 40)
    assert chunks[0] == "他说：“路灯坏了。”"
    assert "".join(chunks) == text


def test_then_spaces() -> None:
    text = "word " * 30
    chunks = split_utf8(text, 32)
    assert all(chunk.endswith(" ") for chunk in chunks)
    assert "".join(chunks) == text


def test_hard_break_when_there_is_no_separator() -> None:
    text = "中" * 10  # 30 bytes
    assert split_utf8(text, 10) == ["中" * 3, "中" * 3, "中" * 3, "中"]


def test_limit_too_small() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        split_utf8("abc", 3)
