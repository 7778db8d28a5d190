"""Duplicate detection: does a new request repeat an open order? (pure: no database, no I/O)

A text becomes a :class:`Signature`. The text is cleaned (NFKC, lower case, ``@mentions``,
sticker codes like ``[强]`` and emoji removed) and synonyms get one spelling (没电 -> 停电,
天然气 -> 燃气, 工业园 -> 园区 …). Then: its content tokens (the shared jieba
:class:`~nlp.tokenizer.Tokenizer`, minus stopwords and request boilerplate such as "麻烦",
"什么时候", "上次"), their char bigrams and characters; the *places* it names, numbered ("3号路",
"a栋", "二期", "2号门", "b区", "东门", "1号仓库", "湘江路12号") or named ("湘江路", "纬三路",
"麓谷园区"); identifying numbers left over ("a102"); the *problems* it names (停电, 报装, 路灯,
井盖, 稳岗 … a fixed lexicon of 92 labels, some grouped in families such as 断网/网速 that
never conflict) and the *utilities* (电力, 供水, 燃气, 网络). Time words ("今天上午", "一上午",
"两点") are dropped from the content: they say when, not what.

:meth:`DuplicateFinder.compare` scores two signatures in 0..1:

* text similarity: ``W_TOKENS`` x weighted overlap of the tokens (labels and places count as
  extra tokens, weak words such as "问题" little) + ``W_BIGRAMS`` x overlap of the bigrams +
  ``W_CHARS`` x Jaccard of the characters; each overlap mixes Jaccard (Dice for bigrams) with
  containment in the shorter text (``W_CONTAINMENT``), so that a long follow-up of a short
  report still scores;
* bonuses: a shared problem (``BONUS_PROBLEM``, else a shared utility ``BONUS_UTILITY``), in full
  only when the texts share a place or some wording (``FULL_BONUS_SIMILARITY``); a shared place
  (``BONUS_PLACE``);
* conflicts, each a factor: a place of the same kind with another value ("3号路" vs "5号路":
  ``F_PLACE``; "湘江路" vs "创新路": ``F_NAMED_PLACE``), problems with none shared ("停电" vs
  "停水": ``F_PROBLEM``), utilities with none shared ("用电报装" vs "用水报装": ``F_UTILITY``),
  categories that differ (``F_CATEGORY``), numbers with none shared (``F_NUMBER``); and, when
  none of those fired, a *contrast* (``F_CONTRAST``): the two texts are the same but for one
  short replaced span ("稳岗补贴还没到账" vs "技改补贴还没到账").

:meth:`DuplicateFinder.find` links a request to the best open order of the *same* enterprise
scoring at least ``threshold``; :meth:`DuplicateFinder.cluster` lists orders of *other*
enterprises scoring at least ``cluster_threshold`` (the same road or power cut reported from
several groups). Orders created before ``now - window`` are ignored. ``find`` and ``cluster``
each apply their own enterprise filter, so the caller may pass all open orders or only the
relevant ones, and ``category=None`` (the request went to the catch-all/unsure queue) simply
skips the category conflict. Weights and thresholds were chosen on the tuning half of
``nlp/data/corpus/duplicate_pairs.tsv`` (5-fold cross-validation there, then ``--tune`` at
precision >= 0.97); figures for both halves come from ``bench/duplicates.py``.

Signatures of candidate texts are cached (bounded, keyed by text). A finder is safe to share
between threads once the tokenizer is fully built.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from nlp.tokenizer import Tokenizer, normalize

log = logging.getLogger(__name__)

# chosen by bench/duplicates.py --tune on the tuning half (best recall at precision >= 0.97)
DEFAULT_THRESHOLD = 0.3  # same enterprise
DEFAULT_CLUSTER_THRESHOLD = 0.425  # other enterprises
DEFAULT_WINDOW = timedelta(days=30)
CACHE_SIZE = 4096

# score weights and factors (tuned on the tuning half of the labelled pair set)
W_TOKENS = 0.4
W_BIGRAMS = 0.3
W_CHARS = 0.3
W_CONTAINMENT = 0.5  # share of containment (vs Jaccard/Dice) in the token and bigram overlaps
BONUS_PROBLEM = 0.25
BONUS_UTILITY = 0.1
BONUS_PLACE = 0.1
FULL_BONUS_SIMILARITY = 0.25  # 文本相似度 from which a shared label counts in full
F_PLACE = 0.1  # numbered places: "3号路" vs "5号路"
F_NAMED_PLACE = 0.2  # named places: "湘江路" vs "创新路" (names are guessed, so softer)
F_PROBLEM = 0.2
F_UTILITY = 0.2
F_CATEGORY = 0.6
F_NUMBER = 0.6
F_CONTRAST = 0.35  # a minimal pair: the same words but one ("稳岗补贴" vs "技改补贴")
LOW_WEIGHT = 0.25  # weight of a weak content word (see _WEAK_WORDS)
LABEL_WEIGHT = 1.5  # weight of a problem label or a place used as a token


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---------------------------------------------------------------- cleaning (as nlp.keywords)

_MENTION = re.compile(r"@[^\s@]{1,24}(?=\s|$)")
_STICKER = re.compile(r"\[[\u4e00-\u9fffa-z]{1,5}\]")
_EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f\u200d]")

# Request boilerplate: words that say *that* something is asked, not *what*. Dropped.
_BOILERPLATE = _words(
    """
    麻烦 协调 帮忙 帮助 帮 帮我 尽快 抓紧 赶紧 加快 请问 请 想 想问 问 问下 问一下 咨询 能否
    能不能 可否 可以 可不可以 能 要 需要 希望 什么 时候 什么时候 啥时候 何时 怎么 怎么办
    怎么回事 如何 怎样 吗 解决 处理 反映 反馈 一下 下 看看 看下 老师 领导 各位 您好 你好 谢谢
    感谢 辛苦 企业 服务 助手 企业服务助手 我们 我司 公司 本公司 厂里 这边 那边 今天 昨天 前天
    明天 现在 目前 刚才 早上 上午 中午 下午 晚上 一直 还 又 再 再次 仍然 依然 至今 还是 到现在
    进展 情况 事情 事 这个 那个 有没有 有 是 没 不 已 已经 了 呢 啊 吧 呀 哦 嗯 好 好的 收到
    跟进 催 催一下 落实 安排 人 来 去 多久 多长时间 几天 两天 三天 好几天 天 一天 上次 之前 上周
    这周 本周 说 讲 告诉 通知 帮忙看 支持 关注 请求 急 着急 哪里 哪儿 哪个 找谁 谁 知道 不知道
    上个月 这个月 本月 下个月 月 下周 今年 去年 明年 昨晚 今晚 夜里 凌晨 半天 一周 好久
    """
)
# Words that carry some topic but are common across unrelated requests: low weight.
_WEAK_WORDS = _words(
    """
    问题 影响 严重 正常 恢复 生产 工作 员工 工人 项目 工地 厂区 园区 厂房 门口 附近 旁边 这里
    那里 坏 坏了 不 没有 无法 不能 不了 太 很 非常 多 少 大 小 一些 申请 办理 手续 部门 材料
    尽早 及时
    """
)

# ---------------------------------------------------------------- synonyms

# one spelling for words that mean the same here (applied before everything else)
_SYNONYMS = {
    "天然气": "燃气", "煤气": "燃气", "燃汽": "燃气", "没电": "停电", "断电": "停电",
    "没有电": "停电", "没水": "停水", "断水": "停水", "没有水": "停水", "没气": "停气",
    "没网": "断网", "没有网": "断网", "网断了": "断网", "工业园": "园区", "产业园": "园区",
    "科技园": "园区", "信号灯": "红绿灯", "交通灯": "红绿灯", "坑坑洼洼": "坑洼",
    "厂区": "厂", "厂里": "厂", "大门口": "门口", "宿舍楼": "宿舍", "员工宿舍": "宿舍",
    "噪声": "噪音", "拖欠工资": "欠薪", "孩子": "子女", "上学": "入学", "摊贩": "摆摊",
    "图审": "施工图审查", "光缆": "光纤", "工业园区": "园区", "产业园区": "园区",
    "科技园区": "园区", "没电梯": "没电梯", "没有电梯": "没有电梯", "临电": "临时用电",
    "无线网络": "wifi", "无线网": "wifi", "安全预评价": "安评", "安全现状评价": "安评",
    "安全评价": "安评", "节能报告": "能评", "节能评估": "能评", "节能审查": "能评",
    "不动产权证": "不动产证", "信号塔": "基站", "塔机": "塔吊", "流浪猫": "流浪动物",
    "流浪狗": "流浪动物", "野狗": "流浪动物", "减速垄": "减速带", "首班车": "首班公交",
    "末班车": "末班公交", "搞不懂": "不懂", "弄不明白": "不懂",
}  # fmt: skip
_SYNONYM_RE = re.compile("|".join(sorted(map(re.escape, _SYNONYMS), key=len, reverse=True)))

# ---------------------------------------------------------------- problems

# label -> pattern over the cleaned text. A text may name several problems; two texts that both
# name problems but share none are about different problems.
_PROBLEMS: tuple[tuple[str, str], ...] = (
    # utilities
    ("停电", r"停电|断电|没电|没有电|跳闸|限电|停了电|电停了|来电|供电中断|供不上电|掉电"),
    (
        "停水",
        r"停水|断水|没水|没有水|水停了|供水中断|供水不足|来水|水压|水太小|水很小|不出水|上不去水",
    ),
    ("停气", r"停气|断气|没气|没有气|气停了|供气中断|燃气停"),
    (
        "断网",
        r"断网|没网|没有网|网断|网络中断|网络故障|上不了网|网络不通|掉线"
        r"|(?:网络|wifi|宽带).{0,6}(?:断|没恢复|不通|连不上)|连不上网",
    ),
    ("网速", r"网速"),
    (
        "报装",
        r"报装|装机|接入|接通|通气|接气|接水|接电|开户|增容|扩容|什么时候能通|还没通|送电|通电"
        r"|接上|送上",
    ),
    ("并网", r"并网|光伏"),
    ("水质", r"水质|发黄|黄水|铁锈|锈水|浑浊|(?:自来水|水龙头|水).{0,6}(?:怪味|有味|异味|味道|脏)"),
    ("双回路", r"双回路|双电源"),
    ("费用", r"电费|水费|气费|网费|费用|收费|太贵|价格|贵"),
    ("压力", r"电压|电流不稳|气压"),
    ("泄漏", r"漏水|爆管|水管破|水管爆|渗水|管道破裂|漏气|泄漏|燃气味|煤气味"),
    (
        "积水",
        r"积水|内涝|淹水|被淹|淹了|排水不畅|下水道|排水沟|排洪沟|管网堵|管堵|雨水管|排水管|雨水井"
        r"|漫出来|漫上来",
    ),
    ("信号", r"信号(?!灯)|基站"),
    # roads and public facilities
    ("路灯", r"路灯|盏灯|灯不亮|灯坏|没灯|没有灯|黑漆漆|漆黑|太黑"),
    ("红绿灯", r"红绿灯|信号灯|交通灯"),
    ("减速带", r"减速带"),
    ("井盖", r"井盖"),
    (
        "道路",
        r"道路|路面|坑洼|坑坑洼洼|修路|便道|临时道路|没有路|没路|路[太很好]?[烂破坏差]|路不好走|泥泞"
        r"|塌陷|压坏|[有大]坑|全是坑|坑很多|到处是坑|人行道|路砖|道砖|挖断|开挖|挖的沟|挖开",
    ),
    ("护栏", r"护栏|隔离栏"),
    ("斑马线", r"斑马线|人行横道"),
    ("道闸", r"道闸|门禁|闸机|栏杆"),
    ("停车", r"停车|车位|乱停|停满|占了路"),
    ("公交", r"公交|班车|通勤车|站牌|班次|坐不上车"),
    (
        "拥堵",
        r"拥堵|堵车|塞车|堵得|堵死|堵在|全堵|很堵|太堵|堵.{0,3}(?:小时|分钟)|疏导|早晚高峰"
        r"|下班高峰|上班高峰|一长串",
    ),
    ("限行", r"限行|禁行|禁停"),
    ("超速", r"开得太快|速度太快|开得飞快|飙车|乱窜|超速"),
    ("广告牌", r"广告牌|招牌|小广告"),
    ("围墙", r"围墙|围挡"),
    ("公厕", r"公厕|厕所"),
    ("绿化", r"绿化|树木|倒树|树倒|树枝|大树|那棵树|倒的树|修剪|杂草|草坪"),
    ("流浪动物", r"流浪动物|咬人|咬伤"),
    ("占道", r"占道|摆摊|摊贩|摊位|摊子|[早餐小吃水果夜宵烧烤]{1,2}摊"),
    # environment
    (
        "噪音",
        r"噪音|噪声|扰民|太吵|很吵|吵得|吵死|打桩|夜间施工|晚上施工|半夜施工|夜里施工|睡不着|没法睡"
        r"|施工到(?:凌晨|半夜|深夜)|干到.{0,3}点",
    ),
    ("垃圾", r"垃圾|清运"),
    ("焚烧", r"焚烧|烧垃圾|烧东西|烧废|浓烟|烟很大"),
    ("土方", r"土方|渣土|撒土|撒泥|遗撒|拉土|消纳"),
    ("危废", r"危废|危险废物"),
    ("异味", r"异味|臭味|发臭|又黑又臭|刺鼻|难闻|恶臭|臭气|反味|返味|臭水|黑臭|很臭|太臭"),
    ("河道", r"河道|河水|河沟|臭水河|那条河|水塘|池塘"),
    ("扬尘", r"扬尘|粉尘|灰尘|灰大"),
    ("污水", r"污水|偷排|排污|废水|化粪池"),
    ("危化品", r"危化品|危险化学品"),
    # safety and order
    ("消防通道", r"消防通道|安全通道|疏散通道"),
    ("消防设施", r"消火栓|消防栓|灭火器|喷淋|烟感|消防设施|消防水|报警器"),
    ("消防验收", r"消防验收|消防审查|消防备案|消防设计"),
    ("人防", r"人防"),
    ("火情", r"冒烟|起火|着火|火灾"),
    ("安全事故", r"安全事故|事故"),
    ("被盗", r"被盗|被偷|盗窃|偷盗|小偷|偷了|剪走"),
    ("阻工", r"堵门|堵着|阻工|强行包|强揽|闹事|强买|强卖|强行|不买就|霸市"),
    ("诈骗", r"诈骗|冒充|被骗|骗子"),
    ("赌博", r"赌博|赌钱|打牌"),
    ("监控", r"监控"),
    ("电梯", r"电梯"),
    ("叉车", r"叉车"),
    ("塔吊", r"塔吊|吊车|起重机"),
    ("空调", r"空调"),
    ("热水", r"热水"),
    # people
    ("社保", r"社保|养老保险"),
    ("医保", r"医保"),
    ("体检", r"体检"),
    ("公积金", r"公积金"),
    ("工伤", r"工伤"),
    ("招工", r"招工|用工|招聘|缺工|普工|操作工|缺人|招人"),
    ("欠薪", r"欠薪|拖欠工资|工资"),
    ("仲裁", r"仲裁"),
    ("入学", r"入学|上学|学位"),
    # money
    ("补贴", r"补贴|奖补|扶持资金|专项资金|兑现|奖励"),
    ("稳岗", r"稳岗"),
    ("技改", r"技改"),
    ("研发", r"研发费用|加计扣除"),
    ("专精特新", r"专精特新"),
    ("高企", r"高企|高新技术企业"),
    ("融资", r"融资|贷款|贴息|担保"),
    # approvals
    ("施工许可", r"施工许可"),
    ("施工图", r"施工图|图审"),
    ("项目备案", r"项目备案|备案证|投资备案|立项"),
    ("竣工验收", r"竣工验收|竣工备案|联合验收|质监站"),
    ("规划", r"规划|多规合一"),
    ("环评", r"环评|环境影响评价"),
    ("安评", r"安评|安全评价|预评价"),
    ("能评", r"能评|节能"),
    ("排污许可", r"排污许可|排污证"),
    ("不动产", r"不动产|产权证|房产证|土地证"),
    ("营业执照", r"营业执照|执照"),
    ("应急预案", r"应急预案"),
    ("到期", r"到期|过期|续期|延续"),
    ("年检", r"年检|检验|检定"),
    ("清表", r"清表|净地|三通一平"),
    ("迁坟", r"坟|墓"),
    ("材料", r"材料不全|缺.{0,4}材料|补.{0,2}材料|缺什么|补正|退件|跑了.{0,2}趟"),
)
# utility -> pattern: "用电报装" and "用水报装" are different requests
_UTILITIES: tuple[tuple[str, str], ...] = (
    (
        "电力",
        r"停电|断电|没电|没有电|来电|供电|用电|电费|电压|电表|变压器|配电|跳闸|电力|电缆|增容|临电"
        r"|临时用电",
    ),
    ("供水", r"停水|断水|没水|没有水|来水|供水|用水|水费|水表|水压|自来水|水管|爆管|接水"),
    ("燃气", r"燃气|天然气|煤气|停气|供气|用气|通气|接气|气压|液化气|漏气|气费"),
    ("网络", r"宽带|网络|断网|没网|网速|光纤|专线|网费|装机|wifi"),
)
# problems close enough that naming one and not the other is no conflict ("网速慢" vs "掉线")
_PROBLEM_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"断网", "网速", "信号"}),
    frozenset({"停水", "水质"}),
    frozenset({"积水", "污水"}),
    frozenset({"异味", "污水", "河道"}),
    frozenset({"噪音", "土方"}),
    frozenset({"停车", "拥堵", "占道"}),
)
_UTILITY_RES = tuple((label, re.compile(p)) for label, p in _UTILITIES)
_PROBLEM_RES = tuple((label, re.compile(p)) for label, p in _PROBLEMS)

# ---------------------------------------------------------------- places

_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_NUM = r"[0-9]+|[零〇一二两三四五六七八九十百]+"
_ID = rf"(?:{_NUM}|[a-z])"
_NOT_AFTER_ALNUM = r"(?<![0-9a-z])"

# (kind, pattern with one group: the identifier), tried in order; a match blanks its span so that
# "3号楼" is not also read as floor 3.
_NUMBERED: tuple[tuple[str, str], ...] = (
    ("路", rf"{_NOT_AFTER_ALNUM}({_ID})\s*号\s*(?:路|街|道|大道|大街)(?!灯|口|面|由)"),
    ("号线", rf"{_NOT_AFTER_ALNUM}({_ID})\s*号线"),
    ("栋", rf"{_NOT_AFTER_ALNUM}({_ID})\s*(?:号楼|号栋|栋|幢|座|号办公楼|号宿舍楼)"),
    ("厂房", rf"{_NOT_AFTER_ALNUM}({_ID})\s*号?\s*(?:厂房|车间)"),
    ("仓库", rf"{_NOT_AFTER_ALNUM}({_ID})\s*号?\s*(?:仓库|库房|仓)"),
    ("门", rf"{_NOT_AFTER_ALNUM}({_ID})\s*号?\s*(?:门|大门|门岗)(?!口)"),
    ("门", r"([东南西北]|东南|东北|西南|西北|正|侧|后)(?:大)?门(?:口|岗)?"),
    ("区", r"(?<![东南西北])(东|南|西|北|东南|东北|西南|西北)(?:区|片区|片)"),
    ("方位", r"(?<![东南西北])(东|南|西|北)(?:边|侧|面)(?![积])"),
    ("期", rf"{_NOT_AFTER_ALNUM}({_NUM})\s*期"),
    ("区", rf"{_NOT_AFTER_ALNUM}([a-z]|[0-9]+)\s*区"),
    ("地块", rf"{_NOT_AFTER_ALNUM}({_ID})\s*号?\s*地块"),
    ("单元", rf"{_NOT_AFTER_ALNUM}({_NUM})\s*单元"),
    ("层", rf"{_NOT_AFTER_ALNUM}({_NUM})\s*(?:层|楼)(?![上下道梯房顶])"),
    ("室", rf"{_NOT_AFTER_ALNUM}([0-9]+)\s*(?:室|房间?)"),
    ("门牌", r"(?<=[路街道])\s*([0-9]+)\s*号(?![楼路栋线仓厂车地]|门(?!口))"),
)
_NUMBERED_RES = tuple((kind, re.compile(p)) for kind, p in _NUMBERED)
# how a numbered place is shown (and compared): kind -> format of the identifier
_PLACE_FORMAT = {
    "路": "{}号路", "号线": "{}号线", "厂房": "{}号厂房", "仓库": "{}号仓库", "门": "{}号门",
    "地块": "{}号地块", "门牌": "{}号", "方位": "{}边",
}  # fmt: skip
_PLACE_SUFFIX = ("大道", "大街", "路", "街", "巷")
_AREA_SUFFIX = (
    ("园", ("产业园", "工业园", "科技园", "创业园", "物流园", "园区")),
    ("区", ("开发区", "高新区", "经开区", "新区", "片区", "示范区", "保税区")),
    ("小区", ("小区", "花园", "家园", "公寓", "新城", "新村")),
    ("站", ("地铁站", "公交站", "火车站", "高铁站", "汽车站")),
    ("学校", ("学校", "小学", "中学", "幼儿园", "大学", "学院")),
    ("医院", ("医院", "卫生院")),
    ("村", ("村",)),
    ("社区", ("社区",)),
    ("大厦", ("大厦", "大楼")),
    ("广场", ("广场",)),
    ("市场", ("市场",)),
    ("基地", ("基地",)),
)
# generic words ending like a named area: never a place, never the suffix of one
_GENERIC_AREAS = _words("学校 小学 中学 大学 学院 幼儿园 医院 卫生院 花园 家园 公寓 新城 新村")
_STATIONS = _words("地铁站 公交站 火车站 高铁站 汽车站")
# words ending like a place name that are not one
_NOT_PLACE = _words(
    """
    道路 马路 公路 铁路 线路 电路 回路 双回路 思路 出路 通路 门路 水路 管路 网路 进路 修路 走路
    一路 路路 园区 产业园 工业园 科技园 物流园 创业园 开发区 高新区 新区 片区 小区 社区 厂区 园
    区 街 路 巷 村 农村 新村 大厦 大楼 广场 市场 基地 新基地 大道 大街 街道 老街 这条路 那条路
    主路 辅路 小路 大路 断路 短路 套路 上路 在路 山路 土路 便道 全村 本村
    """
)
_ROADS = ("道路", "马路", "公路", "铁路", "线路", "电路", "回路", "便道", "通道", "街道")
MAX_NAME = 4
_ORDINAL_ROAD = re.compile(r"[一二三四五六七八九十]+路")  # "纬" + "三路"
# characters that never start or continue an unknown place name
_NOT_NAME_CHARS = frozenset(
    "的了在是个条那这有没从到往向去来上下里边旁近和与及或区园路街号栋楼门期省市县镇乡"
)
# tokens that end a road name but are never its first part
_NOT_NAME = _words(
    """
    没有 没 有 修 一条 这条 那条 条 的 这 那 在 到 从 往 出 进 上 下 新 老 主 小 大 门口 旁边
    附近 临时 施工 进厂 进出 厂区 园区 一 个 整条 条条 半边 半条 一半 两边 路边 马路边
    """
)

_FREE_NUMBER = re.compile(r"(?<![0-9a-z.])([0-9]{2,}|[a-z]+[0-9]+[a-z0-9]*)(?![0-9])")
_NOT_ID_AFTER = re.compile(
    r"\s*(?:天|日|号|月|年|点|时|:|小时|分|周|个|次|元|块|万|千|百|亿|人|名|米|公里|吨|度|kv|千伏"
    r"|平|亩|%|台|辆|户|家|多|余|左右|w|k|m)"
)
# time expressions say when, not what ("今天上午", "一上午", "两点", "三个月"): dropped
_TIME_TOKEN = re.compile(
    r"(?:[0-9一两二三四五六七八九十半几多]+|这|那|每)*(?:个)?"
    r"(?:[今昨前明后]天|[今昨前]晚|上午|下午|中午|早上|晚上|凌晨|半夜|夜里|深夜|白天|整天|点钟?|小时"
    r"|分钟|星期|礼拜|周|月|天|年|号|日)+(?:多|左右|以后|以前|之前|之后|以来)?"
)
_WORD_CHARS = re.compile(r"[\u4e00-\u9fffa-z0-9]+")
# characters that say little on their own (ignored in character overlap and contrasts)
_FUNCTION_CHARS = frozenset("大小那这个根几些一有没不了的也还又都很太是在被把给就到")
CONTRAST_SPAN = 6
CONTRAST_SLACK = 2
CONTRAST_BALANCE = 3


def _cn_number(text: str) -> int | None:
    """A Chinese numeral's value: "三" 3, "十二" 12, "二十" 20, "一百零五" 105, "一零一" 101."""
    if not text or any(ch not in _CN_DIGITS and ch not in "十百" for ch in text):
        return None
    if "十" not in text and "百" not in text:
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = 0
    current = 0
    for ch in text:
        if ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def _ident(raw: str) -> str:
    """Canonical identifier: digits without leading zeros, Chinese numerals as digits."""
    raw = raw.strip()
    if raw.isdigit():
        return str(int(raw))
    value = _cn_number(raw)
    return str(value) if value is not None else raw


@dataclass(frozen=True)
class Place:
    """A place named in a text: a kind ("栋", "路", "门", "园" …) and a value ("a栋", "湘江路")."""

    kind: str
    value: str
    numbered: bool  # "3号路", "a栋" (a conflict on these is certain); else a name ("湘江路")


@dataclass(frozen=True)
class Signature:
    """What :meth:`DuplicateFinder.compare` needs of a text; precompute it per order."""

    text: str  # cleaned, normalized text
    content: str  # the content tokens, in order, joined
    tokens: frozenset[str]  # content tokens (without numbered places)
    bigrams: frozenset[str]  # char bigrams of the content tokens
    chars: frozenset[str]  # content characters (without function characters)
    places: frozenset[Place]
    numbers: frozenset[str]  # identifying numbers not part of a place ("12345", "a3")
    problems: frozenset[str]  # problem labels ("停电", "路灯", "报装" …)
    utilities: frozenset[str]  # "电力", "供水", "燃气", "网络"


@dataclass(frozen=True)
class Candidate:
    """An open order to compare a new request with."""

    key: str  # the order number
    text: str
    enterprise: str | None
    category: str | None
    created_at: datetime


@dataclass(frozen=True)
class Match:
    """An open order that a request repeats (``find``) or parallels (``cluster``)."""

    key: str
    score: float  # 0..1
    same_enterprise: bool
    reasons: tuple[str, ...]  # e.g. ("同一地点：3号路", "文本相似度 0.82")


@dataclass(frozen=True)
class Comparison:
    """The score of two signatures and why."""

    score: float
    text_similarity: float
    shared_places: tuple[str, ...]
    shared_problems: tuple[str, ...]
    shared_utilities: tuple[str, ...]
    conflicts: tuple[str, ...]  # e.g. ("地点不同：3号路/5号路",)

    def reasons(self) -> tuple[str, ...]:
        out = [f"同一地点：{p}" for p in self.shared_places]
        out += [f"同一问题：{p}" for p in self.shared_problems]
        out += [f"同一设施：{u}" for u in self.shared_utilities]
        out.append(f"文本相似度 {self.text_similarity:.2f}")
        out += list(self.conflicts)
        return tuple(out)


def clean(text: str) -> str:
    """Normalized text without @mentions, sticker codes and emoji."""
    text = _MENTION.sub(" ", normalize(text))
    text = _STICKER.sub(" ", text)
    return _EMOJI.sub(" ", text)


def canonical(text: str) -> str:
    """:func:`clean` text with synonyms replaced by one spelling ("没电" -> "停电")."""
    return _SYNONYM_RE.sub(lambda m: _SYNONYMS[m.group()], clean(text))


def _place_kind(piece: str) -> str | None:
    """The kind of place a token names or ends ("路", "园" …), None for other tokens."""
    if piece.endswith(_ROADS) or piece in _GENERIC_AREAS:
        return None
    if piece.endswith(_PLACE_SUFFIX):
        return "路"
    for kind, suffixes in _AREA_SUFFIX:
        if piece.endswith(suffixes):
            return kind
    return None


def _blank_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


class DuplicateFinder:
    """Scores request texts against open orders (see the module docstring)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD,
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        if not 0.0 <= threshold <= 1.0 or not 0.0 <= cluster_threshold <= 1.0:
            raise ValueError("thresholds must be in 0..1")
        if window < timedelta(0):
            raise ValueError("window must not be negative")
        self.tokenizer = tokenizer
        self.threshold = threshold
        self.cluster_threshold = cluster_threshold
        self.window = window
        self._cache: dict[str, Signature] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ signatures

    def signature(self, text: str) -> Signature:
        """Tokens, bigrams, places, numbers and problems of ``text``."""
        cleaned = canonical(text)
        places, rest, pieces = self._places(cleaned)
        numbers = self._numbers(rest)
        problems = frozenset(label for label, rx in _PROBLEM_RES if rx.search(cleaned))
        utilities = frozenset(label for label, rx in _UTILITY_RES if rx.search(cleaned))
        tokens: list[str] = []
        stopwords = self.tokenizer.stopwords
        # the pieces of ``rest`` as Tokenizer.tokens would give them (one jieba cut, not two)
        for token in pieces:
            if not any(ch.isalnum() for ch in token) or token in stopwords:
                continue
            if token in _BOILERPLATE or token.isdigit() or _TIME_TOKEN.fullmatch(token):
                continue
            tokens.append(token)
        joined = "".join(tokens)
        bigrams = frozenset(joined[i : i + 2] for i in range(len(joined) - 1))
        content = "".join(
            t
            for t in self.tokenizer.tokens(cleaned)
            if t not in _BOILERPLATE and not _TIME_TOKEN.fullmatch(t)
        )
        return Signature(
            text=" ".join(_WORD_CHARS.findall(cleaned)),
            content=content,
            tokens=frozenset(tokens),
            bigrams=bigrams,
            chars=frozenset(content) - _FUNCTION_CHARS,
            places=places,
            numbers=numbers,
            problems=problems,
            utilities=utilities,
        )

    def _places(self, text: str) -> tuple[frozenset[Place], str, list[str]]:
        """Places named in cleaned ``text``, the text with numbered places blanked out, and
        that text's jieba pieces."""
        found: set[Place] = set()
        for kind, rx in _NUMBERED_RES:
            spans = []
            for m in rx.finditer(text):
                ident = _ident(m.group(1))
                fmt = _PLACE_FORMAT.get(kind, "{}" + kind)
                fmt = "{}门" if kind == "门" and not ident.isdigit() else fmt
                found.add(Place(kind, fmt.format(ident), numbered=True))
                spans.append(m.span())
            text = _blank_spans(text, spans)
        cut = self.tokenizer.cut(text)
        pieces = [p for p in cut if p.strip()]
        for i, piece in enumerate(pieces):
            if piece == "路口":  # "创新" "路口": the road "创新路"
                piece = "路"
            named = _place_kind(piece)
            if named is None:
                continue
            if piece not in _NOT_PLACE and piece not in _STATIONS and len(piece) >= 3:
                found.add(Place(named, piece, numbered=False))  # one token: "湘江路", "天心区"
                continue
            name = self._name_before(pieces, i, short=_ORDINAL_ROAD.fullmatch(piece) is not None)
            if not name and piece == "大道" and i > 0 and pieces[i - 1] in ("园区", "厂区"):
                name = pieces[i - 1]  # "园区大道" is a road's name
            if name:
                found.add(Place(named, name + piece, numbered=False))  # "麓" "谷" + "产业园"
        return frozenset(found), text, cut

    def _name_before(self, pieces: list[str], end: int, *, short: bool = False) -> str:
        """The proper name ending just before ``pieces[end]`` ("湘江" in "湘江路"), or "".
        ``short`` allows a one-character name ("纬" in "纬三路")."""
        name = ""
        for piece in reversed(pieces[:end]):
            if not all("\u4e00" <= ch <= "\u9fff" for ch in piece) or self._not_name(piece):
                break
            if len(piece) > 1:
                if not name:
                    name = piece  # a known word: the whole name
                break
            name = piece + name  # unknown names come as single characters: "麓" "谷"
            if len(name) >= MAX_NAME:
                break
        return name if len(name) >= (1 if short else 2) else ""

    def _not_name(self, piece: str) -> bool:
        return (
            piece in _NOT_NAME
            or piece in _NOT_PLACE
            or piece in _BOILERPLATE
            or piece in _WEAK_WORDS
            or piece in self.tokenizer.stopwords
            or _place_kind(piece) is not None
            or (len(piece) == 1 and piece in _NOT_NAME_CHARS)
        )

    @staticmethod
    def _numbers(text: str) -> frozenset[str]:
        out = set()
        for m in _FREE_NUMBER.finditer(text):
            if _NOT_ID_AFTER.match(text, m.end()):
                continue
            out.add(m.group(1).lstrip("0") or "0")
        return frozenset(out)

    def _cached(self, text: str) -> Signature:
        sig = self._cache.get(text)
        if sig is None:
            sig = self.signature(text)
            with self._lock:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[text] = sig
        return sig

    # ------------------------------------------------------------ scoring

    def compare(
        self,
        a: Signature,
        b: Signature,
        category_a: str | None = None,
        category_b: str | None = None,
    ) -> Comparison:
        """Score two signatures in 0..1, with the shared places/problems and the conflicts."""
        text_sim = (
            W_TOKENS * _weighted_jaccard(_features(a), _features(b))
            + W_BIGRAMS * _dice(a.bigrams, b.bigrams)
            + W_CHARS * _jaccard(a.chars, b.chars)
        )
        shared_places = sorted(p.value for p in a.places & b.places)
        shared_problems = sorted(a.problems & b.problems)
        shared_utilities = sorted(a.utilities & b.utilities)
        # a shared label counts in full only with some shared wording, or a shared place: two
        # noise complaints about different sites share "噪音" and little else
        support = 1.0 if shared_places else min(1.0, text_sim / FULL_BONUS_SIMILARITY)
        score = text_sim
        if shared_problems:
            score += BONUS_PROBLEM * support
        elif shared_utilities:
            score += BONUS_UTILITY * support
        if shared_places:
            # the same place with nothing else in common is not the same request ("C栋电梯坏了",
            # "C栋空调坏了"): the full bonus needs a shared problem or utility
            score += BONUS_PLACE if shared_problems or shared_utilities else BONUS_PLACE / 2
        conflicts = _conflicts(a, b, category_a, category_b)
        for _, factor in conflicts:
            score *= factor
        return Comparison(
            score=round(min(max(score, 0.0), 1.0), 4),
            text_similarity=round(text_sim, 4),
            shared_places=tuple(shared_places),
            shared_problems=tuple(shared_problems),
            shared_utilities=tuple(shared_utilities),
            conflicts=tuple(reason for reason, _ in conflicts),
        )

    def similarity(self, a: str, b: str) -> float:
        """The duplicate score of two texts in 0..1 (no categories)."""
        return self.compare(self._cached(a), self._cached(b)).score

    # ------------------------------------------------------------ the interface

    def _scored(
        self,
        text: str,
        enterprise: str | None,
        category: str | None,
        now: datetime,
        candidates: Sequence[Candidate],
        *,
        same: bool,
        threshold: float,
    ) -> list[Match]:
        sig = self._cached(text)
        matches = []
        for cand in candidates:
            is_same = enterprise is not None and cand.enterprise == enterprise
            if is_same != same or not _within(cand.created_at, now, self.window):
                continue
            result = self.compare(sig, self._cached(cand.text), category, cand.category)
            if result.score >= threshold:
                matches.append(Match(cand.key, result.score, is_same, result.reasons()))
        matches.sort(key=lambda m: (-m.score, m.key))
        return matches

    def find(
        self,
        text: str,
        enterprise: str | None,
        category: str | None,
        now: datetime,
        candidates: Sequence[Candidate],
    ) -> Match | None:
        """The open order of the same enterprise that ``text`` repeats (best score), or None.

        "Same enterprise" means equal, non-None ``enterprise``; with ``enterprise=None`` nothing
        is linked (everything goes to :meth:`cluster`). Ties go to the smaller key.
        """
        matches = self._scored(
            text, enterprise, category, now, candidates, same=True, threshold=self.threshold
        )
        if matches:
            log.debug("duplicate of %s: %s", matches[0].key, matches[0].reasons)
        return matches[0] if matches else None

    def cluster(
        self,
        text: str,
        enterprise: str | None,
        category: str | None,
        now: datetime,
        candidates: Sequence[Candidate],
    ) -> list[Match]:
        """Open orders of *other* enterprises about the same problem, best first."""
        return self._scored(
            text,
            enterprise,
            category,
            now,
            candidates,
            same=False,
            threshold=self.cluster_threshold,
        )


def _within(created_at: datetime, now: datetime, window: timedelta) -> bool:
    if (created_at.tzinfo is None) != (now.tzinfo is None):
        tz = now.tzinfo or created_at.tzinfo
        created_at, now = created_at.replace(tzinfo=tz), now.replace(tzinfo=tz)
    return now - created_at <= window


def _conflicts(
    a: Signature, b: Signature, category_a: str | None, category_b: str | None
) -> list[tuple[str, float]]:
    """What tells two texts apart, with the factor each applies to the score."""
    out: list[tuple[str, float]] = []
    for kind, numbered in sorted({(p.kind, p.numbered) for p in a.places}):
        va = {p.value for p in a.places if p.kind == kind and p.numbered == numbered}
        vb = {p.value for p in b.places if p.kind == kind and p.numbered == numbered}
        if vb and not va & vb:
            reason = f"地点不同：{_join(va)}≠{_join(vb)}"
            out.append((reason, F_PLACE if numbered else F_NAMED_PLACE))
    if a.problems and b.problems and not a.problems & b.problems and not _related(a, b):
        out.append((f"问题不同：{_join(a.problems)}≠{_join(b.problems)}", F_PROBLEM))
    if a.utilities and b.utilities and not a.utilities & b.utilities:
        out.append((f"设施不同：{_join(a.utilities)}≠{_join(b.utilities)}", F_UTILITY))
    if category_a and category_b and category_a != category_b:
        out.append((f"类别不同：{category_a}≠{category_b}", F_CATEGORY))
    if a.numbers and b.numbers and not a.numbers & b.numbers:
        out.append((f"编号不同：{_join(a.numbers)}≠{_join(b.numbers)}", F_NUMBER))
    if not out:
        # between texts naming the very same problems, a differing ending is what is said of
        # the problem ("井盖丢了" vs "井盖还没补上"); only a slot inside counts ("冒充管委会诈骗"
        # vs "冒充客户诈骗")
        contrast = _contrast(
            a.content, b.content, inside=bool(a.problems) and a.problems == b.problems
        )
        if contrast:
            out.append((f"细节不同：{contrast[0]}≠{contrast[1]}", F_CONTRAST))
    return out


def _contrast(a: str, b: str, *, inside: bool = False) -> tuple[str, str] | None:
    """The one thing two near-identical texts disagree on, if that is all that differs.

    "稳岗补贴还没到账" vs "技改补贴还没到账" -> ("稳岗", "技改"): the content strings align except
    for one replaced span of at most ``CONTRAST_SPAN`` characters a side (give or take
    ``CONTRAST_SLACK`` other characters), and neither span's characters contain the other's
    ("大树枝" vs "树枝" is no contrast). Follow-ups that add words are insertions, not contrasts.
    With ``inside``, a span that ends either text does not count.
    """
    if not a or not b or a == b:
        return None
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    equal = sum(block.size for block in matcher.get_matching_blocks())
    if equal == 0:
        return None
    differing = len(a) + len(b) - 2 * equal
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace" or i2 - i1 > CONTRAST_SPAN or j2 - j1 > CONTRAST_SPAN:
            continue
        if abs((i2 - i1) - (j2 - j1)) > CONTRAST_BALANCE:
            continue  # "气" vs "中午饭做不了": an added clause, not a substitution
        if inside and (i2 == len(a) or j2 == len(b)):
            continue
        if differing - (i2 - i1) - (j2 - j1) > CONTRAST_SLACK:
            continue
        sa, sb = set(a[i1:i2]) - _FUNCTION_CHARS, set(b[j1:j2]) - _FUNCTION_CHARS
        if sa and sb and not sa <= sb and not sb <= sa:
            return a[i1:i2], b[j1:j2]
    return None


def _related(a: Signature, b: Signature) -> bool:
    """Do the two texts name problems of one family (see ``_PROBLEM_FAMILIES``)?"""
    return any(a.problems & family and b.problems & family for family in _PROBLEM_FAMILIES)


def _join(values: Iterable[str]) -> str:
    return "/".join(sorted(values))


def _features(sig: Signature) -> dict[str, float]:
    out = {t: (LOW_WEIGHT if t in _WEAK_WORDS else 1.0) for t in sig.tokens}
    for label in sig.problems:
        out[f"problem:{label}"] = LABEL_WEIGHT
    for label in sig.utilities:
        out[f"utility:{label}"] = LABEL_WEIGHT
    for place in sig.places:
        out[f"place:{place.value}"] = LABEL_WEIGHT
    return out


def _weighted_jaccard(a: dict[str, float], b: dict[str, float]) -> float:
    """Weighted Jaccard mixed with weighted containment (shared weight over the smaller side's),
    so that a follow-up that repeats a short report and adds a lot still scores."""
    if not a or not b:
        return 0.0
    # summed in sorted order: the same float whatever the process's hash seed
    shared = sum(min(a[k], b[k]) for k in sorted(a.keys() & b.keys()))
    wa, wb = sum(sorted(a.values())), sum(sorted(b.values()))
    total = wa + wb - shared
    jaccard = shared / total if total else 0.0
    smaller = min(wa, wb)
    contained = shared / smaller if smaller else 0.0
    return (1 - W_CONTAINMENT) * jaccard + W_CONTAINMENT * contained


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice mixed with containment (see :func:`_weighted_jaccard`)."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    dice = 2 * shared / (len(a) + len(b))
    return (1 - W_CONTAINMENT) * dice + W_CONTAINMENT * shared / min(len(a), len(b))


# ---------------------------------------------------------------- labelled pairs (evaluation)

PAIR_LABELS = ("duplicate", "near_miss", "unrelated")
_TRUE = frozenset({"1", "true", "yes", "y", "same", "是"})


@dataclass(frozen=True)
class LabelledPair:
    """One line of ``nlp/data/corpus/duplicate_pairs.tsv``."""

    label: str  # duplicate / near_miss / unrelated
    text_a: str
    text_b: str
    same_enterprise: bool
    line: str  # the raw line (its hash decides the tuning/held-out half)

    @property
    def positive(self) -> bool:
        return self.label == "duplicate"

    @property
    def held_out(self) -> bool:
        """True for the half never tuned on: a stable hash of the line, not Python's hash()."""
        return hashlib.sha256(self.line.encode("utf-8")).digest()[0] % 2 == 1


def parse_pairs(text: str) -> list[LabelledPair]:
    """``label<TAB>text_a<TAB>text_b<TAB>same_enterprise`` lines; ``#`` comments, blank lines and
    a ``label`` header line are skipped. Raises ValueError on a malformed line."""
    pairs = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if fields[0].strip().lower() == "label":
            continue
        if len(fields) != 4 or fields[0].strip() not in PAIR_LABELS:
            raise ValueError(f"line {number}: expected label<TAB>text_a<TAB>text_b<TAB>same")
        label, a, b, same = (f.strip() for f in fields)
        pairs.append(LabelledPair(label, a, b, same.lower() in _TRUE, line))
    return pairs


@dataclass(frozen=True)
class Scores:
    """Precision and recall of ``duplicate`` against the other labels."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_pairs(
    scored: Iterable[tuple[LabelledPair, float]], threshold: float, cluster_threshold: float
) -> Scores:
    """Count a pair as linked when its score reaches the threshold ``find`` (same enterprise)
    or ``cluster`` (other enterprises) would use."""
    tp = fp = fn = tn = 0
    for pair, score in scored:
        linked = score >= (threshold if pair.same_enterprise else cluster_threshold)
        if pair.positive:
            tp += linked
            fn += not linked
        else:
            fp += linked
            tn += not linked
    return Scores(tp, fp, fn, tn)
