"""The supervisors' daily digest (受理 / 签收 / 办结 per department, overdue orders)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.orm import Session

from handlers import workflow as wf
from handlers.notify import escape_markdown, quote
from storage import repositories as repo


def day_bounds(day: date, tz: tzinfo | None) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


def rate(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def build_digest(
    session: Session, *, day: date, now: datetime, unknown_years: set[int] | None = None
) -> str:
    """Markdown for ``day`` (its own figures) and cumulative figures as of ``now``."""
    start, end = day_bounds(day, now.tzinfo)
    counts = repo.department_counts(
        session, day_start=start, day_end=end, now=now, open_statuses=wf.OPEN_STATUSES
    )
    totals = [
        sum(getattr(c, f) for c in counts)
        for f in (
            "accepted_today",
            "signed_today",
            "resolved_today",
            "accepted_total",
            "signed_total",
            "resolved_total",
            "open_now",
            "overdue_now",
        )
    ]
    t_acc, t_sig, t_res, c_acc, c_sig, c_res, c_open, c_over = totals
    lines = [
        f"## 企业诉求日报 {day:%Y-%m-%d}",
        f"**当日**：受理 {t_acc} 件、签收 {t_sig} 件、办结 {t_res} 件",
        f"**累计**：受理 {c_acc} 件、签收 {c_sig} 件、办结 {c_res} 件，"
        f"办结率 {rate(c_res, c_acc)}；在办 {c_open} 件，"
        f'<font color="warning">超期 {c_over} 件</font>',
        "",
        "| 部门 | 当日受理 | 当日签收 | 当日办结 | 累计受理 | 累计签收 | 累计办结 "
        "| 办结率 | 在办 | 超期 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in counts:
        if not (c.accepted_total or c.open_now):
            continue
        lines.append(
            f"| {c.name} | {c.accepted_today} | {c.signed_today} | {c.resolved_today} | "
            f"{c.accepted_total} | {c.signed_total} | {c.resolved_total} | "
            f"{rate(c.resolved_total, c.accepted_total)} | {c.open_now} | {c.overdue_now} |"
        )
    overdue = repo.overdue_orders(session, now, wf.OPEN_STATUSES)
    if overdue:
        lines += ["", "**超期工单**（超期最久在前）："]
        names = {d.code: d.name for d in repo.departments(session)}
        for o in overdue[:20]:
            hours = (now - o.deadline).total_seconds() / 3600
            lines.append(
                f"- {o.number} {names.get(o.department_code or '', '待派单')} "
                f"{wf.label(o.status)}，超期 {hours:.0f} 小时："
                f"{escape_markdown(quote(o.text, 30))}"
            )
        if len(overdue) > 20:
            lines.append(f"- ……另有 {len(overdue) - 20} 件")
    if unknown_years:
        years = "、".join(str(y) for y in sorted(unknown_years))
        lines += [
            "",
            f'<font color="warning">注意：节假日日历缺少 {years} 年数据，'
            "相关时限暂按周一至周五计算，请管理员导入当年放假安排。</font>",
        ]
    return "\n".join(lines)
