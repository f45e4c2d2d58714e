"""Numbers as people write and say them: full-width digits, spaces and dashes between groups,
a voice transcript's "。" at the end, Chinese digits read one by one (一三九…, 幺 for 1, 两 for
2, 〇 and 零 for 0), and an ID number's final X. One place, for the bot, the API and the pages:
the ID number, the mobile number and a numbered choice all read through here."""

from __future__ import annotations

import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

# A digit said or typed as a Chinese character; 幺 and 两 are how 1 and 2 are read out in
# phone numbers, 〇 (and the circle typed for it) how 0 is written in a date or a number.
DIGIT_CHARACTERS = {
    "〇": "0", "○": "0", "零": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
    "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}
# An ID number's check character X, as speech recognition may write it.
X_CHARACTERS = {"x": "X", "X": "X", "叉": "X"}
# What people put between groups of digits, and what a voice transcript adds around them.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_.·,，。、:：;；!！?？'\"“”‘’()（）\[\]【】/\\+*#~～]+")

# Small numbers for numbered choices: 一 to 九十九, and the words around them (第二个, 3号).
_SMALL = dict(zip("一二三四五六七八九", range(1, 10), strict=True)) | {"两": 2}
_CHOICE_WORDS = re.compile(r"^(?:选择|选|第|要|回复|就)?(.+?)(?:个|号|项|条|种|吧|啦|了)?$")


def plain_digits(text: str) -> str:
    """The digits (and an X) of a number as it was written or said: "１３８ 1234-5678。" and
    "一三八一二三四五六七八" both give "13812345678"; anything else in the text stays, so the
    caller's check still refuses it."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(DIGIT_CHARACTERS.get(c) or X_CHARACTERS.get(c) or c for c in text)
    return _SEPARATORS.sub("", text)


def digits_within(text: str, *, allow_x: bool = False) -> str:
    """Only the digits (and X) of a sentence that holds one number: "我的手机号是139…" gives the
    number. The caller checks length and form, so a sentence with two numbers is refused."""
    kept = r"[^0-9X]" if allow_x else r"[^0-9]"
    return re.sub(kept, "", plain_digits(text))


def small_number(text: str) -> int | None:
    """A choice from a numbered list: "2", "２", "二", "第二个", "2号", "十二", "选3" give
    the number; anything else (a phone number, a word) gives None."""
    words = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))
    match = _CHOICE_WORDS.match(words)
    if not match:
        return None
    core = match.group(1)
    if core.isdigit() and len(core) <= 3:
        return int(core)
    return _chinese_below_100(core)


def _chinese_below_100(core: str) -> int | None:
    if core in _SMALL:
        return _SMALL[core]
    if core == "十":
        return 10
    tens, ten, ones = core.partition("十")
    if not ten or (tens and tens not in _SMALL) or (ones and ones not in _SMALL):
        return None
    return (_SMALL[tens] if tens else 1) * 10 + (_SMALL[ones] if ones else 0)
