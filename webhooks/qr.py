"""QR codes drawn here with the qrcode library (as SVG: sharp on any screen, no image library
needed), never fetched from a third party."""

from __future__ import annotations

import io
import logging
import re

import qrcode
from qrcode.image.svg import SvgPathImage

logger = logging.getLogger(__name__)


def svg(text: str) -> str:
    """An inline <svg> element that scales to its container."""
    image = qrcode.make(text, image_factory=SvgPathImage, border=2)
    markup = image.to_string(encoding="unicode")
    markup = markup[markup.index("<svg"):]
    return re.sub(r'width="[^"]*" height="[^"]*"', 'width="100%" role="img"', markup, count=1)


def ascii_art(text: str) -> str:
    code = qrcode.QRCode(border=1)
    code.add_data(text)
    buffer = io.StringIO()
    code.print_ascii(out=buffer, invert=True)
    return buffer.getvalue()
