"""`make chat`: talk to a running Peixun server from a terminal, as a WeChat user would.

Between a person and our /wechat callback stands WeChat's server: it wraps what they type or tap
in XML, signs the request with the account's token (in safe mode it also encrypts the XML with
the account's AES key), posts it, and shows them the text of the reply. This script plays that
part, so the bot can be tried without a phone, an official account or a public address. The
token, AES key and app id come from the same environment variables as the server's, so both
sides agree unless told otherwise.

Each line read is sent as a text message; a line starting with "/" is a tap or an event instead
(see ``/help``). Lines may come from a terminal or a pipe::

    printf '课程\\n1\\n' | python -m devtools.chat --openid demo-trainee
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TextIO
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import requests
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner

from runtime.config import Config, ConfigError

logger = logging.getLogger(__name__)

DEFAULT_OPENID = "demo-trainee"
# The account's original ID ("gh_…"), which WeChat puts in ToUserName; our server ignores it.
ACCOUNT = "gh_peixun_demo"
# WeChat gives up on an answer after 5 seconds (then retries); a slower bot is broken for users.
TIMEOUT_SECONDS = 5.0
NO_REPLY = "(no reply)"

# Why the server may refuse us; both sides must share the same secrets and, roughly, the time.
REFUSAL_HINTS = {
    400: "could it read the message? same WECHAT_ENCODING_AES_KEY on both sides?",
    403: "same WECHAT_TOKEN and WECHAT_APP_ID on both sides, clocks within 150 s?",
}

# XML field values: strings go in CDATA, numbers bare, mappings become nested elements.
Field = str | int | float | Mapping[str, "Field"]


class UsageError(ValueError):
    """A command was typed with the wrong arguments; its usage line is shown."""


# --- the XML WeChat posts --------------------------------------------------------------------

def message_xml(openid: str, msg_type: str, created: int, fields: Mapping[str, Field]) -> str:
    """The XML of one message or event, laid out as WeChat lays it out."""
    head: dict[str, Field] = {"ToUserName": ACCOUNT, "FromUserName": openid,
                              "CreateTime": created, "MsgType": msg_type}
    return _element("xml", {**head, **fields})


def envelope_xml(encrypt: str) -> str:
    """The body of a safe-mode post: only the addressee and the ciphertext; the signature goes
    in the query string."""
    return _element("xml", {"ToUserName": ACCOUNT, "Encrypt": encrypt})


def _element(name: str, value: Field) -> str:
    if isinstance(value, Mapping):
        inner = "".join(_element(key, item) for key, item in value.items())
    elif isinstance(value, str):
        inner = _cdata(value)
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def _cdata(text: str) -> str:
    # A typed "]]>" would end the section early; split it across two sections instead.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


# --- one person talking ----------------------------------------------------------------------

class Chat:
    """One person's side of the conversation: who they are, and how their words reach the
    account. The conversation's state lives on the server, as it does with real WeChat."""

    def __init__(self, http: requests.Session, *, url: str, openid: str, token: str,
                 aes_key: str | None, app_id: str | None, now: Callable[[], float]) -> None:
        self.http = http
        self.url = url
        self.openid = openid
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None
        self.now = now
        self.is_open = True

    def say(self, line: str) -> str:
        """What the person reads after typing ``line``."""
        if not line.startswith("/"):
            return self.send("text", Content=line, MsgId=_msg_id())
        name, _, arg = line.partition(" ")
        command = COMMANDS.get(name.lower())
        if command is None:
            return help_text()
        try:
            return command.act(self, arg.strip())
        except UsageError:
            return f"usage: {command.usage}"

    def send(self, msg_type: str, **fields: Field) -> str:
        """Post one message as WeChat would and return the text of the reply."""
        timestamp = str(int(self.now()))
        nonce = str(secrets.randbelow(10**10))
        body = message_xml(self.openid, msg_type, int(timestamp), fields)
        # WeChat also puts the sender's openid in the query string.
        params = {"signature": _signature(self.token, timestamp, nonce),
                  "timestamp": timestamp, "nonce": nonce, "openid": self.openid}
        if self.crypto:
            body, params["msg_signature"] = self._seal(body, nonce, timestamp)
            params["encrypt_type"] = "aes"
        logger.debug("posting a %s message to %s (safe mode: %s)", msg_type, self.url,
                     bool(self.crypto))
        try:
            response = self.http.post(self.url, params=params, data=body.encode("utf-8"),
                                      headers={"Content-Type": "text/xml"},
                                      timeout=TIMEOUT_SECONDS)
        except requests.Timeout:
            return f"no answer within {TIMEOUT_SECONDS:g} s; WeChat would have given up"
        except requests.ConnectionError:
            return f"cannot reach {self.url}; is the server running (make run)?"
        logger.debug("server answered %s", response.status_code)
        if response.status_code != 200:
            hint = REFUSAL_HINTS.get(response.status_code)
            return f"server said {response.status_code}" + (f" ({hint})" if hint else "")
        return self._read(response.text)

    def _seal(self, xml: str, nonce: str, timestamp: str) -> tuple[str, str]:
        sealed = ElementTree.fromstring(self.crypto.encrypt_message(xml, nonce, timestamp))
        return envelope_xml(sealed.findtext("Encrypt", "")), sealed.findtext("MsgSignature", "")

    def _read(self, body: str) -> str:
        if body.strip() in ("", "success"):
            return NO_REPLY
        try:
            reply = ElementTree.fromstring(self._open(body) if self.crypto else body)
        except (InvalidSignatureException, InvalidAppIdException):
            return "the reply failed its signature or app id check"
        except (ElementTree.ParseError, ValueError, KeyError):
            return "the server sent a reply that is not readable XML"
        content = reply.findtext("Content")
        if content is None:
            return f"({reply.findtext('MsgType') or 'unknown'} reply)"
        return content

    def _open(self, body: str) -> str:
        # The reply carries its own timestamp and nonce; decrypt_message checks the signature.
        sealed = ElementTree.fromstring(body)
        return self.crypto.decrypt_message(body, sealed.findtext("MsgSignature", ""),
                                           sealed.findtext("TimeStamp", ""),
                                           sealed.findtext("Nonce", ""))


def _signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


def _msg_id() -> int:
    # WeChat's MsgIds are 64-bit; the server de-duplicates on them, so each must be fresh.
    return secrets.randbits(62)


# --- slash commands: taps and events a person cannot type ------------------------------------

@dataclass(frozen=True)
class Command:
    usage: str
    about: str
    act: Callable[[Chat, str], str]


def _args(arg: str, least: int, most: int) -> list[str]:
    words = arg.split()
    if not least <= len(words) <= most:
        raise UsageError(arg)
    return words


def _follow(chat: Chat, arg: str) -> str:
    fields: dict[str, Field] = {"Event": "subscribe"}
    for scene in _args(arg, 0, 1):
        # Following through a parametric QR code: WeChat prefixes the scene and adds a ticket.
        fields.update(EventKey=f"qrscene_{scene}", Ticket="simulated-ticket")
    return chat.send("event", **fields)


def _unfollow(chat: Chat, arg: str) -> str:
    _args(arg, 0, 0)
    return chat.send("event", Event="unsubscribe")


def _click(chat: Chat, arg: str) -> str:
    (key,) = _args(arg, 1, 1)
    return chat.send("event", Event="CLICK", EventKey=key)


def _scan(chat: Chat, arg: str) -> str:
    key, result = _args(arg, 2, 2)
    return chat.send("event", Event="scancode_waitmsg", EventKey=key,
                     ScanCodeInfo={"ScanType": "qrcode", "ScanResult": result})


def _location(chat: Chat, arg: str) -> str:
    try:
        lat, lng = (float(word) for word in _args(arg, 2, 2))
    except ValueError as error:
        raise UsageError(arg) from error
    return chat.send("event", Event="LOCATION", Latitude=lat, Longitude=lng, Precision=30.0)


def _voice(chat: Chat, arg: str) -> str:
    if not arg:
        raise UsageError(arg)
    # WeChat sends the recording's media id and, when speech recognition is on, its words.
    return chat.send("voice", MediaId="simulated-media", Format="amr", Recognition=arg,
                     MsgId=_msg_id())


def _switch_user(chat: Chat, arg: str) -> str:
    (chat.openid,) = _args(arg, 1, 1)
    return f"(now talking as {chat.openid})"


def _help(chat: Chat, arg: str) -> str:
    return help_text()


def _quit(chat: Chat, arg: str) -> str:
    chat.is_open = False
    return ""


COMMANDS: dict[str, Command] = {
    "/follow": Command("/follow [scene]", "follow the account, from a QR code if a scene is given",
                       _follow),
    "/unfollow": Command("/unfollow", "stop following the account", _unfollow),
    "/click": Command("/click KEY", "tap the menu item KEY (COURSES, MY_VOUCHERS, …)", _click),
    "/scan": Command("/scan KEY RESULT", "scan a QR code reading RESULT from menu item KEY",
                     _scan),
    "/loc": Command("/loc LAT LNG", "report a location", _location),
    "/voice": Command("/voice TEXT", "send a voice message WeChat heard as TEXT", _voice),
    "/as": Command("/as OPENID", "go on as another WeChat user", _switch_user),
    "/help": Command("/help", "show this help", _help),
    "/quit": Command("/quit", "leave (Ctrl-D does too)", _quit),
}


def help_text() -> str:
    width = max(len(command.usage) for command in COMMANDS.values())
    lines = ["Type a message to send it as text, or:"]
    lines += [f"  {c.usage.ljust(width)}  {c.about}" for c in COMMANDS.values()]
    return "\n".join(lines)


# --- the loop and the command line -----------------------------------------------------------

def run(lines: Iterable[str], out: TextIO, *, token: str, url: str,
        openid: str = DEFAULT_OPENID, aes_key: str | None = None, app_id: str | None = None,
        now: Callable[[], float] = time.time, is_interactive: bool = False) -> None:
    """Send each line to the account at ``url`` and write what the person would read to ``out``.

    ``now`` gives the timestamps WeChat would stamp (the server refuses ones far from its own
    clock); ``is_interactive`` adds a prompt before each line and a greeting.
    """
    with requests.Session() as http:
        chat = Chat(http, url=url, openid=openid, token=token, aes_key=aes_key, app_id=app_id,
                    now=now)
        if is_interactive:
            mode = "safe mode" if aes_key else "plain mode"
            out.write(f"Talking to {url} ({mode}). /help lists commands, /quit leaves.\n\n")
        source = iter(lines)
        while chat.is_open:
            if is_interactive:
                out.write(f"{chat.openid}> ")
                out.flush()
            line = next(source, None)
            if line is None:
                if is_interactive:
                    out.write("\n")
                break
            line = line.strip()
            if not line:
                continue  # WeChat will not send an empty message
            shown = chat.say(line)
            if shown:
                out.write(shown + "\n\n")
                out.flush()


def _typed_lines() -> Iterator[str]:
    # input() rather than reading sys.stdin, so that readline's line editing works.
    while True:
        try:
            yield input()
        except EOFError:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.chat",
        description="Talk to a running Peixun server as a WeChat user. The token, AES key and "
                    "app id come from WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY and WECHAT_APP_ID.")
    parser.add_argument("--url", help="the server's callback (default: http://HOST:PORT/wechat)")
    parser.add_argument("--openid", default=DEFAULT_OPENID, help="who you are to the account")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.verbose:
        # Ours only: urllib3 would log the query string, signatures and openid included.
        logger.setLevel(logging.DEBUG)
    try:
        config = Config.from_env()
    except ConfigError as error:
        parser.exit(2, f"{error}\n")
    is_interactive = sys.stdin.isatty()
    if is_interactive:
        import readline  # noqa: F401 (imported for its effect: arrow keys and history in input())
    try:
        run(_typed_lines() if is_interactive else sys.stdin, sys.stdout,
            url=args.url or f"http://{config.host}:{config.port}/wechat", openid=args.openid,
            token=config.wechat_token, aes_key=config.wechat_encoding_aes_key,
            app_id=config.wechat_app_id, is_interactive=is_interactive)
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
