"""What a handler gets besides the message, and what it may return or raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.clock import Clock
    from bot.config import Settings
    from bot.workcal import WorkCalendar
    from handlers.notify import Notifier
    from nlp.decision import Classifier
    from nlp.duplicates import DuplicateFinder


class UserError(Exception):
    """An expected, user-facing refusal: its text is sent back as a friendly reply."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Reply:
    """A handler's answer to the sender.

    ``direct`` answers go back the way the message came (the AI bot's response_url in a group,
    the app's 1:1 chat for private messages); otherwise a group reply goes through the group's
    webhook so that ``mention`` can @-mention people.
    """

    text: str
    mention: tuple[str, ...] = ()
    markdown: bool = False
    direct: bool = True


@dataclass
class Context:
    session: Session
    settings: Settings
    clock: Clock
    calendar: WorkCalendar
    classifier: Classifier
    duplicates: DuplicateFinder
    notify: Notifier
    message_id: int | None = None
