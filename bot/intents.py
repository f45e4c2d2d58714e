"""From a WeChat message or event to an Intent: menu keys, typed words in Chinese and English,
digits in a numbered menu, spoken words through WeChat's speech recognition."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from wechatpy import events, messages

from models.codes import PAPER_PREFIX
from models.displays import SCREEN_CODE_PREFIX
from models.numbers import small_number

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intent:
    name: str
    arg: str | None = None

    def as_list(self) -> list[str | None]:
        return [self.name, self.arg]

    @classmethod
    def from_list(cls, value: list[str | None]) -> Intent:
        return cls(value[0] or "HELP", value[1] if len(value) > 1 else None)


# The menu keys of design.md; the menu file uses exactly these.
MENU_KEYS = (
    "COURSES", "MY_VOUCHERS", "CHECKIN", "SUBSIDY", "PROFILE", "REDEEM", "CADRE", "LANGUAGE",
)

# The numbered main menu: digit n means MAIN_MENU[n - 1] when no other list is on screen.
MAIN_MENU = ("COURSES", "MY_VOUCHERS", "CHECKIN", "SUBSIDY", "PROFILE", "LANGUAGE")

# Typed (or spoken) words, lower-cased and stripped of punctuation.
WORDS: dict[str, Intent] = {
    **{w: Intent("COURSES") for w in (
        "课程", "课", "找课", "找课程", "查课程", "培训", "培训班", "course", "courses",
        "classes", "class", "training")},
    **{w: Intent("NEXT") for w in ("下一页", "下页", "更多", "next", "more", "n", "+")},
    **{w: Intent("HELP") for w in (
        "帮助", "菜单", "主菜单", "你好", "您好", "在吗", "help", "menu", "hi", "hello", "?")},
    **{w: Intent("LANGUAGE") for w in ("语言", "切换语言", "language", "lang")},
    **{w: Intent("SET_LANGUAGE", "en") for w in ("english", "英文", "英语", "en")},
    **{w: Intent("SET_LANGUAGE", "zh_Hans_CN") for w in ("中文", "汉语", "chinese", "zh")},
    **{w: Intent("MY_VOUCHERS") for w in (
        "培训券", "我的培训券", "券", "我的券", "voucher", "vouchers", "my vouchers")},
    **{w: Intent("CHECKIN") for w in ("签到", "扫码签到", "check in", "checkin", "check-in")},
    **{w: Intent("SUBSIDY") for w in ("补贴", "查补贴", "subsidy", "subsidies")},
    **{w: Intent("PROFILE") for w in ("我的资料", "资料", "我的", "个人信息", "profile", "me")},
    **{w: Intent("CADRE") for w in ("村干部", "干部", "cadre")},
    **{w: Intent("REDEEM") for w in ("核销", "扫券", "redeem")},
    **{w: Intent("REGISTER") for w in (
        "注册", "登记", "报名", "我要报名", "register", "sign up", "signup")},
    **{w: Intent("NEIGHBOUR") for w in ("代报名", "帮邻居报名", "register neighbour")},
    **{w: Intent("PROXY_CLAIM") for w in (
        "代领券", "帮邻居领券", "代邻居领券", "claim for neighbour", "claim for a neighbour")},
    **{w: Intent("PAPER_VOUCHERS") for w in (
        "邻居的券", "代领的券", "纸质券", "neighbours vouchers", "paper vouchers")},
    **{w: Intent("RECOMMEND") for w in ("推荐", "推荐课程", "适合我的", "recommend")},
    **{w: Intent("FREE_COURSES") for w in ("免费", "免费课程", "free", "free courses")},
    **{w: Intent("CATEGORIES") for w in ("分类", "类别", "课程分类", "categories", "category")},
    **{w: Intent("CLAIM") for w in ("领券", "领取", "领培训券", "claim", "claim voucher")},
    **{w: Intent("OPEN_CLASS") for w in ("开课", "open class", "open")},
    **{w: Intent("ROLL_CALL") for w in ("点名", "roll call", "roll")},
    **{w: Intent("HEADCOUNT") for w in ("人数", "清点人数", "headcount", "head count")},
    **{w: Intent("MY_ATTENDANCE") for w in ("出勤", "考勤", "我的出勤", "签到记录", "attendance")},
    **{w: Intent("FOLLOWUP") for w in ("回访", "跟踪回访", "follow-up", "followup", "follow up")},
    **{w: Intent("JOBS") for w in (
        "招聘", "招聘信息", "找工作", "工作", "岗位", "jobs", "job", "job openings", "work")},
    **{w: Intent("UNSUBSCRIBE") for w in ("取消订阅", "unsubscribe")},
    # People read 退订 as "cancel my booking" as often as "stop the messages": they choose.
    **{w: Intent("UNSUBSCRIBE_OR_CANCEL") for w in ("退订",)},
    **{w: Intent("CANCEL_BOOKING") for w in (
        "取消报名", "取消培训券", "取消培训", "取消券", "退券", "退培训券", "不去了", "不参加了",
        "cancel booking", "cancel my booking", "cancel voucher", "cancel my voucher")},
    # Outside a dialogue (inside one, bot.dialogue reads them first).
    **{w: Intent("STOP") for w in ("取消", "退出", "cancel", "quit", "exit")},
    **{w: Intent("RESUME") for w in ("继续", "接着", "continue", "resume")},
    # A person to talk to: answered with the help for now (the hook of bot.conversation).
    **{w: Intent("HUMAN") for w in ("人工", "客服", "人工客服", "转人工")},
    **{w: Intent("SUBSCRIBE") for w in ("订阅", "恢复订阅", "subscribe")},
    **{w: Intent("APP_CODE") for w in (
        "绑定小程序", "小程序", "小程序绑定", "bind app", "app code", "mini program")},
}

# What a top-level word means inside a dialogue too: it is answered, and the dialogue waits
# (bot.conversation). Only an exact word counts, never a sentence that merely contains one, so
# that a free answer (an opinion, a note) is never taken for a command; and never a digit.
# Words a dialogue's own question may expect (上一步, 取消, a number) are not among them.
LEAVE_DIALOGUE = frozenset({
    "COURSES", "FREE_COURSES", "RECOMMEND", "CATEGORIES", "HELP", "LANGUAGE", "SET_LANGUAGE",
    "MY_VOUCHERS", "CLAIM", "CANCEL_BOOKING", "UNSUBSCRIBE_OR_CANCEL", "UNSUBSCRIBE",
    "SUBSCRIBE", "CHECKIN", "MY_ATTENDANCE", "SUBSIDY", "PROFILE", "REGISTER", "NEIGHBOUR",
    "JOBS", "RESUME", "HUMAN",
})


def top_level_word(text: str) -> Intent | None:
    """The top-level intent of a typed message inside a dialogue, if it is exactly one."""
    intent = WORDS.get(normalize(text))
    return intent if intent is not None and intent.name in LEAVE_DIALOGUE else None


# A first word that takes the rest of the message as its argument: "课程 电工", "绑定 123456".
PREFIXES: dict[str, str] = {
    "课程": "SEARCH", "找": "SEARCH", "搜": "SEARCH", "course": "SEARCH", "courses": "SEARCH",
    "search": "SEARCH", "绑定": "BIND", "bind": "BIND",
    "结业": "COMPLETE", "complete": "COMPLETE", "撤销报到": "UNDO_REDEEM", "undo": "UNDO_REDEEM",
    "补贴": "SUBSIDY", "subsidy": "SUBSIDY", "subsidies": "SUBSIDY",
    "开课": "OPEN_CLASS", "点名": "ROLL_CALL", "人数": "HEADCOUNT", "headcount": "HEADCOUNT",
    "补签": "MARK_PRESENT", "present": "MARK_PRESENT", "缺勤": "MARK_ABSENT",
    "absent": "MARK_ABSENT",
    "回访": "FOLLOWUP", "followup": "FOLLOWUP", "follow-up": "FOLLOWUP",
}

# How much of a message that is not an exact word is read (a longer one is pasted text).
MAX_SAID = 200
_PUNCTUATION = re.compile(r"^[\s。.!！,，、~～]+|[\s。.!！,，、~～]+$")


def normalize(text: str) -> str:
    """Full-width digits and letters become plain ones; outer punctuation and case go."""
    text = unicodedata.normalize("NFKC", text or "")
    return _PUNCTUATION.sub("", text).lower()


def number_in(text: str) -> int | None:
    """A choice from a numbered list: "2", "二", "第二个", "2号" (models.numbers)."""
    return small_number(text)


def read_text(text: str, choices: list[Intent], more: Intent | None) -> Intent:
    words = normalize(text)
    n = number_in(words)
    if n is not None:
        if choices:
            return choices[n - 1] if 1 <= n <= len(choices) else Intent("BAD_CHOICE", str(n))
        if 1 <= n <= len(MAIN_MENU):
            return Intent(MAIN_MENU[n - 1])
        return Intent("BAD_CHOICE", str(n))
    intent = WORDS.get(words) or _with_argument(text)
    if intent is None:
        # Not one of the exact words: bot.understanding reads it in its own words (the
        # message, as written, is the argument).
        return Intent("UNKNOWN", (text or "")[:MAX_SAID])
    if intent.arg is None:
        # "领券" after a course's details means that course: the choice of the same name.
        intent = next((c for c in choices if c.name == intent.name), intent)
    if intent.name == "NEXT":
        return more or Intent("NO_MORE")
    return intent


def _with_argument(text: str) -> Intent | None:
    # Only the keyword is normalized; the argument is kept as written (a certificate number's
    # case, a reason's full-width punctuation), less its outer punctuation.
    words = _PUNCTUATION.sub("", (text or "").replace("\u3000", " "))
    first, _, rest = words.partition(" ")
    keyword = unicodedata.normalize("NFKC", first).lower()
    if rest.strip() and keyword in PREFIXES:
        return Intent(PREFIXES[keyword], rest.strip())
    for prefix in ("课程", "绑定", "人数"):  # Chinese is often typed without a space
        if words.startswith(prefix) and len(words) > len(prefix):
            return Intent(PREFIXES[prefix], unicodedata.normalize(
                "NFKC", words[len(prefix):]).strip())
    return None


def _scene(event: events.BaseEvent) -> str | None:
    return getattr(event, "scene_id", None) or None


def _scan_result(event: events.BaseEvent) -> str | None:
    return getattr(event, "scan_result", None)


# What an unconfirmed class display shows for staff to scan (bot.screens) is read by either
# scan menu, the staff's 核销（机构） or the 扫码签到 the display names (SCREEN_CODE_PREFIX).
SCREEN_SCAN_KEYS = ("REDEEM", "CHECKIN")
# A paper voucher's static code (models.paper), scanned by staff with 核销.
PAPER_CODE_PREFIX = PAPER_PREFIX + ":"


def _scanned(event: events.BaseEvent) -> Intent:
    if event.key not in MENU_KEYS:
        return Intent("UNKNOWN")
    result = _scan_result(event)
    if event.key in SCREEN_SCAN_KEYS and (result or "").startswith(SCREEN_CODE_PREFIX):
        return Intent("CONFIRM_SCREEN", result)
    if event.key == "REDEEM" and (result or "").startswith(PAPER_CODE_PREFIX):
        return Intent("PAPER_REDEEM", result)
    return Intent(event.key, result)


# Events by wechatpy's event type; each gives an intent (or None: answer nothing).
EVENTS = {
    "subscribe": lambda e: Intent("FOLLOW"),
    "subscribe_scan": lambda e: Intent("FOLLOW", _scene(e)),
    "scan": lambda e: Intent("SCENE", _scene(e)),
    "unsubscribe": lambda e: Intent("UNFOLLOW"),
    "click": lambda e: Intent(e.key) if e.key in MENU_KEYS else Intent("UNKNOWN"),
    "scancode_waitmsg": lambda e: _scanned(e),
    "location": lambda e: Intent("LOCATION", f"{e.latitude},{e.longitude},{e.precision}"),
    "view": lambda e: None,
}


def read(message: messages.BaseMessage, choices: list[Intent],
         more: Intent | None) -> Intent | None:
    """The intent of one message, given the numbered choices the person was last shown."""
    if isinstance(message, messages.TextMessage):
        return read_text(message.content, choices, more)
    if isinstance(message, messages.VoiceMessage):
        if message.recognition:
            return read_text(message.recognition, choices, more)
        return Intent("UNHEARD")
    if isinstance(message, messages.LocationMessage):
        return Intent("LOCATION_SENT", f"{message.location_x},{message.location_y}")
    if isinstance(message, events.BaseEvent):
        reader = EVENTS.get(message.event)
        return reader(message) if reader else None
    if str(message._data.get("MsgType", "")).lower() == "event":
        return None  # an event this account has no use for
    return Intent("UNSUPPORTED")
