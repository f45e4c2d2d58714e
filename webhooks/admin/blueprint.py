"""The desk's blueprint, apart from the package so that the views can register on it without
importing the package that imports them."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
