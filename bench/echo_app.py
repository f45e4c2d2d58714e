"""The ceiling: the least a WeChat callback can do with Flask and wechatpy. It checks the
signature, parses the message and renders a text reply; no database, no Redis, no bot."""

import os

from flask import Flask, Response, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

# The same token bench/run.sh gives Peixun.
TOKEN = os.environ.get("WECHAT_TOKEN", "peixun-dev-token")

app = Flask(__name__)


@app.post("/wechat")
def receive() -> Response:
    args = request.args
    try:
        check_signature(TOKEN, args.get("signature", ""), args.get("timestamp", ""),
                        args.get("nonce", ""))
    except InvalidSignatureException:
        abort(403)
    message = parse_message(request.get_data())
    reply = create_reply(f"echo: {message.content}", message).render()
    return Response(reply, mimetype="application/xml")
