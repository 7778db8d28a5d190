"""gridbot's model file: a versioned zip of JSON and ``.npy`` arrays that runs no code when loaded.

A trained text model (:class:`nlp.linear.LinearTextModel`) is saved as one file, by convention
``*.gbm``. No pickle and no joblib anywhere: loading a model file only parses JSON and reads
plain numeric arrays with ``allow_pickle=False``, so a file from an untrusted place can at worst
be refused (:class:`ModelFileError`), never run code.

Format ``gridbot-model``, version 1
-----------------------------------

A zip archive (stored or deflated) with exactly these members (plus ``kernel_support.npy`` and
``kernel_dual.npy`` when ``meta.json`` has a ``kernel``, see below):

``meta.json``
    UTF-8 JSON object:

    - ``format``: ``"gridbot-model"``; ``version``: ``1`` (an integer). A reader refuses any
      other format name or version.
    - ``kind``: ``"router"`` (category routing) or ``"detector"`` (request vs chatter).
    - ``created``: ISO-8601 UTC time of training, e.g. ``"2026-11-22T09:30:00Z"``.
    - ``labels``: the K >= 2 class labels (strings, distinct), in the order of the columns of
      ``coef.npy``. For a detector they are ``"chatter"`` and ``"request"``.
    - ``features``: the featuriser settings (see :class:`nlp.features.FeatureSettings`):
      ``char_ngrams`` ``[lo, hi]``, ``head_chars``, ``block_weights`` ``[words, chars, head]``,
      ``min_df``, ``sublinear_tf``, plus ``vocabulary_sizes`` ``{"words", "chars", "head"}``.
    - ``calibration``: ``temperature`` (float > 0) and ``bias`` (K floats): probabilities are
      ``softmax(temperature * scores + bias)``.
    - ``training``: a summary of the training data: ``examples``, ``per_label`` counts,
      ``extra_examples``, ``seed``, ``source`` (free text), ``fit_seconds``, ``class_bias``
      (whether ``calibration.bias`` was fitted per class; informative only, readers need not
      look at it).
    - ``label_to_department`` (optional): label -> department code.
    - ``blend`` (optional, detectors): ``{"detector": a, "keywords": b, "bias": c}`` plus,
      optionally, a weight ``w_s`` for each of the keyword classifier's cues named in
      ``BLEND_SIGNALS`` (``"peer"``, ``"answer"``, ``"over"`` since 2026-11-30; ``"past"``,
      ``"resolved"``, ``"reply"``, ``"internal"``, ``"joke"``, ``"again"``, ``"complaint"``,
      ``"peer_gov"``, ``"flat"`` since 2026-12-01; :mod:`nlp.keywords`); no other keys (a
      reader older than a cue refuses a file that weighs it). gridbot's request score is
      ``sigmoid(a * logit(p) + b * logit(k) + sum(w_s * s) + c)`` for the detector's
      probability ``p`` of ``"request"``, the keyword classifier's score ``k`` and each cue
      ``s`` (1 when present in the text, else 0; a missing weight is 0) (:mod:`nlp.trained`).
      Since 2026-12-01 (session 6) a blend may also have a weight ``"encoder"`` for the margin
      of the ``kernel`` (below), added to the sum; only a file with a ``kernel`` may have it,
      and a reader older than that refuses such a blend.

    - ``trees`` (optional, detectors; since 2026-12-01): the tree stacker that turns the
      detector's probability, the keyword score and the keyword classifier's signals into the
      request score, replacing ``blend`` (:mod:`nlp.trees` documents the object: ``inputs``,
      the input names of ``nlp.trained.STACK_INPUTS``; ``feature``, ``threshold``, ``left``,
      ``right``, ``value``, ``roots``, lists of numbers; children after parents). Readers from
      before that date ignore it and score with ``blend``.
    - ``kernel`` (optional, detectors; since 2026-12-01, session 5): an RBF support-vector
      machine over a pretrained encoder's vectors of the text (:mod:`nlp.kernel`,
      :mod:`nlp.encoder`): ``encoder`` (the encoder's name; a reader with another encoder
      refuses the file), ``gamma`` (> 0), ``intercept``, ``support`` (S, the number of support
      vectors); its arrays are the members ``kernel_support.npy`` (int8, ``(S, 384)``: the
      support vectors as the encoder's int8 codes, vector = code / 127) and
      ``kernel_dual.npy`` (float, ``(S,)``). Its margin, clipped to +-13.8, is the ``trees``
      input ``"encoder"`` or (since session 6) the ``blend`` term ``"encoder"``. Readers from
      before session 5 ignore the key and the members, and refuse such trees (an unknown input)
      or blend (an unknown key).
    - ``threshold`` (optional, detectors; since 2026-12-01): the operating point the model was
      trained for, a number in (0, 1): a text is a request when its request score is at least
      this. Readers from before that date ignore it (and use their built-in threshold).

``vocabulary.json``
    UTF-8 JSON object ``{"words": [...], "chars": [...], "head": [...]}``: the feature strings
    of each block. Feature column ``j`` of the model is, in order, the words, then the
    character n-grams of the whole text, then those of its first ``head_chars`` characters.
    F = the sum of the three lengths.

``idf.npy``
    float32 or float64, shape ``(F,)``: the inverse document frequency of each feature.

``coef.npy``
    float32 or float64, shape ``(F, K)``: the linear weights. ``scores = x @ coef + intercept``
    for the feature vector ``x`` of a text (see :mod:`nlp.features`).

``intercept.npy``
    float32 or float64, shape ``(K,)``.

The ``.npy`` members are NumPy's own format (version 1.0–3.0), little-endian; arrays of any other
dtype (object arrays in particular, which would need pickle) are refused, as are non-finite
values. Readers ignore unknown keys in ``meta.json``; a change that old readers cannot ignore
gets a new ``version``.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlp.kernel import KernelScorer
from nlp.trees import TreeEnsemble

FORMAT = "gridbot-model"
VERSION = 1
KINDS = ("router", "detector")
BLOCKS = ("words", "chars", "head")
ARRAYS = ("idf", "coef", "intercept")
BLEND_KEYS = ("detector", "keywords", "bias")  # required in a blend
BLEND_ENCODER = "encoder"  # optional in a blend, only with a kernel: the weight of its margin
# optional in a blend: weights of keyword cues (nlp.keywords._Signals)
BLEND_SIGNALS = (
    "peer",
    "answer",
    "over",
    "past",
    "resolved",
    "reply",
    "internal",
    "joke",
    "again",
    "complaint",
    "peer_gov",
    "flat",
)
MEMBERS = ("meta.json", "vocabulary.json", *(f"{name}.npy" for name in ARRAYS))
KERNEL_ARRAYS = ("kernel_support", "kernel_dual")  # members present when meta has "kernel"
MAX_MEMBER_BYTES = 512 * 1024 * 1024  # a zip bomb is refused before it is inflated
_FLOAT_KINDS = ("f",)


class ModelFileError(Exception):
    """A model file that cannot be used; ``str()`` is one line saying why."""


@dataclass
class ModelData:
    """The contents of a model file, checked for consistency (see the module docstring)."""

    meta: dict[str, Any]
    vocabulary: dict[str, list[str]]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])


def _fail(path: object, why: str) -> ModelFileError:
    return ModelFileError(f"{path}: {why}".replace("\n", " "))


def validate(data: ModelData, where: object = "model") -> None:
    """Raise :class:`ModelFileError` unless ``data`` is a consistent version-1 model."""
    meta = data.meta
    if not isinstance(meta, dict):
        raise _fail(where, "meta.json is not a JSON object")
    if meta.get("format") != FORMAT:
        raise _fail(where, f"not a gridbot model file (format {meta.get('format')!r})")
    version = meta.get("version")
    if version != VERSION or isinstance(version, bool):
        raise _fail(where, f"model file version {version!r} is not supported (need {VERSION})")
    if meta.get("kind") not in KINDS:
        raise _fail(where, f"unknown model kind {meta.get('kind')!r}")
    labels = meta.get("labels")
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(x, str) and x for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise _fail(where, "labels must be at least two distinct non-empty strings")
    features = meta.get("features")
    if not isinstance(features, dict):
        raise _fail(where, "meta.json has no features object")
    calibration = meta.get("calibration")
    if not isinstance(calibration, dict):
        raise _fail(where, "meta.json has no calibration object")
    temperature = calibration.get("temperature")
    bias = calibration.get("bias")
    if not _is_number(temperature) or not temperature > 0:  # type: ignore[operator]
        raise _fail(where, "calibration temperature must be a positive number")
    if (
        not isinstance(bias, list)
        or len(bias) != len(labels)
        or not all(_is_number(b) for b in bias)
    ):
        raise _fail(where, f"calibration bias must be {len(labels)} numbers")
    departments = meta.get("label_to_department")
    if departments is not None and (
        not isinstance(departments, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in departments.items())
    ):
        raise _fail(where, "label_to_department must map strings to strings")
    blend = meta.get("blend")
    if blend is not None and (
        not isinstance(blend, dict)
        or not set(BLEND_KEYS) <= set(blend) <= {*BLEND_KEYS, *BLEND_SIGNALS, BLEND_ENCODER}
        or not all(_is_number(v) for v in blend.values())
    ):
        raise _fail(
            where,
            f"blend must map {', '.join(BLEND_KEYS)} (and optionally "
            f"{', '.join(BLEND_SIGNALS)}, {BLEND_ENCODER}) to numbers",
        )
    if blend is not None and BLEND_ENCODER in blend and "kernel" not in meta:
        raise _fail(where, "the blend weighs the kernel's margin but there is no kernel")
    threshold = meta.get("threshold")
    if threshold is not None and (not _is_number(threshold) or not 0 < threshold < 1):
        raise _fail(where, "threshold must be a number between 0 and 1")
    if "kernel" in meta:
        if meta.get("kind") != "detector":
            raise _fail(where, "only a detector has a kernel")
        missing = [name for name in KERNEL_ARRAYS if name not in data.arrays]
        if missing:
            raise _fail(where, f"the kernel lacks {', '.join(missing)}")
        try:
            KernelScorer.from_parts(
                meta["kernel"], data.arrays["kernel_support"], data.arrays["kernel_dual"]
            )
        except ValueError as exc:
            raise _fail(where, str(exc)) from None
    if "trees" in meta:
        if meta.get("kind") != "detector":
            raise _fail(where, "only a detector has trees")
        try:
            TreeEnsemble.from_json(meta["trees"])
        except ValueError as exc:
            raise _fail(where, str(exc)) from None
    vocab = data.vocabulary
    if not isinstance(vocab, dict) or set(vocab) != set(BLOCKS):
        raise _fail(where, f"vocabulary.json must have exactly the blocks {', '.join(BLOCKS)}")
    for block in BLOCKS:
        words = vocab[block]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise _fail(where, f"vocabulary block {block!r} must be a list of strings")
        if len(set(words)) != len(words):
            raise _fail(where, f"vocabulary block {block!r} has duplicates")
    n_features = sum(len(vocab[b]) for b in BLOCKS)
    n_labels = len(labels)
    expected = {"idf": (n_features,), "coef": (n_features, n_labels), "intercept": (n_labels,)}
    for name, shape in expected.items():
        array = data.arrays.get(name)
        if array is None:
            raise _fail(where, f"array {name} is missing")
        if array.dtype.kind not in _FLOAT_KINDS or array.dtype.itemsize not in (4, 8):
            raise _fail(where, f"array {name} has dtype {array.dtype}, need float32 or float64")
        if array.shape != shape:
            raise _fail(where, f"array {name} has shape {array.shape}, need {shape}")
        if not np.all(np.isfinite(array)):
            raise _fail(where, f"array {name} holds non-finite values")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def write(path: str | Path, data: ModelData) -> None:
    """Write ``data`` to ``path`` (validated first; written to a temporary name, then renamed)."""
    validate(data, path)
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", json.dumps(data.meta, ensure_ascii=False, indent=2))
        zf.writestr("vocabulary.json", json.dumps(data.vocabulary, ensure_ascii=False))
        for name in ARRAYS + tuple(n for n in KERNEL_ARRAYS if n in data.arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(data.arrays[name]))
            zf.writestr(f"{name}.npy", buf.getvalue())
    tmp.replace(target)


def read(path: str | Path) -> ModelData:
    """Read and validate a model file; any problem is a one-line :class:`ModelFileError`."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = _read_members(zf, path)
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise _fail(path, "no such model file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        why = f"not a readable model file (damaged or not a zip archive: {exc})"
        raise _fail(path, why) from None
    meta = _json(members["meta.json"], "meta.json", path)
    vocabulary = _json(members["vocabulary.json"], "vocabulary.json", path)
    # format and version are checked before the arrays are even parsed
    if isinstance(meta, dict) and (meta.get("format") != FORMAT or meta.get("version") != VERSION):
        validate(ModelData(meta, {}), path)
    arrays = {name: _array(members[f"{name}.npy"], name, path) for name in ARRAYS}
    if isinstance(meta, dict) and "kernel" in meta:
        for name in KERNEL_ARRAYS:
            if f"{name}.npy" in members:
                arrays[name] = _array(members[f"{name}.npy"], name, path)
    data = ModelData(meta, vocabulary, arrays)
    validate(data, path)
    return data


def _read_members(zf: zipfile.ZipFile, path: object) -> dict[str, bytes]:
    names = set(zf.namelist())
    if "meta.json" not in names:
        raise _fail(path, "not a gridbot model file (no meta.json)")
    missing = [m for m in MEMBERS if m not in names]
    if missing:
        raise _fail(path, f"model file lacks {', '.join(missing)}")
    out = {}
    optional = [f"{name}.npy" for name in KERNEL_ARRAYS if f"{name}.npy" in names]
    for member in (*MEMBERS, *optional):
        if zf.getinfo(member).file_size > MAX_MEMBER_BYTES:
            raise _fail(path, f"{member} is larger than {MAX_MEMBER_BYTES} bytes")
        out[member] = zf.read(member)
    return out


def _json(raw: bytes, member: str, path: object) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"{member} is not valid UTF-8 JSON ({exc})") from None


def _array(raw: bytes, name: str, path: object) -> np.ndarray:
    try:
        array = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, EOFError, OSError, TypeError) as exc:
        raise _fail(path, f"{name}.npy is not a plain numeric array ({exc})") from None
    if not isinstance(array, np.ndarray):  # pragma: no cover - read_array returns arrays
        raise _fail(path, f"{name}.npy is not an array")
    return array


def summary(meta: Mapping[str, Any]) -> str:
    """One line describing a model (kind, labels, training size, creation time)."""
    training = meta.get("training", {})
    return (
        f"{meta.get('kind')} model, {len(meta.get('labels', []))} labels, "
        f"{training.get('examples', '?')} training examples, created {meta.get('created', '?')}"
    )
