"""Text that XML 1.0 can carry, for the JUnit writers of ``check`` and ``batch``."""

from __future__ import annotations

import re
from functools import cache

__all__ = ["xml_safe"]


@cache
def _not_xml_char() -> re.Pattern[str]:
    # Compiling this class of code-point ranges costs about 8 ms: done on first use,
    # not when the command line loads (issue #11).
    return re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: object) -> str:
    """``text`` as a string with the characters XML 1.0 cannot carry dropped.

    ``None`` gives the empty string.

    >>> xml_safe("V30Gy\\x00 ok")
    'V30Gy ok'
    >>> xml_safe(None)
    ''
    """
    return _not_xml_char().sub("", "" if text is None else str(text))
