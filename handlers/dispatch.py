"""Ordered routes: the first whose matcher accepts the message handles it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handlers.context import Context, Reply
from handlers.incoming import Incoming

HandlerResult = Reply | str | None
Handler = Callable[[Incoming, Context], HandlerResult]
Matcher = Callable[[Incoming], bool]


@dataclass(frozen=True)
class Route:
    name: str
    matcher: Matcher
    handler: Handler


class Dispatcher:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, name: str, matcher: Matcher, handler: Handler) -> None:
        self.routes.append(Route(name, matcher, handler))

    def route_for(self, msg: Incoming) -> Route | None:
        return next((r for r in self.routes if r.matcher(msg)), None)

    def dispatch(self, msg: Incoming, ctx: Context) -> Reply | None:
        route = self.route_for(msg)
        if route is None:
            return None
        result = route.handler(msg, ctx)
        if isinstance(result, str):
            return Reply(result)
        return result


# ---------------------------------------------------------------- matchers

COMMAND_PREFIXES = ("/", "／")


def is_command(msg: Incoming) -> bool:
    return msg.text.lstrip().startswith(COMMAND_PREFIXES)


def is_group_text(msg: Incoming) -> bool:
    return msg.chat_type == "group" and not is_command(msg)


def is_private_text(msg: Incoming) -> bool:
    return msg.chat_type == "single" and not is_command(msg)
