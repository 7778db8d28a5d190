"""The first classifier: request detection from scored cues, routing by category keywords.

Request detection: the message is cleaned (``@name`` mentions, WeCom sticker codes like
``[强]`` and emoji removed) and split into clauses at punctuation. Chatter phrases — thanks,
acknowledgements, greetings, laughter, closure reports ("已经通气了"), notices — are flagged and
cut out. What is left is searched for *strong* cues (questions, explicit asks, problems:
"什么时候", "能否", "麻烦", "没有", "坏了", "？" …) and *weak* cues (helping verbs: "协调",
"帮忙", "解决" …; dead when they follow a thanks in the same clause, as in "谢谢住建局的帮忙").
A progress report ("已经安排人对接了") counts against a message with no strong cue.
Cues, the best category's keyword score and the length of what is left add up to a logit;
``request_score`` is its sigmoid and ``is_request`` is ``request_score >= threshold``. Two rules
sit on top: thanks with no live cue is never a request, and a category keyword plus a live cue
always is.

Routing: every keyword occurrence in the cleaned text counts once for its category, weighted
by length (1 char 0.5, 2 chars 1.0, 3 chars 1.5, 4+ chars 2.0) and by whether it is made of
whole jieba tokens (x1.0) or only a substring of one (x0.6); an occurrence inside a longer
matched keyword does not count ("验收" inside "消防验收"). A category's confidence is its
score over the sum of all scores plus one (the mass left for "none of these"). A request that
matches nothing goes to the catch-all rule with low confidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from nlp.decision import CategoryRule, Decision, Suggestion
from nlp.tokenizer import Tokenizer, normalize

DEFAULT_THRESHOLD = 0.5
CATCH_ALL_CONFIDENCE = 0.2
NONE_MASS = 1.0  # added to the denominator of the confidence share
SUBSTRING_FACTOR = 0.6

# ---------------------------------------------------------------- text patterns (normalized text)

_SEP = r"\s,.!?;:、。~\-—_()\[\]<>\"'“”‘’【】《》|/\\*#"
_CLAUSE_SPLIT = re.compile(f"[{_SEP}]+")
_MENTION = re.compile(r"@[^\s@]{1,24}(?=\s|$)")
_STICKER = re.compile(r"\[[\u4e00-\u9fffa-z]{1,5}\]")
_EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")
_WORD_CHAR = re.compile(r"[\u4e00-\u9fffa-z0-9]")

# Acknowledgements that may open a clause ("好的我下午过去") …
_ACK_LEAD = r"收到|好的|好滴|好嘞|好哒|嗯嗯|哦哦|okay|ok"
# … and those that only count as a whole clause ("明白了", but not "了解一下补贴政策").
_ACK_WHOLE = (
    r"明白|了解|知道|清楚|没问题|没有问题|没事|可以|行|对的|是的|是滴|好吧|好|嗯|哦"
    r"|不客气|客气|已阅|马上安排|这就安排|马上处理|马上去|马上到"
)
_PARTICLES = r"[了啊呀啦哈哒的呢滴嘞]*"
_ACK_CLAUSE = re.compile(f"(?:(?:{_ACK_LEAD}|{_ACK_WHOLE}){_PARTICLES})+")
_ACK_PREFIX = re.compile(f"(?:(?:{_ACK_LEAD}){_PARTICLES})+")

_THANKS = re.compile(
    r"谢谢|感谢|多谢|谢啦|谢了|致谢|辛苦|有劳|麻烦(?:您|你|大家|各位|领导)?了"
    r"|thank you|thanks|thx|3q"
)
_GREETING = re.compile(
    r"(?:早上|上午|中午|下午|晚上|大家|各位|领导|各位领导|老师|你|您)好"
    r"|早安|晚安|在吗|在不在|周末愉快|节日快乐|新年快乐|新春快乐|春节快乐"
    r"|中秋快乐|恭喜|祝贺|明天见|再见|拜拜|\bhello\b|\bhi\b"
)
_LAUGH = re.compile(r"哈{2,}|呵{2,}|嘿{2,}|嘻{2,}|\bh{2,}\b|\b(?:ha)+\b|2333+|666+")
_CLOSURE = re.compile(
    r"(?:问题)?(?:已经|已|都|终于)(?:解决|处理|办好|办结|办完|完成|修好|接通|搞定|通气|通水|通电"
    r"|恢复|到账|通过|拿到|批复|批下来|办下来)(?:了|啦)?(?!吗|么|没)"
    r"|(?:问题)?(?:已经|已|都|终于)?(?:通|好|解决|处理好|办好|修好|搞定|弄好|恢复|办下来|批下来)了"
    r"(?!吗|么|没)"
)
# progress reports ("已经安排人对接了"); they only weigh when no strong cue is present
_STATUS = re.compile(r"已经|(?<![早])已(?!经)")
_NOTICE = re.compile(
    r"会议通知|(?<!等)通知|查收|请各|各企业|各单位|各位企业|开会|参会|报送|填报|转发"
    r"|敬请|温馨提示|截止时间|截止日期|特此|知悉"
)

_QUESTION = re.compile(
    r"吗|请问|想问|问一下|问下|咨询|怎么|咋|如何|怎样|什么时候|啥时候|何时|多久|多长时间|几天"
    r"|在哪|哪里|哪儿|哪个|哪些|哪家|是否|能否|能不能|可否|可不可以|可以吗|有没有|是不是"
    r"|谁负责|找谁|给谁|为什么|为啥|为何|要不要|什么条件|什么材料|什么手续|什么文件"
)
_ASK = re.compile(
    r"需要|急需|希望|要求|求助|帮帮|麻烦|(?<![申邀])请(?!各|大家|注意|查收|知悉|参加|准时)"
    r"|尽快|抓紧|加快|赶紧|催一下|催促|一下|想|投诉|反映|举报|建议"
)
_PROBLEM = re.compile(
    r"没有|没人|没法|没办法|无法|不能|不了|不通|不到|不够|不足|不上|不开|不进|进不|不来|不去|不敢"
    r"|不方便|不一致|不合理|不清楚|不符|不亮|不理|不管|不让|不作为|停了|坏了|坏掉|故障|损坏|破损|失修"
    r"|失灵|瘫痪|脱落|漏|堵|断了|爆了|塌|问题|困难|难题|急|危险|隐患|影响|严重|太差|太低|太高"
    r"|太大|太吵|太慢|太少|太弱|太多|还没|迟迟|至今|一拖再拖|拖欠|克扣|刁难|推诿|扯皮|卡在|卡住"
    r"|乱|偷|打砸|欺诈|违规|违法|非法|无人|刺鼻|难闻|吵|脏|臭|呛|被盗|威胁|错误|失败|异常|超标|过期|到期|紧张|缺|[停断没][电水气网]"
    r"|一直"
    # it happened again or is still wrong ("又跳闸了", "还是不亮", "才一天又坏了")
    r"|又(?:停|断|坏|跳|漏|堵|没|不|塌|被|积|来了|出了|开始)|还是(?:没|不)|仍然|依然|仍未"
    # damage and hazards stated flatly
    r"|跳闸|松了|松动|歪了|裂|下沉|漏电|冒烟|着火|起火|爆胎|淹了|积水|反水|发臭|被骗|骗了"
    # a complaint about how a request is handled ("说好的周一来修", "转了三次没下文", "人呢")
    r"|说好的|没下文|石沉大海|没人来|人呢|推给|踢皮球|到底谁管|谁负责|等了.{0,3}[天周月]"
)
# a turn after thanks or a closure ("谢谢…，但是今天又停了"): what follows is still live
_CONTRAST = re.compile(r"但是|可是|不过|然而|但(?!愿)")
_CUES = (_QUESTION, _ASK, _PROBLEM)
# Cues of chatter that looks like a request; not part of the keyword logit, they are signals
# of the detector's stacked blend (nlp.trained): a question to the other members ("有没有人…",
# "你们那…", "谁的车…"), an officer's answer ("不需要…", "按照规定…", "…就可以"), and the story of
# a problem that is over ("多亏…", "虚惊一场", "原来是…").
_PEER = re.compile(
    r"有没有人(?!才|管|能)|有人(?:知道|用过|要|需要|认识|懂|清楚)|谁(?:有|知道|家|认识|的车|的快递)"
    r"|哪位|各位老板|你们(?:那|那边|厂|公司|平时|收到)|有懂|有要的|一起(?:拼|团购)|私聊"
    r"|推荐一下|是不是只有我"
)
_ANSWER = re.compile(
    r"^(?:您好,?)?(?:不需要|不用|按照(?:规定|文件)|这个要到|这个需要|需要先|要先去|可以网上"
    r"|已(?:经)?(?:联系|转|登记|反馈)|预计)|(?:就行|就可以)\W*$|网上(?:预约|办)|全程网办|窗口(?:递交|办理)"
)
_OVER = re.compile(r"多亏|幸好|还好|虚惊|原来是|都过去了|后来(?:搞定|好了|下来|解决|才知道)|那次")
# Round 3 (2026-12-01), one signal per family of the labelling guide's borderline rules; the
# blend weighs each (nlp.trained). Chatter: a story from the past ("当年…", "记得刚来…"); a cause
# found or a fix done ("查清了，是…", "换了之后再没…", "已经清走"); a reply telling someone
# where to go or what it takes ("可以到…", "只需要…", "我们查了"); an instruction inside one
# enterprise ("小刘，…", "各班组…"); a joke ("就当…", "要是…就好了"). Requests: a problem that
# came back ("又停了", "可今天又…"); a complaint about handling ("说好…", "根本没…", "这都…");
# a question to the members about a government matter (peer_gov: rule 2); a flat outage or
# hazard report ("没水了", "跳闸", "困人") that is not a notice.
_PAST = re.compile(
    r"当年|那会儿?|记得|前年|去年|以前|第一次来|刚来|想起来|那时候?|当时|前阵子|之前也"
)
_RESOLVED = re.compile(
    r"查清|是(?:我们|你们)?(?:自己|楼内|内部)|的问题,|换了(?:就|之后)|再没|没再"
    r"|已经?(?:拧紧|合上|清走|清理|清出|清掉|整改|填平|抽干)|搞错了|不好意思|属于企业自有"
)
_REPLY = re.compile(
    r"可以(?:到|找|去|在|直接|申报|申请|拒绝)|(?:要|需要|得)(?:到|找|去)\S{0,8}(?:申请|办|问)"
    r"|一般不需要|不单独|会安排|有结果再|电话在|私发|随时问|已受理|正在往|马上到|稍等|只需要"
    r"|不用申请|回复了|请大家不要|我们查了"
)
_INTERNAL = re.compile(r"^@?\s*(?:小|阿|老)\S{1,2}[\s,，]|各班组|各车间|行政部|你去|发我|给我看")
_JOKE = re.compile(r"就当|正好|要是.{0,12}就好了|哈哈|用爱|顺便|减肥|锻炼身体|摸鱼")
_AGAIN = re.compile(
    r"又(?:停|断|坏|跳|漏|堵|没|黑|凉|摆|起来|报错|回)|还是(?:没|不|冷|卡|黑)"
    r"|第[二三四五](?:回|次)|可.{0,8}又"
)
_COMPLAINT = re.compile(
    r"说好|结果呢|从来没|根本没|推了|那属于谁|到底谁|已经是第|这都|现在(?:已经|都)|卡着没动"
    r"|没回音|没下文|没人来|再没来"
)
_GOV_MATTER = re.compile(
    r"补贴|补助|奖励|政策|部门|申请|申报|审批|许可|备案|社保|税|执照|落户|户口|认定|证|窗口|办理"
    r"|找谁|哪个部门|园区的|公租房|人才"
)
_FLAT = re.compile(
    r"(?<!预告)(?<!通知)(?:停|断|没)(?:电|水|气|网|热水)(?!预告|通知|的事|了吗|准备|检修|前)"
    r"|跳闸|困人|漏(?:水|电|气)|积水|发臭|好臭|好吵|坑|不热|不制冷|水压"
)
_WEAK = re.compile(
    r"协调|帮忙|帮助|帮我|解决|处理|支持|安排|对接|落实|办理|申请|指导|跟进|关心"
    r"|关注|看看|看下|核实|排查|检查|维修|抢修"
)

# logit weights
_BIAS = -2.0
_W_KEYWORD = 1.0
_W_STRONG = 1.5
_W_WEAK = 0.7
_W_THANKS = -1.5
_W_ACK = -1.0
_W_NOTICE = -1.0
_W_CLOSURE = -1.0
_W_GREETING = -0.3
_W_STATUS = -1.0
_W_LAUGH = -0.5
_W_EMOJI = -0.5


def _length_term(chars: int) -> float:
    if chars <= 2:
        return -2.5
    if chars <= 5:
        return -0.8
    if chars < 12:
        return 0.0
    if chars < 30:
        return 0.6
    return 0.9


def _keyword_weight(keyword: str) -> float:
    return {1: 0.5, 2: 1.0, 3: 1.5}.get(len(keyword), 2.0)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@dataclass
class _Signals:
    text: str = ""  # cleaned text: mentions, stickers, emoji and chatter phrases blanked out
    chars: int = 0  # letters, digits and CJK characters left in it
    strong: int = 0
    weak_live: int = 0
    thanks: bool = False
    ack: bool = False
    notice: bool = False
    closure: bool = False
    greeting: bool = False
    status: bool = False
    laugh: bool = False
    emoji: bool = False
    peer: bool = False  # a question or offer to the other members (_PEER)
    answer: bool = False  # an officer's answer (_ANSWER)
    over: bool = False  # a problem told as over (_OVER)
    past: bool = False  # a story from the past (_PAST)
    resolved: bool = False  # a cause found or a fix done (_RESOLVED)
    reply: bool = False  # where to go or what it takes (_REPLY)
    internal: bool = False  # an instruction inside one enterprise (_INTERNAL)
    joke: bool = False  # (_JOKE)
    again: bool = False  # a problem that came back (_AGAIN)
    complaint: bool = False  # about how a request is handled (_COMPLAINT)
    peer_gov: bool = False  # a question to the members about a government matter
    flat: bool = False  # a flat outage or hazard report (_FLAT)


def _blank(pattern: re.Pattern[str], clause: str) -> tuple[str, list[int]]:
    """Replace every match with spaces (positions kept); the match start positions."""
    starts: list[int] = []

    def space(m: re.Match[str]) -> str:
        starts.append(m.start())
        return " " * len(m.group())

    return pattern.sub(space, clause), starts


def _signals(raw: str) -> _Signals:
    sig = _Signals()
    normalized = normalize(raw)
    text = _MENTION.sub(" ", normalized)
    whole = text.strip()
    sig.peer = _PEER.search(whole) is not None
    sig.answer = _ANSWER.search(whole) is not None
    sig.over = _OVER.search(whole) is not None
    sig.past = _PAST.search(whole) is not None
    sig.resolved = _RESOLVED.search(whole) is not None
    sig.reply = _REPLY.search(whole) is not None
    sig.internal = _INTERNAL.search(normalized.strip()) is not None  # "@小李 …" counts
    sig.joke = _JOKE.search(whole) is not None
    sig.again = _AGAIN.search(whole) is not None
    sig.complaint = _COMPLAINT.search(whole) is not None
    sig.peer_gov = sig.peer and _GOV_MATTER.search(whole) is not None
    sig.flat = _FLAT.search(whole) is not None
    text, stickers = _blank(_STICKER, text)
    text, emoji = _blank(_EMOJI, text)
    sig.emoji = bool(stickers or emoji)
    cleaned: list[str] = []
    strong: set[str] = set()
    for clause in _CLAUSE_SPLIT.split(text):
        if not clause:
            continue
        if _ACK_CLAUSE.fullmatch(clause):
            sig.ack = True
            continue
        lead = _ACK_PREFIX.match(clause)
        if lead:
            sig.ack = True
            clause = " " * lead.end() + clause[lead.end() :]
        clause, thanks_at = _blank(_THANKS, clause)
        clause, closure = _blank(_CLOSURE, clause)
        clause, greeting = _blank(_GREETING, clause)
        clause, laugh = _blank(_LAUGH, clause)
        clause, notice = _blank(_NOTICE, clause)
        sig.thanks |= bool(thanks_at)
        sig.closure |= bool(closure)
        sig.greeting |= bool(greeting)
        sig.laugh |= bool(laugh)
        sig.notice |= bool(notice)
        sig.status |= _STATUS.search(clause) is not None
        for pattern in _CUES:
            strong.update(m.group() for m in pattern.finditer(clause))
        first_thanks = min(thanks_at, default=len(clause) + 1)
        sig.weak_live += sum(1 for m in _WEAK.finditer(clause) if m.start() < first_thanks)
        sig.weak_live += sum(1 for m in _CONTRAST.finditer(clause) if m.start() > first_thanks)
        if cleaned and (sig.thanks or sig.closure) and _CONTRAST.match(clause.lstrip()):
            sig.weak_live += 1
        cleaned.append(clause.strip())
    # a question mark counts as one question cue, unless a question word already did
    question = any(_QUESTION.fullmatch(cue) for cue in strong)
    sig.strong = len(strong) + ("?" in text and not question)
    sig.text = " ".join(c for c in cleaned if c)
    sig.chars = len(_WORD_CHAR.findall(sig.text))
    return sig


class KeywordClassifier:
    """Keyword routing plus cue-based request detection (see the module docstring).

    ``rules`` must hold exactly one catch-all rule. The category keywords are added to
    ``tokenizer`` (so build the classifier before sharing the tokenizer between threads).
    """

    def __init__(
        self,
        rules: Sequence[CategoryRule],
        tokenizer: Tokenizer,
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        catch_alls = [r for r in rules if r.catch_all]
        if len(catch_alls) != 1:
            raise ValueError(f"rules need exactly one catch-all rule, got {len(catch_alls)}")
        self.rules: tuple[CategoryRule, ...] = tuple(rules)
        self.catch_all = catch_alls[0]
        self.threshold = threshold
        self.tokenizer = tokenizer
        owners: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                word = normalize(keyword).strip()
                if word and index not in owners.setdefault(word, []):
                    owners[word].append(index)
        tokenizer.add_words(owners)
        # first character -> (keyword, owning rule indexes), longest keyword first
        self._by_first: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        for word in sorted(owners, key=lambda w: (-len(w), w)):
            self._by_first.setdefault(word[0], []).append((word, tuple(owners[word])))

    # ------------------------------------------------------------ routing

    def _category_scores(self, text: str) -> dict[int, float]:
        """Keyword score per rule index, for the cleaned, normalized text."""
        found: list[tuple[int, int, str, tuple[int, ...]]] = []
        for i, ch in enumerate(text):
            for word, owners in self._by_first.get(ch, ()):
                if text.startswith(word, i):
                    found.append((i, i + len(word), word, owners))
        if not found:
            return {}
        # Token boundaries, from cutting only the space-delimited chunks (clauses) that hold a
        # keyword: jieba never joins across whitespace, so this equals cutting the whole text.
        bounds: set[int] = set()
        chunks = set()
        for start, end, _, _ in found:
            chunk_end = text.find(" ", end)
            chunks.add((text.rfind(" ", 0, start) + 1, len(text) if chunk_end < 0 else chunk_end))
        for chunk_start, chunk_end in chunks:
            pos = chunk_start
            bounds.add(pos)
            for piece in self.tokenizer.cut(text[chunk_start:chunk_end]):
                pos += len(piece)
                bounds.add(pos)
        weights: dict[str, tuple[float, tuple[int, ...]]] = {}
        for start, end, word, owners in found:
            if any(s <= start and end <= e and e - s > end - start for s, e, _, _ in found):
                continue  # inside a longer matched keyword
            factor = 1.0 if start in bounds and end in bounds else SUBSTRING_FACTOR
            weight = _keyword_weight(word) * factor
            if weight > weights.get(word, (0.0, ()))[0]:
                weights[word] = (weight, owners)
        scores: dict[int, float] = {}
        for weight, owners in weights.values():
            for index in owners:
                scores[index] = scores.get(index, 0.0) + weight
        return scores

    def _suggestions(self, scores: dict[int, float]) -> tuple[Suggestion, ...]:
        total = sum(scores.values()) + NONE_MASS
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:3]
        return tuple(
            Suggestion(self.rules[i].code, self.rules[i].department, round(score / total, 4))
            for i, score in ranked
        )

    # ------------------------------------------------------------ detection

    def _request_logit(self, sig: _Signals, best: float) -> float:
        if sig.chars == 0:
            return -6.0
        weak = min(sig.weak_live * (0.5 if sig.ack else 1.0), 2.0)
        z = (
            _BIAS
            + _W_KEYWORD * min(best, 3.0)
            + _W_STRONG * min(sig.strong, 3)
            + _W_WEAK * weak
            + _length_term(sig.chars)
        )
        z += (
            _W_THANKS * sig.thanks
            + _W_ACK * sig.ack
            + _W_NOTICE * sig.notice
            + _W_CLOSURE * sig.closure
            + _W_GREETING * sig.greeting
            + _W_LAUGH * sig.laugh
            + _W_EMOJI * sig.emoji
        )
        if sig.strong == 0:
            z += _W_STATUS * sig.status
        live_cue = sig.strong > 0 or sig.weak_live > 0
        if sig.thanks and not live_cue:
            z = min(z, -1.5)  # pure thanks, even naming a department or a category
        elif best > 0 and live_cue:
            z = max(z, 0.5)  # a category keyword plus a need or problem
        return z

    # ------------------------------------------------------------ the interface

    def classify(self, text: str) -> Decision:
        sig = _signals(text)
        scores = self._category_scores(sig.text) if sig.chars else {}
        best = max(scores.values(), default=0.0)
        score = round(_sigmoid(self._request_logit(sig, best)), 4)
        top3 = self._suggestions(scores)
        if score < self.threshold:
            return Decision(False, score, None, None, 0.0, top3)
        if not top3:
            rule = self.catch_all
            top3 = (Suggestion(rule.code, rule.department, CATCH_ALL_CONFIDENCE),)
        first = top3[0]
        return Decision(True, score, first.category, first.department, first.score, top3)
