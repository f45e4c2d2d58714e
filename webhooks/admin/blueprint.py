"""The desk's blueprint, apart from the package so that the views can register on it without
importing the package that imports them."""

import logging

from flask import Blueprint

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")
