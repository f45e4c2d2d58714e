"""Commands of `flask --app wsgi …`, one command group per module: the bureau's work at a
terminal (settling, claims, invitations, attendance sheets), the operator's (migrating, the
demo, the menu, backups, desk users) and the worker process."""

from __future__ import annotations

import logging

from flask import Flask

from cli import (
    attendance,
    backup,
    cadres,
    claims,
    courses,
    database,
    demo,
    desk,
    groups,
    inspectors,
    menu,
    staff,
    vouchers,
    worker,
)

logger = logging.getLogger(__name__)

COMMANDS = (database.group, demo.group, courses.group, menu.group, cadres.group, staff.group,
            inspectors.group, vouchers.group, claims.group, attendance.group, groups.group,
            backup.group, desk.group, worker.command)


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
