"""Followers for the callback benchmark: people who followed the account before they type
课程, as nearly everyone who types does (the follow event made their record). The openids are
those bench/make_requests.py draws senders from."""

from __future__ import annotations

import sys

from models.clock import Clock
from models.persons import meet
from webhooks.app import create_app


def main(count: int) -> None:
    services = create_app().extensions["peixun"]
    now = Clock().now()
    with services.sessions.begin() as db:
        for n in range(count):
            meet(db, openid=f"oBench{n:06d}", now=now)


if __name__ == "__main__":
    main(int(sys.argv[1]))
