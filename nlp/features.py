"""Text features for the trained models: words, character n-grams, and the text's head.

A text is first *analysed* once (:func:`analyse`): normalised (NFKC, lower case, whitespace
runs to one space) and cut into words by :class:`nlp.tokenizer.Tokenizer` (its private jieba
instance, precise mode, no HMM). Several models built on the same tokenizer (the request
detector and the router) share one analysis.

A fitted :class:`Featurizer` turns analyses into a sparse matrix with three blocks of columns:

``words``
    the jieba words (stopwords, punctuation and whitespace never enter the vocabulary);
``chars``
    character n-grams (``char_ngrams``, default 1–2) of the whole normalised text, punctuation
    and emoji included — "？" and "谢谢" matter for telling requests from chatter;
``head``
    character n-grams of its first ``head_chars`` characters (default 60): the title or the
    opening clause says most about where a message goes.

Each feature kept occurs in at least ``min_df`` training texts. Values are TF-IDF with sublinear
term frequency (``1 + log tf``) and smooth IDF (``log((1 + n) / (1 + df)) + 1``, as in
scikit-learn); each block of a row is L2-normalised on its own and then multiplied by its block
weight (default words 1, chars 1, head 0.5). Transforming is pure Python dictionary look-ups
plus vectorised numpy over the whole batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import chain, repeat
from operator import add
from typing import Any

import numpy as np
import scipy.sparse as sp

from nlp.tokenizer import Tokenizer, normalize

BLOCKS = ("words", "chars", "head")
MAX_GRAM = 3  # an n-gram of code points + 1 (< 2**21 each) packs into an int64 key
_BITS = 21
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FeatureSettings:
    """How texts become features (stored in the model file's ``meta.json``)."""

    char_ngrams: tuple[int, int] = (1, 2)
    head_chars: int = 60
    block_weights: tuple[float, float, float] = (1.0, 1.0, 0.5)  # words, chars, head
    min_df: int = 2
    sublinear_tf: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.char_ngrams
        if not 1 <= lo <= hi <= MAX_GRAM:
            raise ValueError(
                f"char_ngrams must satisfy 1 <= lo <= hi <= {MAX_GRAM}, got {lo}, {hi}"
            )
        if self.head_chars < 0 or self.min_df < 1:
            raise ValueError("head_chars must be >= 0 and min_df >= 1")
        if len(self.block_weights) != 3 or any(w < 0 for w in self.block_weights):
            raise ValueError("block_weights must be three non-negative numbers")

    def to_json(self) -> dict[str, Any]:
        return {
            "char_ngrams": list(self.char_ngrams),
            "head_chars": self.head_chars,
            "block_weights": list(self.block_weights),
            "min_df": self.min_df,
            "sublinear_tf": self.sublinear_tf,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FeatureSettings:
        """Settings from ``meta.json``; ``ValueError``/``TypeError``/``KeyError`` when malformed."""
        lo, hi = raw["char_ngrams"]
        weights = tuple(float(w) for w in raw["block_weights"])
        if len(weights) != 3:
            raise ValueError("block_weights must be three numbers")
        for key, kind in (("head_chars", int), ("min_df", int), ("sublinear_tf", bool)):
            if not isinstance(raw[key], kind):
                raise TypeError(f"{key} must be {kind.__name__}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)):
            raise TypeError("char_ngrams must be two integers")
        return cls(
            char_ngrams=(lo, hi),
            head_chars=raw["head_chars"],
            block_weights=(weights[0], weights[1], weights[2]),
            min_df=raw["min_df"],
            sublinear_tf=raw["sublinear_tf"],
        )


@dataclass(frozen=True)
class Analysis:
    """One text, analysed once: its jieba pieces and its normalised, space-collapsed form."""

    pieces: tuple[str, ...]  # all pieces of the precise-mode cut, punctuation included
    text: str


def analyse(text: str, tokenizer: Tokenizer) -> Analysis:
    """Normalise ``text`` and cut it (no I/O; safe from several threads after setup)."""
    norm = _SPACE.sub(" ", normalize(text)).strip()
    return Analysis(tuple(tokenizer.cut(norm)), norm)


def _grams(text: str, n: int) -> Iterator[str]:
    """The character n-grams of ``text``, in order (built by C-level ``map``, no Python loop)."""
    if n == 1:
        return iter(text)
    return reduce(lambda acc, k: map(add, acc, text[k:]), range(2, n), map(add, text, text[1:]))


def gram_key(gram: str) -> int:
    """The integer key of a character n-gram (1 <= n <= MAX_GRAM): code points + 1, 21 bits
    each, first character highest; distinct n-grams have distinct keys."""
    if not 1 <= len(gram) <= MAX_GRAM:
        raise ValueError(f"not a 1..{MAX_GRAM}-gram: {gram!r}")
    key = 0
    for ch in gram:
        key = (key << _BITS) + ord(ch) + 1
    return key


def _is_word(piece: str) -> bool:
    return any(ch.isalnum() for ch in piece)


def _block_strings(
    a: Analysis, settings: FeatureSettings, stop: frozenset[str]
) -> tuple[Iterable[str], Iterable[str], Iterable[str]]:
    lo, hi = settings.char_ngrams
    head = a.text[: settings.head_chars]
    return (
        (p for p in a.pieces if _is_word(p) and p not in stop),
        chain.from_iterable(_grams(a.text, n) for n in range(lo, hi + 1)),
        chain.from_iterable(_grams(head, n) for n in range(lo, hi + 1)) if head else (),
    )


class Featurizer:
    """A fitted vocabulary + IDF; :meth:`transform` gives the model's input matrix.

    Read-only after construction (safe to share between threads).
    """

    def __init__(
        self, settings: FeatureSettings, vocabulary: dict[str, list[str]], idf: np.ndarray
    ) -> None:
        self.settings = settings
        self.vocabulary = {block: list(vocabulary[block]) for block in BLOCKS}
        sizes = [len(self.vocabulary[block]) for block in BLOCKS]
        self.n_features = sum(sizes)
        if idf.shape != (self.n_features,):
            raise ValueError(f"idf has shape {idf.shape}, need ({self.n_features},)")
        self.idf = np.asarray(idf, dtype=np.float32)
        offsets = np.cumsum([0, *sizes])
        self._index = [
            {feature: int(offsets[b]) + j for j, feature in enumerate(self.vocabulary[block])}
            for b, block in enumerate(BLOCKS)
        ]
        self._block_of = np.repeat(np.arange(3, dtype=np.int64), sizes)
        self._weights = np.asarray(settings.block_weights, dtype=np.float64)
        self._grams = [self._gram_table(self._index[b]) for b in (1, 2)]

    @staticmethod
    def _gram_table(index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """Sorted n-gram keys and their columns."""
        keys = np.fromiter(map(gram_key, index), np.int64, count=len(index))
        columns = np.fromiter(index.values(), np.int64, count=len(index))
        order = np.argsort(keys, kind="stable")
        return keys[order], columns[order]

    @classmethod
    def fit(
        cls,
        analyses: Sequence[Analysis],
        settings: FeatureSettings,
        stopwords: Iterable[str] = (),
    ) -> Featurizer:
        """Vocabulary (features in at least ``min_df`` texts, sorted) and IDF of ``analyses``."""
        featurizer, _, _ = CountCorpus(analyses, settings, stopwords).fit()
        return featurizer

    def transform(self, analyses: Sequence[Analysis]) -> sp.csr_matrix:
        """The ``(len(analyses), n_features)`` CSR feature matrix."""
        row, col, values = self.entries(analyses)
        return _csr(row, col, values, len(analyses), self.n_features)

    def entries(self, analyses: Sequence[Analysis]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero entries of :meth:`transform`'s matrix: ``row`` (sorted), ``col``, value.

        Words are dictionary look-ups; the character n-grams of the whole batch are computed at
        once in numpy, each packed into an integer key (:func:`gram_key`) and looked up by
        binary search.
        """
        n = len(analyses)
        get = self._index[0].get
        word_cols = [np.fromiter(map(get, a.pieces, repeat(-1)), np.int64) for a in analyses]
        rows = [np.repeat(np.arange(n, dtype=np.int64), [len(c) for c in word_cols])]
        cols = [np.concatenate(word_cols) if n else np.zeros(0, np.int64)]
        lengths = np.fromiter((len(a.text) for a in analyses), np.int64, count=n)
        total = int(lengths.sum())
        if total:
            text = "".join(a.text for a in analyses)
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
            doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
            pos = np.arange(total, dtype=np.int64) - (np.cumsum(lengths) - lengths)[doc]
            left = lengths[doc] - pos  # characters from here to the end of the text
            lo, hi = self.settings.char_ngrams
            key = np.zeros(total, dtype=np.int64)
            for k in range(1, hi + 1):
                # key[i] = the k-gram starting at i (garbage past the text's end: masked below)
                key[: total - k + 1] = (key[: total - k + 1] << _BITS) + codes[k - 1 :]
                if k < lo:
                    continue
                fits = left >= k
                for table, valid in (
                    (self._grams[0], fits),
                    (self._grams[1], fits & (pos + k <= self.settings.head_chars)),
                ):
                    keys, columns = table
                    if not len(keys):
                        continue
                    where = np.flatnonzero(valid)
                    at = np.searchsorted(keys, key[where])
                    at[at == len(keys)] = 0
                    hit = keys[at] == key[where]
                    rows.append(doc[where[hit]])
                    cols.append(columns[at[hit]])
        row = np.concatenate(rows)
        col = np.concatenate(cols)
        known = col >= 0
        row, col = row[known], col[known]
        width = max(self.n_features, 1)
        keys, counts = np.unique(row * width + col, return_counts=True)
        row = keys // width
        col = keys - row * width
        return row, col, self.weigh(row, col, counts.astype(np.float64), n)

    def weigh(self, row: np.ndarray, col: np.ndarray, tf: np.ndarray, n: int) -> np.ndarray:
        """TF-IDF, per-block L2 norm and block weights of the raw counts ``tf``."""
        values = 1.0 + np.log(tf) if self.settings.sublinear_tf else tf.copy()
        values *= self.idf[col]
        block = self._block_of[col]
        cell = row * 3 + block
        norms = np.sqrt(np.bincount(cell, weights=values * values, minlength=3 * n))
        values *= self._weights[block] / norms[cell]
        out: np.ndarray = values
        return out


def _csr(row: np.ndarray, col: np.ndarray, values: np.ndarray, n: int, width: int) -> sp.csr_matrix:
    """A CSR matrix from entries sorted by row."""
    indptr = np.searchsorted(row, np.arange(n + 1, dtype=np.int64))
    return sp.csr_matrix((values, col, indptr), shape=(n, width))


class CountCorpus:
    """Raw feature counts of a training set, to fit featurisers on subsets of it cheaply.

    Every candidate feature of every text is counted once; :meth:`fit` keeps the features of
    the chosen rows with ``df >= min_df`` and gives exactly what ``Featurizer.fit`` and
    ``transform`` on those rows would, so an inner cross-validation tokenises and counts once.
    """

    def __init__(
        self, analyses: Sequence[Analysis], settings: FeatureSettings, stopwords: Iterable[str]
    ) -> None:
        stop = frozenset(stopwords)
        self.settings = settings
        index: list[dict[str, int]] = [{}, {}, {}]
        docs: list[list[list[int]]] = []
        for a in analyses:
            ids = []
            for b, strings in enumerate(_block_strings(a, settings, stop)):
                block_index = index[b]
                if settings.block_weights[b]:
                    ids.append([block_index.setdefault(s, len(block_index)) for s in strings])
                else:
                    ids.append([])
            docs.append(ids)
        # columns: the blocks in order, features sorted within each block
        self.strings = [sorted(block_index) for block_index in index]
        sizes = [len(strings) for strings in self.strings]
        self.offsets = np.cumsum([0, *sizes])
        self.block_of = np.repeat(np.arange(3, dtype=np.int64), sizes)
        column = []
        for b, (block_index, strings) in enumerate(zip(index, self.strings, strict=True)):
            position = {s: i for i, s in enumerate(strings)}
            order = [position[s] for s in block_index]  # insertion id -> sorted position
            column.append(np.asarray(order, dtype=np.int64) + self.offsets[b])
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        for r, ids in enumerate(docs):
            for b in range(3):
                if ids[b]:
                    cols.append(column[b][np.asarray(ids[b], dtype=np.int64)])
                    rows.append(np.full(len(ids[b]), r, dtype=np.int64))
        empty = np.zeros(0, dtype=np.int64)
        col = np.concatenate(cols) if cols else empty
        row = np.concatenate(rows) if rows else empty
        counts = sp.csr_matrix(
            (np.ones(len(col)), (row, col)), shape=(len(analyses), int(self.offsets[-1]))
        )
        counts.sum_duplicates()
        self.counts = counts

    def fit(
        self, rows: np.ndarray | None = None, other: np.ndarray | None = None
    ) -> tuple[Featurizer, sp.csr_matrix, sp.csr_matrix | None]:
        """A featuriser fitted on ``rows`` (default all), their matrix, and that of ``other``."""
        chosen = np.arange(self.counts.shape[0]) if rows is None else np.asarray(rows)
        sub = self.counts[chosen]
        df = np.bincount(sub.indices, minlength=sub.shape[1])
        keep = np.flatnonzero(df >= self.settings.min_df)
        vocabulary = {
            block: [self.strings[b][j - self.offsets[b]] for j in keep[self.block_of[keep] == b]]
            for b, block in enumerate(BLOCKS)
        }
        idf = np.log((1.0 + len(chosen)) / (1.0 + df[keep])) + 1.0
        featurizer = Featurizer(self.settings, vocabulary, idf)
        held = None if other is None else self._matrix(featurizer, keep, self.counts[other])
        return featurizer, self._matrix(featurizer, keep, sub), held

    @staticmethod
    def _matrix(featurizer: Featurizer, keep: np.ndarray, sub: sp.csr_matrix) -> sp.csr_matrix:
        coo = sub[:, keep].tocoo()
        order = np.lexsort((coo.col, coo.row))
        row = coo.row[order].astype(np.int64)
        col = coo.col[order].astype(np.int64)
        values = featurizer.weigh(row, col, coo.data[order].astype(np.float64), sub.shape[0])
        return _csr(row, col, values, sub.shape[0], featurizer.n_features)
