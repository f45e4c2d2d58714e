"""Write signed WeChat callbacks for wrk, one a line: ``query<TAB>body``.

wrk's Lua has no SHA-1, so the signatures are made here, right before each run: WeChat signs
with a timestamp and /wechat refuses one more than 150 s off, so the file goes stale quickly.

Every line is a new message (its own MsgId and nonce), so de-duplication never short-cuts the
work; senders are drawn from many openids so the 60-a-minute rate limit is not what is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time


def signature(token: str, timestamp: str, nonce: str) -> str:
    # As WeChat does it (and tests/wechat_server.py): sha1 of the three, sorted and joined.
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=60_000)
    parser.add_argument("--senders", type=int, default=20_000)
    parser.add_argument("--token", default="peixun-dev-token")
    parser.add_argument("--text", default="课程")
    args = parser.parse_args()

    now = int(time.time())
    timestamp = str(now)
    rng = random.Random(now)
    # MsgIds from the clock: new even if Redis were not flushed between runs.
    first_id = now * 1_000_000
    with open(args.out, "w", encoding="utf-8") as out:
        for n in range(args.count):
            openid = f"oBench{rng.randrange(args.senders):06d}"
            nonce = str(rng.randrange(10**9, 10**10))
            query = (f"signature={signature(args.token, timestamp, nonce)}"
                     f"&timestamp={timestamp}&nonce={nonce}&openid={openid}")
            body = ("<xml><ToUserName><![CDATA[gh_peixun_demo]]></ToUserName>"
                    f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
                    f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                    f"<Content><![CDATA[{args.text}]]></Content>"
                    f"<MsgId>{first_id + n}</MsgId></xml>")
            out.write(f"{query}\t{body}\n")


if __name__ == "__main__":
    main()
