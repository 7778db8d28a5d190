"""The classifier's interface: what it is given (rules) and what it answers (a decision).

The model behind :class:`Classifier` will change (keywords today, a trained model later); the
types in this module are the stable contract with the rest of gridbot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CategoryRule:
    """One configured category, as the classifier sees it."""

    code: str
    name: str
    department: str  # department code
    keywords: tuple[str, ...]
    catch_all: bool = False  # the default owner for requests that match no category (兜底)


@dataclass(frozen=True)
class Suggestion:
    """A candidate category for a message, with its score in 0..1."""

    category: str  # category code
    department: str  # department code
    score: float


@dataclass(frozen=True)
class Decision:
    """What the classifier decided about one message."""

    is_request: bool  # a real request (诉求) rather than chatter
    request_score: float  # 0..1; is_request is request_score >= the classifier's threshold
    category: str | None  # category code; None when not a request
    department: str | None  # department code; None when not a request
    confidence: float  # 0..1 for the category; 0.0 when not a request
    top3: tuple[Suggestion, ...]  # at most three candidates, best first


class Classifier(Protocol):
    """Decides whether a message is a request and, if so, where it goes."""

    def classify(self, text: str) -> Decision: ...
