"""``gridbot demo``: a scripted working day through the real webhook, against a fake WeCom.

Everything is real except WeCom itself: the Alembic migrations build a SQLite file, the Flask
app listens on loopback, each message is encrypted and signed and POSTed to it, the outbox is
delivered by the scheduler's jobs to the fake WeCom server over HTTP, and the transcripts are
read back from what the fake received.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import threading
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from waitress.server import create_server

from bot import reports
from bot.app import MAX_BODY_BYTES, create_app
from bot.clock import FakeClock
from bot.config import Settings, settings_from_dict
from bot.fake_wecom import FakeWeCom
from bot.outbox import make_sender
from bot.runtime import Runtime, build_runtime
from bot.scheduler import Jobs
from bot.wecom.crypto import CallbackCrypto
from handlers import workflow as wf
from storage import db
from storage import repositories as repo

DEMO_DAY = datetime(2026, 11, 23, 8, 40)  # a Monday
AIBOT_TOKEN = "demoAibotToken"
APP_TOKEN = "demoAppToken"
BOT_NAME = "企业服务助手"


@dataclass(frozen=True)
class Step:
    at: str  # HH:MM on the demo day
    sender: str
    text: str
    chatid: str | None = None  # None: a private (1:1 app) message
    key: str | None = None  # remember the newest order under {key}, this message's id {key_msg}
    retry: bool = False  # WeCom re-delivers the previous callback (same msgid)
    fail_next_webhook: str | None = None  # make the fake refuse the next post to this key
    day: int = 0  # days after DEMO_DAY (the week is compressed: only the steps run)
    quote: str | None = None  # reply to the 办结回执 of this key's order (rating by reply)


WEEKDAYS = "一二三四五六日"


SCRIPT: tuple[Step, ...] = (
    Step("08:45", "wang.min", f"@{BOT_NAME} 早上好！", "wrk_xjxcl"),
    Step(
        "08:52",
        "li.qiang",
        f"@{BOT_NAME} 我们新基地施工许可还在办，但是没有路给施工车辆进出，能否协调修一条临时道路？",
        "wrk_sfzn",
        key="road",
    ),
    Step(
        "09:05",
        "wang.min",
        f"@{BOT_NAME} 研发楼的燃气管道还没接通，周五前必须通气，麻烦尽快协调燃气公司",
        "wrk_xjxcl",
        key="gas",
    ),
    Step("09:05", "wang.min", "(WeCom 重发上一条回调)", "wrk_xjxcl", retry=True),
    Step(
        "09:20",
        "zhao.lei",
        f"@{BOT_NAME} 商场5月1日要开业，消防验收什么时候能安排？",
        "wrk_cngc",
        key="fire",
    ),
    Step("09:31", "zhao.lei", f"@{BOT_NAME} 好的谢谢", "wrk_cngc"),
    Step(
        "09:40",
        "sun.hui",
        f"@{BOT_NAME} 场地清表和土方外运一直没人协调，项目没法开工，急！",
        "wrk_tcl",
        key="site",
    ),
    Step(
        "10:00",
        "zhou.yan",
        f"@{BOT_NAME} 请问小微企业稳岗补贴怎么申请？需要准备哪些材料",
        "wrk_glkj",
        key="subsidy",
    ),
    Step("10:10", "chen.jie", f"@{BOT_NAME} 👍👍", "wrk_sfzn"),
    Step("10:15", "zhou.yan", f"@{BOT_NAME}", "wrk_glkj"),
    Step("10:30", "liu.ke", "/签收 {road}"),
    Step("10:36", "he.gong", "/accept {gas}"),
    Step("10:40", "li.qiang", f"@{BOT_NAME} /签收 {{fire}}", "wrk_sfzn"),
    Step(
        "11:00",
        "sun.hui",
        f"@{BOT_NAME} 园区门口的路灯坏了好几天，晚上货车进出很危险",
        "wrk_tcl",
        key="lights",
        fail_next_webhook="key-tcl",
    ),
    Step("11:30", "chen.jie", f"@{BOT_NAME} 收到，辛苦了", "wrk_sfzn"),
    Step(
        "11:35",
        "wang.min",
        f"@{BOT_NAME} 早上说的研发楼燃气管道的事，周五前一定要通气啊，能不能快点",
        "wrk_xjxcl",
    ),
    Step(
        "11:45",
        "chen.jie",
        f"@{BOT_NAME} 隔壁工地晚上十二点还在打桩，员工宿舍没法睡觉",
        "wrk_sfzn",
        key="noise",
    ),
    Step("11:52", "ma.zhuren", "/派单 {noise} 生态环境分局"),
    Step("13:30", "liu.ke", "/办结 {road} 已与园区会商，临时施工便道已修通，车辆可正常进出"),
    Step("14:00", "wang.min", f"@{BOT_NAME} /查询 {{gas}}", "wrk_xjxcl"),
    Step("14:40", "he.gong", "/resolve {gas} 燃气管道已接驳完成，今日下午已通气"),
    Step(
        "15:00",
        "zhao.lei",
        f"@{BOT_NAME} 员工社保转移一直办理不了，系统提示错误，怎么办？",
        "wrk_cngc",
        key="social",
    ),
    Step("15:30", "xu.ke", "/办节 {fire} 已完成"),
    Step("15:32", "xu.ke", "/签收 {fire}"),
    Step("16:00", "deng.ke", "/签收 GD-20261123-0999"),
    Step("16:20", "zhou.yan", f"@{BOT_NAME} 感谢各位领导的支持🙏", "wrk_glkj"),
    Step(
        "16:40",
        "sun.hui",
        f"@{BOT_NAME} 研究院下午突然停水了，实验室没法做实验，请尽快恢复供水",
        "wrk_tcl",
        key="water",
    ),
    Step("17:10", "ma.zhuren", "/查询"),
    # ---- the rest of the week, compressed: only these moments run
    Step("08:50", "zhang.gong", "/签收 {water}", day=1),
    Step("09:00", "deng.ke", "/签收 {subsidy}", day=1),
    Step("09:10", "tang.ke", "/退单 {site} 土方外运和渣土消纳归城管部门管理，不属本局职责", day=1),
    Step("09:30", "ma.zhuren", "/转派 {site} 城管局", day=1),
    Step("09:40", "zhao.ke", "/签收 {site}", day=1),
    Step("10:00", "xu.ke", "/进展 {fire} 已安排周四上午到商场现场验收", day=1),
    Step("10:20", "lin.ke", "/签收 {noise}", day=1),
    Step("10:30", "lin.ke", "/延期 {noise} 5 需要连续几晚夜间监测噪音取证", day=1),
    Step("11:00", "ma.zhuren", "/批准延期 {noise}", day=1),
    Step(
        "14:00",
        "li.qiang",
        f"@{BOT_NAME} 不满意，便道一下雨就积水，车还是进不去",
        "wrk_sfzn",
        day=1,
        quote="road",
    ),
    Step("15:00", "wang.min", f"@{BOT_NAME} /评价 {{gas}} 满意", "wrk_xjxcl", day=1),
    Step("09:00", "liu.ke", "/签收 {road}", day=2),
    Step("09:30", "liu.ke", "/进展 {road} 已安排在便道铺设碎石并开挖排水沟", day=2),
    Step("17:40", "ma.zhuren", "/督办 {water} 请今天内恢复供水", day=2),
    Step("10:00", "zhang.gong", "/办结 {water} 已更换破损的供水主管，供水恢复", day=3),
    Step("11:00", "xu.ke", "/办结 {fire} 现场验收合格，已出具验收意见书", day=3),
    Step("11:30", "zhao.lei", f"@{BOT_NAME} 满意，谢谢消防大队", "wrk_cngc", day=3, quote="fire"),
    Step("16:00", "liu.ke", "/办结 {road} 便道已铺碎石并修好排水沟", day=4),
    Step("16:30", "deng.ke", "/办结 {subsidy} 已电话指导企业在线申报稳岗补贴", day=4),
    Step("17:00", "ma.zhuren", "/待办", day=4),
)


def load_demo_settings(fake: FakeWeCom, db_url: str) -> Settings:
    base = resources.files("bot") / "demo_data"
    raw: dict[str, Any] = tomllib.loads((base / "taxonomy.toml").read_text(encoding="utf-8"))
    roster = (base / "roster.toml").read_text(encoding="utf-8")
    raw.update(tomllib.loads(roster.replace("{webhook}", fake.webhook_url(""))))
    raw.update(
        {
            "database": {"url": db_url},
            "wecom": {
                "corp_id": fake.corp_id,
                "api_base_url": fake.base_url,
                "timeout_seconds": 3.0,
                "aibot": {
                    "token": AIBOT_TOKEN,
                    "encoding_aes_key": _random_key(),
                    "names": [BOT_NAME],
                },
                "app": {
                    "token": APP_TOKEN,
                    "encoding_aes_key": _random_key(),
                    "agent_id": 1000002,
                    "secret": fake.secret,
                },
            },
            "outbound": {"backoff_base_seconds": 60.0},
        }
    )
    return settings_from_dict(raw)


def _random_key() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while True:
        key = "".join(secrets.choice(alphabet) for _ in range(43))
        try:
            CallbackCrypto("t", key, "", now=time.time)
        except ValueError:
            continue
        return key


@contextmanager
def serving(rt: Runtime) -> Iterator[str]:
    """The app on a free loopback port, served by waitress (as ``gridbot serve`` does)."""
    server = create_server(
        create_app(runtime=rt),
        host="127.0.0.1",
        port=0,
        threads=4,
        max_request_body_size=MAX_BODY_BYTES,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # let the worker threads finish first: closing the server closes the trigger they pull
        # when a task ends ("Bad file descriptor" in a worker thread otherwise)
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        thread.join(timeout=5)


class Driver:
    """Plays WeCom's side: encrypts, signs and POSTs callbacks to the running gridbot."""

    def __init__(self, rt: Runtime, url: str, fake: FakeWeCom) -> None:
        wc = rt.settings.wecom

        def now() -> float:
            return rt.clock.now().timestamp()

        self.aibot = CallbackCrypto(wc.aibot.token, wc.aibot.encoding_aes_key, "", now=now)
        self.app = CallbackCrypto(wc.app.token, wc.app.encoding_aes_key, wc.corp_id, now=now)
        self.rt, self.url, self.fake = rt, url, fake
        self.http = requests.Session()
        self.last: tuple[str, dict[str, str], bytes] | None = None
        self.response_urls: dict[str, str] = {}  # response_url -> chatid
        self.seq = 0

    def build(
        self, step: Step, msgid: str | None = None, quote: str | None = None
    ) -> tuple[str, dict[str, str], bytes]:
        """The encrypted, signed callback for ``step``: (path, query, body)."""
        self.seq += 1
        ts = int(self.rt.clock.now().timestamp())
        nonce = secrets.token_hex(6)
        if step.chatid is not None:
            response_url = self.fake.new_response_url()
            self.response_urls[response_url] = step.chatid
            payload = {
                "msgid": msgid or f"demo-{self.seq:04d}",
                "aibotid": "demo-bot",
                "chatid": step.chatid,
                "chattype": "group",
                "from": {"userid": step.sender},
                "response_url": response_url,
                "msgtype": "text",
                "text": {"content": step.text},
            }
            if quote:
                payload["quote"] = {"msgtype": "text", "text": {"content": quote}}
            plaintext = json.dumps(payload, ensure_ascii=False).encode()
            encrypted, signature = self.aibot.encrypt(plaintext, nonce, ts)
            path, body = "/wecom/aibot", json.dumps({"encrypt": encrypted}).encode()
        else:
            wc = self.rt.settings.wecom
            xml = (
                f"<xml><ToUserName><![CDATA[{wc.corp_id}]]></ToUserName>"
                f"<FromUserName><![CDATA[{step.sender}]]></FromUserName>"
                f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{step.text}]]></Content>"
                f"<MsgId>{msgid or 7000000000 + self.seq}</MsgId>"
                f"<AgentID>{wc.app.agent_id}</AgentID></xml>"
            )
            encrypted, signature = self.app.encrypt(xml.encode(), nonce, ts)
            path = "/wecom/app"
            body = (
                f"<xml><ToUserName><![CDATA[{wc.corp_id}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
                f"<AgentID><![CDATA[{wc.app.agent_id}]]></AgentID></xml>"
            ).encode()
        query = {"msg_signature": signature, "timestamp": str(ts), "nonce": nonce}
        return path, query, body

    def send(self, step: Step, quote: str | None = None) -> int:
        """POST ``step`` (or, for a retry step, the previous callback again); the status."""
        if not step.retry:
            self.last = self.build(step, quote=quote)
        assert self.last is not None
        path, query, body = self.last
        return self.http.post(self.url + path, params=query, data=body, timeout=10).status_code


def run_demo(workdir: Path | None, out: Callable[[str], None] = print) -> int:
    started = time.monotonic()
    quiet = logging.getLogger("bot")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # the transcript is the output
    try:
        code = _run(workdir, out)
    finally:
        quiet.setLevel(level)
    out(f"\n演示完成，用时 {time.monotonic() - started:.1f} 秒。")
    return code


def _run(workdir: Path | None, out: Callable[[str], None]) -> int:
    with tempfile.TemporaryDirectory(prefix="gridbot-demo-") as tmp:
        folder = workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        dbfile = folder / "gridbot-demo.db"
        dbfile.unlink(missing_ok=True)
        with FakeWeCom() as fake:
            settings = load_demo_settings(fake, f"sqlite:///{dbfile}")
            clock = FakeClock(DEMO_DAY, settings.timezone)
            rt = build_runtime(settings, clock=clock, migrate=True)
            with db.transaction(rt.sessions) as session:  # last week's reports went out already
                repo.claim_job_run(session, "digest", DEMO_DAY.date().isoformat(), clock.now())
                last_week = reports.last_complete("week", DEMO_DAY.date())
                repo.claim_job_run(session, "report_week", last_week.first.isoformat(), clock.now())
            jobs = Jobs(rt, make_sender(rt), holder="demo")
            with serving(rt) as url:
                code = _play(rt, jobs, Driver(rt, url, fake), fake, out)
            rt.engine.dispose()
    return code


def _play(
    rt: Runtime, jobs: Jobs, driver: Driver, fake: FakeWeCom, out: Callable[[str], None]
) -> int:
    clock = rt.clock
    assert isinstance(clock, FakeClock)
    names = {p.userid: p.name for p in rt.settings.people}
    groups = {g.chatid: g.name for g in rt.settings.groups}
    keys = {g.webhook_url.rsplit("key=", 1)[-1]: g.chatid for g in rt.settings.groups}
    transcript: dict[str, list[str]] = {c: [] for c in groups}
    private: list[str] = []
    numbers: dict[str, str] = {}
    seen = 0
    out(
        f"gridbot 演示：{DEMO_DAY:%Y-%m-%d}（周一）起压缩的一周，{len(groups)} 个企业群，"
        f"{len(SCRIPT)} 条消息，经加密回调发送到 {driver.url}\n"
    )
    for step in SCRIPT:
        hh, mm = (int(x) for x in step.at.split(":"))
        moment = (DEMO_DAY.replace(hour=hh, minute=mm) + timedelta(days=step.day)).replace(
            tzinfo=clock.tz
        )
        if step.day and clock.now() < moment.replace(hour=8, minute=30):
            # the morning: overnight retries, reminders and the daily digest go out at 08:30
            clock.set(moment.replace(hour=8, minute=30))
            jobs.run_all_once()
            seen = _collect(
                fake,
                seen,
                _label(clock.now()),
                keys,
                driver.response_urls,
                names,
                transcript,
                private,
            )
        clock.set(moment)
        when = _label(moment)
        if step.fail_next_webhook:
            fake.fail_next("/cgi-bin/webhook/send", errcode=45009)
        text = step.text.format(**numbers)
        quote = _receipt(fake, numbers[step.quote]) if step.quote else None
        status = driver.send(
            Step(step.at, step.sender, text, step.chatid, retry=step.retry), quote=quote
        )
        line = f"[{when}] {names.get(step.sender, step.sender)}：{text}"
        if quote:
            line += f"（回复：{quote[:24]}…）"
        if step.retry:
            line = f"[{when}] （企业微信重发同一条回调，HTTP {status}，未重复登记）"
        (transcript[step.chatid] if step.chatid else private).append(
            line if step.chatid else f"[{when}] {names.get(step.sender)} → 机器人（私聊）：{text}"
        )
        if step.key:
            with db.transaction(rt.sessions) as session:
                newest = repo.orders(session)
                if newest:
                    numbers[step.key] = newest[-1].number
                numbers[f"{step.key}_msg"] = str(repo.newest_inbound_id(session))
        clock.advance(seconds=20)
        jobs.run_all_once()
        seen = _collect(fake, seen, when, keys, driver.response_urls, names, transcript, private)
    # the next Monday morning: the daily digest and the weekly report
    clock.set(DEMO_DAY.replace(hour=8, minute=30) + timedelta(days=7))
    jobs.run_all_once()
    seen = _collect(
        fake, seen, _label(clock.now()), keys, driver.response_urls, names, transcript, private
    )

    for chatid, lines in transcript.items():
        out(f"==== 群聊：{groups[chatid]} ====")
        out("\n".join(lines) if lines else "（无消息）")
        out("")
    out("==== 私聊（自建应用）====")
    out("\n".join(private))
    out("")
    with db.transaction(rt.sessions) as session:
        out(_order_table(session))
        out("")
        out("==== 督办周报（本周，下周一 08:30 发出）====")
        out(
            reports.build_report(
                session,
                rt.settings,
                rt.calendar,
                "week",
                DEMO_DAY.date(),
                clock.now(),
                rt.unknown_years,
            )
        )
        pending = repo.outbox_messages(session, status="pending")
        failed = repo.outbox_messages(session, status="failed")
    out(f"\n发件箱：待发 {len(pending)} 条，放弃 {len(failed)} 条。")
    return 0 if not failed else 1


def _label(moment: datetime) -> str:
    week = "下周" if (moment.date() - DEMO_DAY.date()).days >= 7 else "周"
    return f"{week}{WEEKDAYS[moment.weekday()]} {moment:%H:%M}"


def _receipt(fake: FakeWeCom, number: str) -> str:
    """The 办结回执 of ``number`` as the group received it (what a reply quotes)."""
    for r in reversed(fake.received):
        content = str(((r.body or {}).get("text") or {}).get("content", ""))
        if r.path.endswith("/webhook/send") and "办结回执" in content and number in content:
            return content
    return f"【办结回执】{number}"


def _collect(
    fake: FakeWeCom,
    seen: int,
    at: str,
    keys: dict[str, str],
    response_urls: dict[str, str],
    names: dict[str, str],
    transcript: dict[str, list[str]],
    private: list[str],
) -> int:
    received = fake.received[seen:]
    for r in received:
        body = r.body or {}
        if r.path.endswith("/webhook/send"):
            chatid = keys.get(r.query.get("key", ""))
            if chatid is None:
                continue
            if not r.ok:  # the group did not see it; the outbox retries after a backoff
                transcript[chatid].append(
                    f"[{at}] （企业微信拒收一条推送：errcode {r.errcode}，发件箱稍后重发）"
                )
                continue
            msgtype = body.get("msgtype", "text")
            content = body.get(msgtype, {}).get("content", "")
            mentions = body.get(msgtype, {}).get("mentioned_list", [])
            at_line = "".join(f"@{names.get(u, u)} " for u in mentions)
            transcript[chatid].append(f"[{at}] 🤖 机器人：{at_line}{content}")
        elif not r.ok:
            continue
        elif r.path.endswith("/aibot/response"):
            url = next((u for u in response_urls if r.query.get("response_code", "") in u), "")
            chatid = response_urls.get(url)
            if chatid is not None:
                content = body.get("markdown", {}).get("content", "")
                transcript[chatid].append(f"[{at}] 🤖 机器人（回复）：{content}")
        elif r.path.endswith("/message/send"):
            users = "、".join(names.get(u, u) for u in str(body.get("touser", "")).split("|"))
            msgtype = body.get("msgtype", "text")
            content = body.get(msgtype, {}).get("content", "")
            private.append(f"[{at}] 机器人 → {users}（私聊）：{content}")
    return seen + len(received)


def _pad(text: str, width: int) -> str:
    """Left-align ``text`` in ``width`` terminal columns (CJK characters take two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 1)


def _order_table(session: Any) -> str:
    names = {d.code: d.name for d in repo.departments(session)}
    rows = [
        "==== 工单表 ====",
        _pad("单号", 18) + _pad("状态", 8) + _pad("部门", 16) + _pad("留痕", 6) + "诉求",
    ]
    for o in repo.orders(session):
        events = len(repo.events(session, o.id))
        rows.append(
            _pad(o.number, 18)
            + _pad(wf.label(o.status), 8)
            + _pad(names.get(o.department_code or "", "（待派单）"), 16)
            + _pad(f"{events} 条", 6)
            + o.text[:30]
        )
    return "\n".join(rows)
