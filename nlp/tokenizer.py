"""Chinese word segmentation: one private jieba instance, built once, with domain vocabulary.

``Tokenizer()`` loads jieba's dictionary (about a second the first time, then from jieba's cache
file), adds the shipped enterprise-service vocabulary (``nlp/data/domain_words.txt``) and any
extra names (departments, enterprises, places). After that, segmentation does no I/O. Build one
per process and share it; ``cut``/``tokens`` are safe to call from several threads once
construction (including ``add_words`` by the classifier) is done.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable
from importlib import resources

import jieba

DATA_PACKAGE = "nlp"


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation to ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def load_word_list(name: str) -> list[str]:
    """The words of ``nlp/data/<name>``: one a line, blank lines and ``#`` comments skipped."""
    text = (resources.files(DATA_PACKAGE) / "data" / name).read_text(encoding="utf-8")
    words = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.append(normalize(line.split()[0]))
    return words


def _is_word(token: str) -> bool:
    """True for tokens with at least one letter, digit or CJK character."""
    return any(ch.isalnum() for ch in token)


class Tokenizer:
    """jieba precise-mode segmentation with gridbot's vocabulary and stopwords."""

    def __init__(self, extra_words: Iterable[str] = (), *, hmm: bool = False) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._hmm = hmm
        self._added: set[str] = set()
        self.stopwords: frozenset[str] = frozenset(load_word_list("stopwords.txt"))
        self.add_words(load_word_list("domain_words.txt"))
        self.add_words(extra_words)

    @property
    def jieba(self) -> jieba.Tokenizer:
        """The private jieba instance (never jieba's global default one)."""
        return self._jieba

    @property
    def hmm(self) -> bool:
        return self._hmm

    @property
    def added_words(self) -> frozenset[str]:
        """Every word taught to jieba on top of its dictionary (normalized)."""
        return frozenset(self._added)

    def add_words(self, words: Iterable[str]) -> None:
        """Teach jieba more words (setup time only: not while other threads segment)."""
        for word in words:
            word = normalize(word).strip()
            if len(word) >= 2 and word not in self._added and not any(c.isspace() for c in word):
                self._jieba.add_word(word)
                self._added.add(word)

    def cut(self, normalized: str) -> list[str]:
        """Precise-mode pieces of already-normalized text; they concatenate back to it."""
        return list(self._jieba.cut(normalized, HMM=self._hmm))

    def tokens(self, text: str) -> list[str]:
        """Words of ``text``: normalized, without stopwords, punctuation, emoji or whitespace."""
        return [t for t in self.cut(normalize(text)) if _is_word(t) and t not in self.stopwords]
