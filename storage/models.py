"""SQLAlchemy 2 typed models. Times are stored as timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        date: Date(),
    }


# ---------------------------------------------------------------- roster (synced from config)


class Department(Base):
    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    leader: Mapped[str] = mapped_column(String(64), default="")


class Category(Base):
    __tablename__ = "categories"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    keywords: Mapped[str] = mapped_column(Text, default="")  # newline-separated
    limit_hours: Mapped[int | None] = mapped_column(Integer)
    limit_days: Mapped[int | None] = mapped_column(Integer)
    catch_all: Mapped[bool] = mapped_column(default=False)


class Enterprise(Base):
    __tablename__ = "enterprises"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Person(Base):
    __tablename__ = "people"
    userid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    roles: Mapped[str] = mapped_column(String(200))  # comma-separated, sorted
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class ChatGroup(Base):
    __tablename__ = "groups"
    chatid: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    webhook_url: Mapped[str] = mapped_column(Text, default="")
    appchat_chatid: Mapped[str] = mapped_column(String(64), default="")


# ---------------------------------------------------------------- inbox


class InboundMessage(Base):
    """Every accepted callback, stored and committed before the 200 goes back."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "msgid"),
        Index("ix_inbound_messages_status_received", "status", "received_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    msgid: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(64))
    chatid: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the parsed Incoming, as JSON
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="received")  # received|done|failed
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------- work orders


class OrderCounter(Base):
    __tablename__ = "order_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD
    last_seq: Mapped[int] = mapped_column(default=0)


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_department_status", "department_code", "status"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    requester_userid: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    group_chatid: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    category_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    confidence: Mapped[float] = mapped_column(default=0.0)
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), unique=True
    )
    created_at: Mapped[datetime]
    deadline: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(Text)
    dispatched_at: Mapped[datetime | None]
    accept_deadline: Mapped[datetime | None]  # 签收 by then (counted from dispatch)
    # a pending extension request (延期申请): days, reason, who asked; cleared when decided
    ext_days: Mapped[int | None]
    ext_reason: Mapped[str | None] = mapped_column(Text)
    ext_by: Mapped[str | None] = mapped_column(String(64))
    extensions: Mapped[int] = mapped_column(default=0)  # approved extensions so far
    rating: Mapped[str | None] = mapped_column(String(8))  # 满意 | 基本满意 | 不满意
    rating_note: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    merged_into: Mapped[str | None] = mapped_column(String(32))  # the order number it joined
    reopens: Mapped[int] = mapped_column(default=0)  # 重办 count
    returns: Mapped[int] = mapped_column(default=0)  # 退单 count

    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", lazy="raise"
    )
    enterprise: Mapped[Enterprise | None] = relationship(lazy="joined")


class OrderEvent(Base):
    """An append-only record of every change to an order (痕迹化), hash-chained per order.

    Written only by ``repositories.add_event``; ``storage.audit`` has the hash recipe.
    """

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    seq: Mapped[int]  # 1, 2, 3, … per order
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of the event before
    hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of this event (storage.audit)

    order: Mapped[WorkOrder] = relationship(back_populates="events")


class AuditHead(Base):
    """The newest event of an order's chain, so deleting the last events shows too."""

    __tablename__ = "audit_heads"
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class OrderReminder(Base):
    """A reminder sent for an order: at most one per (order, kind, deadline)."""

    __tablename__ = "order_reminders"
    __table_args__ = (UniqueConstraint("order_id", "kind", "due"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    kind: Mapped[str] = mapped_column(String(32))
    due: Mapped[datetime]
    sent_at: Mapped[datetime]


class RoutingExample(Base):
    """A labelled routing example: a dispatcher's decision (/派单), used by `train --from-db`."""

    __tablename__ = "routing_examples"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    category_code: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(String(64))
    suggested_category: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))  # "dispatcher"
    actor: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    created_at: Mapped[datetime]


class DetectionExample(Base):
    """A dispatcher's word on whether a group message is a request: ``/立案`` (``request``) or
    ``/非诉求`` (``chatter``); used by ``gridbot train --kind detector --from-db``. One per
    message: a later decision on the same message replaces the earlier one."""

    __tablename__ = "detection_examples"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(16))  # request|chatter
    source: Mapped[str] = mapped_column(String(32))  # "dispatcher"
    actor: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("inbound_messages.id"),
        unique=True,
    )
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    created_at: Mapped[datetime]


# ---------------------------------------------------------------- outbox and scheduler


class OutboxMessage(Base):
    """Everything gridbot sends, stored first and delivered by the scheduler's outbox job."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook|response_url|appchat|app_message
    target: Mapped[str] = mapped_column(Text)  # chatid / response_url / "u1|u2"
    msgtype: Mapped[str] = mapped_column(String(16))  # text|markdown
    content: Mapped[str] = mapped_column(Text)
    mentioned: Mapped[str] = mapped_column(Text, default="")  # "|"-joined userids
    rate_key: Mapped[str] = mapped_column(String(160), default="")  # e.g. webhook:<chatid>
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    purpose: Mapped[str] = mapped_column(String(32), default="")  # ack|receipt|reply|digest|...


class SchedulerLease(Base):
    """At most one scheduler runs the jobs: it holds this row's lease and renews it."""

    __tablename__ = "scheduler_lease"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class JobRun(Base):
    """A once-per-period job (the daily digest) records its period here, unique, before it acts."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class CalendarDay(Base):
    """A day of an imported holiday notice (``gridbot calendar import``): every process's
    working calendar reads these on top of the chinesecalendar package."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # holiday|workday
    name: Mapped[str] = mapped_column(String(64), default="")  # e.g. 春节
    source: Mapped[str] = mapped_column(String(200), default="")  # the notice or file
    imported_at: Mapped[datetime]
