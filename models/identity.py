"""Checking what a person tells us about themselves: name, ID card number (GB 11643, with
python-stdnum), mobile phone. One place, for the bot, the API and the pages alike."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric

from models.errors import InvalidIdNumber, InvalidName, InvalidPhone
from models.numbers import digits_within, plain_digits

logger = logging.getLogger(__name__)

MIN_AGE = 16  # the minimum working age; younger people are not rural labourers in the plan
_NAME = re.compile(r"^[\u3400-\u9fff·•A-Za-z ]{2,30}$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class IdFacts:
    number: str
    birth_date: date
    sex: str  # "M" or "F": the 17th digit is odd for men, even for women


def clean_name(text: str) -> str:
    # Speech recognition ends a sentence with "。"; a dot inside a name is the "·" of
    # transliterated names (阿卜杜拉·买买提).
    name = unicodedata.normalize("NFKC", text).strip(" \t\n。.，,！!")
    name = name.replace("•", "·").replace(".", "·")
    if not _NAME.match(name):
        raise InvalidName(reason="format")
    return name


def parse_id_number(text: str, *, today: date) -> IdFacts:
    number = _id_characters(text)
    if len(number) != 18:
        raise InvalidIdNumber(reason="length", length=len(number))
    if not number[:17].isdigit() or not re.match(r"[0-9X]$", number[17]):
        raise InvalidIdNumber(reason="format")
    if number[17] != ric.calc_check_digit(number):
        raise InvalidIdNumber(reason="checksum")
    try:
        born = ric.get_birth_date(number)
    except stdnum_errors.ValidationError:
        raise InvalidIdNumber(reason="birth_date") from None
    # python-stdnum's ric.validate also requires the county code to have existed in the birth
    # year; but a number keeps the code of where it was first issued, so people born in
    # 罗平县 before 1997 who got their card later (530324) would be refused. Check the province.
    if not _is_known_province(number[:2]):
        raise InvalidIdNumber(reason="region")
    if born > today or _age(born, today) < MIN_AGE:
        raise InvalidIdNumber(reason="age", age=max(0, _age(born, today)))
    return IdFacts(number=number, birth_date=born, sex="M" if int(number[16]) % 2 else "F")


def clean_phone(text: str) -> str:
    """A mobile number as written or said (spaces, dashes, full-width or Chinese digits, +86,
    a voice transcript's "。", a sentence around it) becomes its 11 digits."""
    phone = _without_country_code(plain_digits(text))
    if not _PHONE.match(phone):
        phone = _without_country_code(digits_within(text)) or phone
    if not _PHONE.match(phone):
        raise InvalidPhone(reason="format", length=len(phone))
    return phone


# What a person answers at the phone step for "I have no mobile phone".
NO_PHONE_WORDS = frozenset({"无", "没有", "无手机", "没有手机", "没手机", "none", "no", "no phone"})


def phone_answer(text: str | None, *, by_cadre: bool) -> str | None:
    """The mobile number answered, or None for a person without one. Only a neighbour a cadre
    registers (代报名) may have none: the cadre is then their contact. A person registering on
    their own WeChat is refused (``needed``), with the way forward in the reply."""
    words = unicodedata.normalize("NFKC", text or "").strip(" \t\n。.，,！!").lower()
    if not words or words in NO_PHONE_WORDS:
        if by_cadre:
            return None
        raise InvalidPhone(reason="needed")
    return clean_phone(words)


def _without_country_code(digits: str) -> str:
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            return digits[len(prefix):]
    return digits


def _id_characters(text: str) -> str:
    """The 18 characters of an ID number as written or said: spaces and dashes between groups,
    full-width or Chinese digits, a lower-case x, a voice transcript's "。"; from a sentence
    around it ("我的身份证号是…") its digits and X, when those alone are 18."""
    number = ric.compact(plain_digits(text))
    if len(number) != 18:
        within = digits_within(text, allow_x=True)
        if len(within) == 18:
            return within
    return number


def _is_known_province(code: str) -> bool:
    return any(part == code for part, _ in numdb.get("cn/loc").info(code + "0000")[:1])


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
