"""Message handlers. ``register_all`` wires them into a dispatcher, in order."""

from __future__ import annotations

from handlers.commands import ACCEPT, DISPATCH, RESOLVE, STATUS, CommandTable
from handlers.dispatch import Dispatcher, is_command, is_group_text, is_private_text
from handlers.intake import FILE, NOT_REQUEST, REQUEST, group_text, private_text
from handlers.steps import (
    APPROVE,
    EXTEND,
    MERGE,
    PROGRESS,
    RATE,
    REDISPATCH,
    REJECT,
    REOPEN,
    RETURN,
    STATS,
    SUPERVISE,
    TODO,
    WITHDRAW,
    DailyReport,
    daily_command,
)


def register_all(dispatcher: Dispatcher, *, daily_report: DailyReport) -> Dispatcher:
    """Commands first, then free text to intake. First match wins. ``daily_report`` makes the
    supervisors' /日报 (the app passes the scheduler's digest)."""
    commands = CommandTable(
        (
            STATUS,
            TODO,
            REQUEST,
            DISPATCH,
            FILE,
            ACCEPT,
            PROGRESS,
            RETURN,
            REDISPATCH,
            EXTEND,
            APPROVE,
            REJECT,
            RESOLVE,
            RATE,
            REOPEN,
            WITHDRAW,
            MERGE,
            NOT_REQUEST,
            SUPERVISE,
            STATS,
            daily_command(daily_report),
        )
    )
    dispatcher.add("command", is_command, commands)
    dispatcher.add("group_text", is_group_text, group_text)
    dispatcher.add("private_text", is_private_text, private_text)
    return dispatcher
