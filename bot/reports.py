"""The supervisors' reports: daily (日报), weekly (周报), 旬报 and monthly (月报).

Periods (:func:`period_of`): a day; a week Monday to Sunday; a 旬 the 1st-10th (上旬),
11th-20th (中旬) or 21st to the month's end (下旬); a calendar month. A period's trend is
against the period just before it (:meth:`Period.previous`). Times are in the report's time
zone (``now.tzinfo``); a period runs from its first day 00:00 to the day after its last.

Definitions (the footer of every report says them in short):

受理
    orders created in the period, except those withdrawn by the requester (已撤回), merged
    into another order about the same problem (已合并) or cancelled by a dispatcher as not a
    request (已撤销, ``/非诉求``) by the period's end: none is work a department owes, and
    counting them would lower its 办结率.
办结
    orders closed in the period: a ``resolve`` event falls in it. An order re-opened after
    办结 counts as 办结 in the period it was closed and as 重办 in the period of the reopen; an
    order closed twice in one period counts once.
办结率
    of the orders 受理 in the period, the share that is 已办结 or 已评价 at the period's end
    (at ``now`` for a period still running); read from the order events, so a later 重办 does
    not change a past period. Cumulative: 已办结 + 已评价 now / all orders not withdrawn,
    merged or cancelled.
及时签收率 (the ranking's 响应率)
    of the 签收 made in the period (an ``accept`` event, or a 办结 straight from 已派单, which
    signs implicitly), the share made by the 签收 deadline then in force. Cumulative: orders
    signed for now with ``accepted_at <= accept_deadline``. Orders still unsigned past their
    签收 deadline are counted separately (超时未签收), not in the rate.
按期办结率
    of the orders 办结 in the period, the share closed by the 办结 deadline then in force
    (extensions included). Cumulative: ``resolved_at <= deadline`` over closed orders.
满意率
    (满意 + 基本满意) / rated, over the ratings given in the period (cumulative: the orders'
    present ratings). An unrated closed order counts as 未评价, never as satisfied, and is not
    in the rate.
退单 / 重办
    ``return`` / ``reopen`` events in the period (cumulative: the orders' counters).
解决率 (ranking)
    the 办结率 above.

"The deadline then in force" is the order's stored deadline for the events after its latest
派单/转派/重办; for events before that (an earlier dispatch, since replaced) it is recomputed
with ``handlers.deadlines`` from that dispatch's time and the order's category, plus the
extensions approved in between. Orders without any event (imported data) are read from their
fields instead. Each step counts for the department that held the order at the time (a 退单
for the department that returned it); 受理 counts for the present department.

Ranking: score = Σ weight × rate over 响应 (及时签收率), 解决 (办结率) and 满意 (满意率),
weights from ``[reports] weights`` (default 30 / 35 / 35), divided by the sum of the weights of
the rates a department has (a department with no rated order is ranked on the other two). The
daily report ranks on cumulative figures, the others on the period's.

Orders five working days past their 办结 deadline (``bot.reminders`` records ``overdue_5`` at
the same moment) are named in every report. A report is a list of markdown messages, each at
most WeCom's 4096 bytes, broken between sections and, inside a long table or list, between rows
with the table header repeated (:func:`pack`).

Loading: the cumulative figures are one SQL aggregate per department; a period's figures load
the period's orders and the relevant events of the orders touched in it (two queries), the
overdue and difficult orders one query each -- no query per order.
"""

from __future__ import annotations

import calendar as pycal
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from bot.config import ReportWeights, Settings
from bot.outbound.split import MARKDOWN_LIMIT, split_utf8, utf8_len
from bot.workcal import WorkCalendar
from handlers import lifecycle as lc
from handlers.deadlines import accept_deadline, build_calendar, resolve_deadline
from handlers.notify import escape_markdown, quote
from storage import repositories as repo
from storage.models import OrderEvent, WorkOrder

DAY, WEEK, XUN, MONTH = "day", "week", "xun", "month"
KINDS = (DAY, WEEK, XUN, MONTH)
TITLES = {DAY: "日报", WEEK: "周报", XUN: "旬报", MONTH: "月报"}
CLOSED = (lc.RESOLVED, lc.RATED)
VOID = (lc.WITHDRAWN, lc.MERGED, lc.DISMISSED)  # not 受理 (see the module docstring)
SATISFIED = ("满意", "基本满意")
RATINGS = ("基本满意", "不满意", "满意")  # longest first: a note starts with one of them
DISPATCHES = frozenset({"dispatch", "redispatch", "reopen"})
# the events the period figures read (the state-changing steps and the extension decisions)
EVENT_ACTIONS = (
    "intake",
    "dispatch",
    "redispatch",
    "reopen",
    "accept",
    "resolve",
    "rate",
    "return",
    "approve_extension",
    "withdraw",
    "merge",
    "dismiss",
)
OVERDUE_DAYS_NAMED = 5  # working days past the deadline: named (bot/reminders.py overdue_5)
OVERDUE_LIST_LIMIT = 30
NAMED_LIMIT = 200
DIFFICULTY_LIMIT = 10  # per department
NO_DEPARTMENT = "（未派单）"
_EXTENSION_DAYS = re.compile(r"延期\s*(\d+)\s*个工作日")
# a dispatch event's note starts "category → department" (handlers.workflow.dispatch)
_DISPATCHED_TO = re.compile(r"→ ([A-Za-z0-9_.-]+)")


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    kind: str
    first: date  # inclusive
    last: date  # inclusive

    def bounds(self, tz: tzinfo | None) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time(0), tzinfo=tz)
        return start, datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=tz)

    def previous(self) -> Period:
        return period_of(self.kind, self.first - timedelta(days=1))

    @property
    def label(self) -> str:
        if self.kind == DAY:
            return self.first.isoformat()
        if self.kind == WEEK:
            return f"{self.first.isoformat()}至{self.last.isoformat()}"
        if self.kind == XUN:
            part = ("上旬", "中旬", "下旬")[min(self.first.day // 10, 2)]
            return (
                f"{self.first.year}年{self.first.month}月{part}"
                f"（{self.first:%m-%d}至{self.last:%m-%d}）"
            )
        return f"{self.first.year}年{self.first.month}月"

    @property
    def title(self) -> str:
        return f"企业诉求{TITLES[self.kind]} {self.label}"


def period_of(kind: str, day: date) -> Period:
    """The period of ``kind`` that contains ``day``."""
    if kind == DAY:
        return Period(kind, day, day)
    if kind == WEEK:
        first = day - timedelta(days=day.weekday())
        return Period(kind, first, first + timedelta(days=6))
    month_end = date(day.year, day.month, pycal.monthrange(day.year, day.month)[1])
    if kind == XUN:
        if day.day <= 10:
            return Period(kind, day.replace(day=1), day.replace(day=10))
        if day.day <= 20:
            return Period(kind, day.replace(day=11), day.replace(day=20))
        return Period(kind, day.replace(day=21), month_end)
    if kind == MONTH:
        return Period(kind, day.replace(day=1), month_end)
    raise ValueError(f"unknown report period {kind!r} (one of {', '.join(KINDS)})")


def last_complete(kind: str, today: date) -> Period:
    """The latest period of ``kind`` that ended before ``today``."""
    return period_of(kind, period_of(kind, today).first - timedelta(days=1))


def starts_on(kind: str, day: date) -> bool:
    """Whether ``day`` is the first day of a period (Monday; the 1st, 11th, 21st; the 1st)."""
    return period_of(kind, day).first == day


# ---------------------------------------------------------------- figures


@dataclass
class Figures:
    received: int = 0  # 受理
    resolved: int = 0  # 办结
    received_closed: int = 0  # of the 受理: closed at the cut (办结率)
    signed: int = 0  # 签收
    signed_timed: int = 0  # 签收 with a known deadline
    signed_on_time: int = 0
    resolved_timed: int = 0  # 办结 with a known deadline
    resolved_on_time: int = 0
    ratings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))
    unrated: int = 0  # 未评价: closed, not rated
    returns: int = 0
    reopens: int = 0
    open_now: int = 0  # cumulative only
    overdue_now: int = 0
    accept_late_now: int = 0  # 超时未签收

    def add(self, other: Figures) -> None:
        for name in (
            "received",
            "resolved",
            "received_closed",
            "signed",
            "signed_timed",
            "signed_on_time",
            "resolved_timed",
            "resolved_on_time",
            "unrated",
            "returns",
            "reopens",
            "open_now",
            "overdue_now",
            "accept_late_now",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for r in RATINGS:
            self.ratings[r] += other.ratings[r]

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def resolution_rate(self) -> float | None:
        return _share(self.received_closed, self.received)

    @property
    def timely_accept_rate(self) -> float | None:
        return _share(self.signed_on_time, self.signed_timed)

    @property
    def on_time_rate(self) -> float | None:
        return _share(self.resolved_on_time, self.resolved_timed)

    @property
    def satisfaction_rate(self) -> float | None:
        return _share(sum(self.ratings[r] for r in SATISFIED), self.rated)

    @property
    def active(self) -> bool:
        return bool(
            self.received
            or self.resolved
            or self.signed
            or self.rated
            or self.open_now
            or self.returns
            or self.reopens
        )

    def score(self, w: ReportWeights) -> float | None:
        """The ranking score (0-100), or None when the department has none of the rates."""
        parts = [
            (w.response, self.timely_accept_rate),
            (w.resolution, self.resolution_rate),
            (w.satisfaction, self.satisfaction_rate),
        ]
        weight = sum(wt for wt, r in parts if r is not None)
        if not weight:
            return None
        return 100 * sum(wt * r for wt, r in parts if r is not None) / weight


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


Breakdown = dict[str | None, Figures]  # department code (None: not dispatched) → figures


def total(figures: Mapping[str | None, Figures]) -> Figures:
    out = Figures()
    for f in figures.values():
        out.add(f)
    return out


def cumulative_figures(session: Session, now: datetime) -> Breakdown:
    """Every order's present state, per department (one aggregate query)."""

    def count_if(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    o = WorkOrder
    closed = o.status.in_(CLOSED)
    is_open = o.status.in_(lc.OPEN_STATUSES)
    signed = o.accepted_at.is_not(None)
    timed = signed & o.accept_deadline.is_not(None)
    stmt = (
        select(
            o.department_code,
            count_if(o.status.not_in(VOID)),
            count_if(closed),
            count_if(signed),
            count_if(timed),
            count_if(timed & (o.accepted_at <= o.accept_deadline)),
            count_if(closed & o.resolved_at.is_not(None)),
            count_if(closed & (o.resolved_at <= o.deadline)),
            count_if(o.rating == "满意"),
            count_if(o.rating == "基本满意"),
            count_if(o.rating == "不满意"),
            count_if((o.status == lc.RESOLVED) & o.rating.is_(None)),
            func.coalesce(func.sum(o.returns), 0),
            func.coalesce(func.sum(o.reopens), 0),
            count_if(is_open),
            count_if(is_open & (o.deadline < now)),
            count_if((o.status == lc.DISPATCHED) & (o.accept_deadline < now)),
        )
        .where(o.created_at <= now)
        .group_by(o.department_code)
    )
    out: Breakdown = {}
    for row in session.execute(stmt):
        v = [int(x or 0) for x in row[1:]]
        out[row[0]] = Figures(
            received=v[0],
            resolved=v[1],
            received_closed=v[1],
            signed=v[2],
            signed_timed=v[3],
            signed_on_time=v[4],
            resolved_timed=v[5],
            resolved_on_time=v[6],
            ratings={"满意": v[7], "基本满意": v[8], "不满意": v[9]},
            unrated=v[10],
            returns=v[11],
            reopens=v[12],
            open_now=v[13],
            overdue_now=v[14],
            accept_late_now=v[15],
        )
    return out


@dataclass(frozen=True)
class _Ev:
    seq: int
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None
    note: str


def _synthetic_events(row: Any) -> list[_Ev]:
    """An order without events (imported or legacy data), told by its fields."""
    out = [_Ev(0, row.created_at, "intake", None, lc.DISPATCHED, "")]
    if row.accepted_at is not None:
        out.append(_Ev(1, row.accepted_at, "accept", lc.DISPATCHED, lc.ACCEPTED, ""))
    if row.resolved_at is not None:
        src = lc.ACCEPTED if row.accepted_at is not None else lc.DISPATCHED
        out.append(_Ev(2, row.resolved_at, "resolve", src, lc.RESOLVED, ""))
    if row.rated_at is not None and row.rating:
        out.append(_Ev(3, row.rated_at, "rate", lc.RESOLVED, lc.RATED, row.rating))
    return sorted(out, key=lambda e: (e.at, e.seq))


def _rating(note: str) -> str | None:
    return next((r for r in RATINGS if note.startswith(r)), None)


def period_figures(
    session: Session,
    settings: Settings,
    cal: WorkCalendar,
    start: datetime,
    end: datetime,
    now: datetime,
) -> Breakdown:
    """The figures of ``[start, end)`` as of ``min(end, now)``, per department (see module doc)."""
    cut = min(end, now)
    o, e = WorkOrder, OrderEvent
    touched = select(e.order_id).where(e.at >= start, e.at < cut, e.action.in_(EVENT_ACTIONS))
    in_period = [(col >= start) & (col < cut) for col in (o.created_at, o.accepted_at)]
    in_period += [(col >= start) & (col < cut) for col in (o.resolved_at, o.rated_at)]
    wanted = or_(o.id.in_(touched), *in_period)
    rows = session.execute(
        select(
            o.id,
            o.department_code,
            o.category_code,
            o.created_at,
            o.accept_deadline,
            o.deadline,
            o.accepted_at,
            o.resolved_at,
            o.rated_at,
            o.rating,
        ).where(wanted)
    ).all()
    events: dict[int, list[_Ev]] = defaultdict(list)
    for ev in session.execute(
        select(e.order_id, e.seq, e.at, e.action, e.from_status, e.to_status, e.note)
        .where(e.order_id.in_(select(o.id).where(wanted)), e.action.in_(EVENT_ACTIONS))
        .order_by(e.order_id, e.seq)
    ):
        events[ev.order_id].append(
            _Ev(ev.seq, ev.at, ev.action, ev.from_status, ev.to_status, ev.note)
        )
    out: Breakdown = defaultdict(Figures)
    for row in rows:
        evs = events.get(row.id) or _synthetic_events(row)
        _count_order(out, row, evs, settings, cal, start, cut)
    return dict(out)


def _count_order(
    out: Breakdown,
    row: Any,
    evs: Sequence[_Ev],
    settings: Settings,
    cal: WorkCalendar,
    start: datetime,
    cut: datetime,
) -> None:
    last_dispatch = max((ev.seq for ev in evs if ev.action in DISPATCHES), default=None)
    # deadlines in force: the stored ones, unless an earlier dispatch was replaced since
    acc_due: datetime | None = row.accept_deadline if last_dispatch is None else None
    res_due: datetime | None = row.deadline if last_dispatch is None else None
    state: str | None = None
    closed_here: dict[str, bool] = {}  # "on_time" of the order's last 办结 in the period
    rated: str | None = None
    # each step counts for the department that held the order then (a 退单 for the one that
    # returned it, not for the one it was re-dispatched to); receipt for the present one
    holder: str | None = row.department_code
    if any(ev.action in DISPATCHES for ev in evs):
        holder = None
    closer: str | None = holder
    for ev in evs:
        if ev.at >= cut:
            break
        inside = ev.at >= start
        if ev.action in DISPATCHES:
            to = _DISPATCHED_TO.search(ev.note)
            holder = to.group(1) if to else row.department_code
        f = out[holder]
        if ev.action in DISPATCHES:
            if ev.seq == last_dispatch:
                acc_due, res_due = row.accept_deadline, row.deadline
            else:
                acc_due = accept_deadline(settings, cal, row.category_code, ev.at)
                res_due = resolve_deadline(settings, cal, row.category_code, ev.at)
        elif ev.action == "approve_extension" and last_dispatch is not None:
            found = _EXTENSION_DAYS.search(ev.note)
            if found and res_due is not None and ev.seq < last_dispatch:
                res_due = cal.add_working_days(res_due.astimezone(cal.tz), int(found.group(1)))
        signs = ev.action == "accept" or (
            ev.action == "resolve" and ev.from_status == lc.DISPATCHED
        )
        if inside and signs:
            f.signed += 1
            if acc_due is not None:
                f.signed_timed += 1
                f.signed_on_time += ev.at <= acc_due
        if inside and ev.action == "resolve":
            closed_here["on_time"] = res_due is not None and ev.at <= res_due
            closed_here["timed"] = res_due is not None
            closer = holder
        if inside and ev.action == "rate":
            rated = _rating(ev.note) or rated
        if inside and ev.action == "return":
            f.returns += 1
        if inside and ev.action == "reopen":
            f.reopens += 1
        if ev.to_status is not None:
            state = ev.to_status
    f = out[closer]
    if closed_here:
        f.resolved += 1
        f.resolved_timed += closed_here["timed"]
        f.resolved_on_time += closed_here["on_time"]
        f.unrated += state == lc.RESOLVED
    if rated is not None:
        f.ratings[rated] += 1
    if start <= row.created_at < cut and state not in VOID:
        mine = out[row.department_code]
        mine.received += 1
        mine.received_closed += state in CLOSED


# ---------------------------------------------------------------- orders named in reports


@dataclass(frozen=True)
class Flagged:
    number: str
    department: str | None
    status: str
    text: str
    deadline: datetime
    returns: int
    reopens: int
    ext_days: int | None
    extensions: int
    named: bool  # five working days past the deadline


def flagged_orders(session: Session, cal: WorkCalendar, now: datetime) -> list[Flagged]:
    """Open orders past their deadline or with returns, reopens or an extension request,
    oldest deadline first (one query)."""
    o = WorkOrder
    rows = session.execute(
        select(
            o.number,
            o.department_code,
            o.status,
            o.text,
            o.deadline,
            o.returns,
            o.reopens,
            o.ext_days,
            o.extensions,
        )
        .where(
            o.status.in_(lc.OPEN_STATUSES),
            or_(o.deadline < now, o.returns > 0, o.reopens > 0, o.ext_days.is_not(None)),
        )
        .order_by(o.deadline, o.number)
    ).all()
    named_after: dict[date, datetime] = {}

    def named(deadline: datetime) -> bool:
        local = deadline.astimezone(cal.tz)
        if local.date() not in named_after:
            named_after[local.date()] = cal.add_working_days(local, OVERDUE_DAYS_NAMED)
        # add_working_days depends on the date only (次日起算): one lookup per date
        return named_after[local.date()] <= now

    return [
        Flagged(
            r.number,
            r.department_code,
            r.status,
            r.text,
            r.deadline,
            r.returns,
            r.reopens,
            r.ext_days,
            r.extensions,
            r.deadline < now and named(r.deadline),
        )
        for r in rows
    ]


# ---------------------------------------------------------------- markdown


@dataclass
class Section:
    """A titled block: ``head`` (a table header) is repeated when the rows run over a message."""

    title: str
    rows: list[str]
    head: list[str] = field(default_factory=list)
    intro: list[str] = field(default_factory=list)  # lines after the title, first part only

    def lines(self) -> list[str]:
        return [self.title, *self.intro, *self.head, *self.rows] if self.title else self.rows


def pack(sections: Iterable[Section], limit: int = MARKDOWN_LIMIT, title: str = "") -> list[str]:
    """The sections as messages of at most ``limit`` UTF-8 bytes.

    A section goes whole into the current message if it fits, else whole into a new one;
    a section longer than a message is cut between rows, each part with the section's title
    (marked 续) and table header. Messages after the first begin with ``title`` (续 i/n).
    """
    room = limit - (utf8_len(f"**{title}（续 99/99）**\n") if title else 0)
    messages: list[str] = []
    cur: list[str] = []

    def size(lines: list[str]) -> int:
        return utf8_len("\n".join(lines))

    def flush(lines: list[str]) -> None:
        if lines:
            messages.append("\n".join(lines))

    for sec in sections:
        whole = sec.lines()
        joined = [*cur, "", *whole] if cur else whole
        if size(joined) <= room:
            cur = joined
            continue
        flush(cur)
        if size(whole) <= room:
            cur = whole
            continue
        cont = [f"{sec.title}（续）", *sec.head] if sec.title else list(sec.head)
        part, has_rows = [sec.title, *sec.intro, *sec.head] if sec.title else [*sec.intro], False
        for row in sec.rows:
            if size([*part, row]) > room and has_rows:
                flush(part)
                part, has_rows = list(cont), False
            if size([*part, row]) > room:  # one row longer than a message: cut the row
                *whole_pieces, row = split_utf8(row, room - size(part) - 1)
                for piece in whole_pieces:
                    flush([*part, piece])
                    part = list(cont)
            part.append(row)
            has_rows = True
        cur = part
    flush(cur)
    if title and len(messages) > 1:
        n = len(messages)
        messages = [messages[0]] + [
            f"**{title}（续 {i}/{n}）**\n{m}" for i, m in enumerate(messages[1:], start=2)
        ]
    return messages


def pct(x: float | None) -> str:
    return f"{x:.1%}" if x is not None else "—"


def _arrow(delta: float) -> str:
    return "↑" if delta > 0 else "↓" if delta < 0 else "→"


def trend_count(now_: int, before: int) -> str:
    """``12 件（上期 10，↑2）``"""
    d = now_ - before
    return f"{now_} 件（上期 {before}，{f'{_arrow(d)}{abs(d)}' if d else '持平'}）"


def trend_rate(now_: float | None, before: float | None) -> str:
    """``80.0%（上期 75.0%，↑5.0个百分点）``"""
    if now_ is None or before is None:
        return f"{pct(now_)}（上期 {pct(before)}）"
    d = round((now_ - before) * 100, 1)
    change = f"{_arrow(d)}{abs(d):.1f}个百分点" if d else "持平"
    return f"{pct(now_)}（上期 {pct(before)}，{change}）"


def _rating_detail(f: Figures) -> str:
    r = f.ratings
    return f"满意 {r['满意']}、基本满意 {r['基本满意']}、不满意 {r['不满意']}，未评价 {f.unrated}"


def _overdue_for(deadline: datetime, now: datetime) -> str:
    hours = int((now - deadline).total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    return f"{days}天{hours}小时" if days else f"{hours}小时"


def footer(kind: str, weights: ReportWeights) -> Section:
    pw = [round(w * 100) for w in (weights.response, weights.resolution, weights.satisfaction)]
    cum = "；累计＝全部工单当前状态" if kind == DAY else ""
    return Section(
        "",
        [
            "> 口径：受理＝期内新建工单（不含至期末已撤回、已合并、已撤销的）；"
            "办结＝期内办结（重办后再办结计入办结当期）；"
            "办结率＝期内受理工单至期末已办结（含已评价）的比例；"
            "及时签收率＝期内签收中未超签收时限的比例；按期办结率＝期内办结中未超办结时限（含批准延期）的比例；"
            "满意率＝（满意＋基本满意）÷已评价，未评价不计入满意；退单、重办为期内次数"
            f"{cum}。排名得分＝响应（及时签收率）{pw[0]}%＋解决（办结率）{pw[1]}%＋"
            f"满意（满意率）{pw[2]}%，缺项按其余权重折算。"
        ],
    )


# ---------------------------------------------------------------- the reports


def report_messages(
    session: Session,
    settings: Settings,
    calendar: WorkCalendar,
    period: str,
    day: date,
    now: datetime,
    unknown_years: Iterable[int] | None = None,
    *,
    limit: int = MARKDOWN_LIMIT,
) -> list[str]:
    """The report of the ``period`` kind that contains ``day``, as markdown messages."""
    p = period_of(period, day)
    tz = now.tzinfo
    names = {d.code: d.name for d in settings.departments}
    names |= {d.code: d.name for d in repo.departments(session)}
    start, end = p.bounds(tz)
    current = period_figures(session, settings, calendar, start, end, now)
    cumulative = cumulative_figures(session, now)
    flagged = flagged_orders(session, calendar, now)
    sections: list[Section] = []
    if p.kind == DAY:
        sections += _daily(p, current, cumulative, names, settings.reports.weights)
    else:
        pstart, pend = p.previous().bounds(tz)
        previous = period_figures(session, settings, calendar, pstart, pend, now)
        sections += _periodic(p, current, previous, names, settings.reports.weights)
    years = sorted(
        {y for y in (unknown_years or ()) if not calendar.known_year(y)}
        | set(calendar.missing_years(now.date()))
    )
    if years:
        sections.insert(
            1,
            Section(
                "",
                [
                    f'<font color="warning">注意：节假日日历缺少 {"、".join(map(str, years))} '
                    "年数据，相关时限暂按周一至周五计算，请管理员导入当年放假安排"
                    "（gridbot calendar import）。</font>"
                ],
            ),
        )
    overdue = [x for x in flagged if x.deadline < now]
    if p.kind == DAY:
        sections.append(_overdue_section(overdue, names, now))
    else:
        sections += _difficulties(flagged, names, now)
    sections.append(_named_section([x for x in overdue if x.named], names, now))
    sections.append(footer(p.kind, settings.reports.weights))
    return pack([s for s in sections if s.rows], limit, p.title)


def build_report(
    session: Session,
    settings: Settings,
    calendar: WorkCalendar,
    period: str,
    day: date,
    now: datetime,
    unknown_years: Iterable[int] | None = None,
) -> str:
    """The report as one markdown text (its messages, separated by blank lines)."""
    return "\n\n".join(
        report_messages(session, settings, calendar, period, day, now, unknown_years)
    )


def default_calendar(session: Session, settings: Settings, tz: tzinfo) -> WorkCalendar:
    """The settings' working calendar with the imported notices (for callers without one)."""
    return build_calendar(settings, tz, imported=repo.calendar_notice_days(session))


def _departments(
    names: Mapping[str, str], *breakdowns: Mapping[str | None, Figures]
) -> list[tuple[str | None, str]]:
    codes = {c for b in breakdowns for c, f in b.items() if f.active}
    out: list[tuple[str | None, str]] = [
        (c, names.get(c, c)) for c in sorted(x for x in codes if x is not None)
    ]
    if None in codes:
        out.append((None, NO_DEPARTMENT))
    return out


def _ranking(
    figures: Mapping[str | None, Figures],
    names: Mapping[str, str],
    w: ReportWeights,
    before: Mapping[str | None, Figures] | None = None,
) -> Section:
    scored = [
        (s, code, f)
        for code, f in figures.items()
        if code is not None and (s := f.score(w)) is not None
    ]
    scored.sort(key=lambda t: (-round(t[0], 6), t[1]))
    trend = before is not None
    head = ["| 名次 | 部门 | 响应 | 解决 | 满意 | 得分 |" + (" 较上期 |" if trend else "")]
    head.append("|---|---|---|---|---|---|" + ("---|" if trend else ""))
    rows = []
    for i, (s, code, f) in enumerate(scored, start=1):
        row = (
            f"| {i} | {names.get(code, code)} | {pct(f.timely_accept_rate)} | "
            f"{pct(f.resolution_rate)} | {pct(f.satisfaction_rate)} | {s:.1f} |"
        )
        if before is not None:
            prev = before.get(code)
            ps = prev.score(w) if prev is not None else None
            row += " — |" if ps is None else f" {_arrow(round(s - ps, 1))}{abs(s - ps):.1f} |"
        rows.append(row)
    return Section("**部门排名**（加权得分）", rows, head)


def _daily(
    p: Period,
    day: Breakdown,
    cum: Breakdown,
    names: Mapping[str, str],
    w: ReportWeights,
) -> list[Section]:
    t, c = total(day), total(cum)
    overview = [
        f"**当日**：受理 {t.received} 件，签收 {t.signed} 件，办结 {t.resolved} 件；"
        f"办结率 {pct(t.resolution_rate)}，及时签收率 {pct(t.timely_accept_rate)}，"
        f"按期办结率 {pct(t.on_time_rate)}，满意率 {pct(t.satisfaction_rate)}"
        f"（{_rating_detail(t)}）；退单 {t.returns} 次，重办 {t.reopens} 次",
        f"**累计**：受理 {c.received} 件，办结 {c.resolved} 件，办结率 {pct(c.resolution_rate)}；"
        f"及时签收率 {pct(c.timely_accept_rate)}，按期办结率 {pct(c.on_time_rate)}，"
        f"满意率 {pct(c.satisfaction_rate)}（{_rating_detail(c)}）；"
        f"退单 {c.returns} 次，重办 {c.reopens} 次；在办 {c.open_now} 件，"
        f'<font color="warning">超期 {c.overdue_now} 件</font>，超时未签收 {c.accept_late_now} 件',
    ]
    head = [
        "| 部门 | 当日受理 | 当日办结 | 累计受理 | 累计办结 | 办结率 | 及时签收率 | 按期办结率 "
        "| 满意率 | 退单 | 重办 | 在办 | 超期 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for code, name in _departments(names, day, cum):
        d, k = day.get(code, Figures()), cum.get(code, Figures())
        rows.append(
            f"| {name} | {d.received} | {d.resolved} | {k.received} | {k.resolved} | "
            f"{pct(k.resolution_rate)} | {pct(k.timely_accept_rate)} | {pct(k.on_time_rate)} | "
            f"{pct(k.satisfaction_rate)} | {k.returns} | {k.reopens} | {k.open_now} | "
            f"{k.overdue_now} |"
        )
    return [
        Section(f"## {p.title}", overview),
        Section("**各部门**（累计为截至现在）", rows, head),
        _ranking(cum, names, w),
    ]


def _periodic(
    p: Period,
    cur: Breakdown,
    prev: Breakdown,
    names: Mapping[str, str],
    w: ReportWeights,
) -> list[Section]:
    t, b = total(cur), total(prev)
    overview = [
        f"- 受理 {trend_count(t.received, b.received)}",
        f"- 办结 {trend_count(t.resolved, b.resolved)}",
        f"- 办结率 {trend_rate(t.resolution_rate, b.resolution_rate)}",
        f"- 及时签收率 {trend_rate(t.timely_accept_rate, b.timely_accept_rate)}",
        f"- 按期办结率 {trend_rate(t.on_time_rate, b.on_time_rate)}",
        f"- 满意率 {trend_rate(t.satisfaction_rate, b.satisfaction_rate)}（{_rating_detail(t)}）",
        f"- 退单 {t.returns} 次（上期 {b.returns}），重办 {t.reopens} 次（上期 {b.reopens}）",
    ]
    head = [
        "| 部门 | 受理 | 办结 | 办结率 | 及时签收率 | 按期办结率 | 满意率 | 退单 | 重办 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for code, name in _departments(names, cur):
        f = cur[code]
        rows.append(
            f"| {name} | {f.received} | {f.resolved} | {pct(f.resolution_rate)} | "
            f"{pct(f.timely_accept_rate)} | {pct(f.on_time_rate)} | {pct(f.satisfaction_rate)} | "
            f"{f.returns} | {f.reopens} |"
        )
    return [
        Section(f"## {p.title}", overview, intro=["**本期与上期**："]),
        Section("**各部门**", rows, head),
        _ranking(cur, names, w, prev),
    ]


def _overdue_section(overdue: list[Flagged], names: Mapping[str, str], now: datetime) -> Section:
    rows = [
        f"- {x.number} {names.get(x.department or '', '待派单')} {lc.label(x.status)}，"
        f"超期 {_overdue_for(x.deadline, now)}"
        + ("（超期五个工作日）" if x.named else "")
        + f"：{escape_markdown(quote(x.text, 30))}"
        for x in overdue[:OVERDUE_LIST_LIMIT]
    ]
    if len(overdue) > OVERDUE_LIST_LIMIT:
        rows.append(f"- ……另有 {len(overdue) - OVERDUE_LIST_LIMIT} 件")
    return Section(f"**超期工单 {len(overdue)} 件**（超期最久在前）", rows)


def _named_section(named: list[Flagged], names: Mapping[str, str], now: datetime) -> Section:
    rows = [
        f"- {x.number} {names.get(x.department or '', '待派单')}，"
        f"时限 {x.deadline.astimezone(now.tzinfo):%m-%d %H:%M}，"
        f"超期 {_overdue_for(x.deadline, now)}"
        for x in named[:NAMED_LIMIT]
    ]
    if len(named) > NAMED_LIMIT:
        rows.append(f"- ……另有 {len(named) - NAMED_LIMIT} 件")
    return Section(
        f'<font color="warning">**超期五个工作日以上 {len(named)} 件**</font>（点名通报）', rows
    )


def _difficulties(flagged: list[Flagged], names: Mapping[str, str], now: datetime) -> list[Section]:
    by_dept: dict[str, list[Flagged]] = defaultdict(list)
    for x in flagged:
        if x.department is not None:
            by_dept[x.department].append(x)
    out = []
    for code in sorted(by_dept):
        items = by_dept[code]
        rows = []
        for x in items[:DIFFICULTY_LIMIT]:
            why = []
            if x.deadline < now:
                why.append(f"超期 {_overdue_for(x.deadline, now)}")
            if x.returns:
                why.append(f"退单 {x.returns} 次")
            if x.reopens:
                why.append(f"重办 {x.reopens} 次")
            if x.ext_days is not None:
                why.append(f"申请延期 {x.ext_days} 个工作日")
            rows.append(f"- {x.number}（{'、'.join(why)}）：{escape_markdown(quote(x.text, 40))}")
        if len(items) > DIFFICULTY_LIMIT:
            rows.append(f"- ……另有 {len(items) - DIFFICULTY_LIMIT} 件")
        out.append(Section(f"**{names.get(code, code)}难点**（{len(items)} 件未办结）", rows))
    if not out:
        out.append(Section("**各部门难点**", ["暂无超期、退单、重办或申请延期的在办工单。"]))
    return out
