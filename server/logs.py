"""A logging filter that keeps API keys out of every log line, whatever logged it."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class Redact(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(s in message for s in self.secrets):
                for secret in self.secrets:
                    message = message.replace(secret, "[redacted]")
                record.msg, record.args = message, None
        return True


def install_redaction(secrets: Iterable[str]) -> None:
    flt = Redact(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(flt)
