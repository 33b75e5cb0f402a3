"""Where alerts go: signed webhooks, Slack-compatible webhooks, email (SMTP), a local log file.

A channel is a dict (stored as JSON in the rule) or a shorthand string:

=========================  ============================================================
``webhook:URL``            JSON POST; header ``X-Nbops-Signature: sha256=<hex>`` is the
                           HMAC-SHA256 of the raw body with the secret (``secret`` or the
                           environment variable named by ``secret_env``, default
                           ``NBOPS_WEBHOOK_SECRET``); ``X-Nbops-Delivery`` is an idempotency key.
``slack:URL``              ``{"text": ...}`` POST, as Slack's incoming webhooks take.
``email:a@x.org,b@y.org``  SMTP: ``host``/``port`` (env ``NBOPS_SMTP_HOST``/``_PORT``),
                           ``ssl`` (SMTPS) or ``starttls``, ``username`` and ``password_env``.
``log:PATH``               one JSON line per notification appended to PATH.
=========================  ============================================================

HTTP channels time out after ``timeout_s`` (5 s) and retry ``retries`` times (3) on
network errors, 5xx and 429 with exponential backoff from ``backoff_s`` (0.5 s); other
4xx answers are not retried. A delivery never raises: it returns a :class:`Delivery`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from nbops.errors import NbopsError

SIGNATURE_HEADER = "X-Nbops-Signature"
DELIVERY_HEADER = "X-Nbops-Delivery"


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    attempts: int
    error: str | None = None


def parse_channel(spec: str | dict[str, Any]) -> dict[str, Any]:
    """A channel dict from a dict or a ``type:target`` shorthand."""
    if isinstance(spec, dict):
        if spec.get("type") not in ("webhook", "slack", "email", "log"):
            raise NbopsError(f"unknown channel type in {spec!r}", hint="use webhook, slack, email or log")
        return dict(spec)
    kind, sep, target = str(spec).partition(":")
    if not sep or not target:
        raise NbopsError(f"cannot read the channel {spec!r}",
                         hint="write webhook:URL, slack:URL, email:ADDRESS[,ADDRESS] or log:PATH")
    if kind in ("webhook", "slack"):
        return {"type": kind, "url": target}
    if kind == "email":
        return {"type": "email", "to": [a.strip() for a in target.split(",") if a.strip()]}
    if kind == "log":
        return {"type": "log", "path": target}
    raise NbopsError(f"unknown channel type {kind!r}", hint="use webhook, slack, email or log")


def describe(channel: dict[str, Any]) -> str:
    kind = channel["type"]
    target = channel.get("url") or channel.get("path") or ",".join(channel.get("to", []))
    return f"{kind}:{target}"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(channel: dict[str, Any], payload: dict[str, Any],
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    kind = channel["type"]
    try:
        if kind == "webhook":
            return _post(channel, json.dumps(payload, default=str).encode(), payload, sleep)
        if kind == "slack":
            body = json.dumps({"text": text_of(payload)}).encode()
            return _post(channel, body, payload, sleep)
        if kind == "email":
            _email(channel, payload)
        else:
            with open(os.path.expanduser(channel["path"]), "a", encoding="utf-8") as fh:
                fh.write(json.dumps(payload, default=str) + "\n")
        return Delivery(describe(channel), True, 1)
    except Exception as exc:
        return Delivery(describe(channel), False, 1, f"{type(exc).__name__}: {exc}")


def text_of(payload: dict[str, Any]) -> str:
    icon = {"firing": "[FIRING]", "resolved": "[RESOLVED]"}.get(payload.get("state", ""), "")
    return (f"{icon} {payload.get('severity', '')} {payload.get('rule')}: {payload.get('message')}"
            .strip())


def _post(channel: dict[str, Any], body: bytes, payload: dict[str, Any],
          sleep: Callable[[float], None]) -> Delivery:
    headers = {"Content-Type": "application/json", "User-Agent": "nbops-monitor",
               DELIVERY_HEADER: f"{payload.get('fire_id')}:{payload.get('state')}"}
    if channel["type"] == "webhook":
        secret = channel.get("secret") or os.environ.get(channel.get("secret_env")
                                                         or "NBOPS_WEBHOOK_SECRET")
        if secret:
            headers[SIGNATURE_HEADER] = sign(body, secret)
    retries = int(channel.get("retries", 3))
    timeout = float(channel.get("timeout_s", 5.0))
    backoff = float(channel.get("backoff_s", 0.5))
    error = None
    for attempt in range(1, retries + 2):
        req = urllib.request.Request(channel["url"], data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
            return Delivery(describe(channel), True, attempt)
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                return Delivery(describe(channel), False, attempt, error)
        except (urllib.error.URLError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt <= retries:
            sleep(backoff * 2 ** (attempt - 1))
    return Delivery(describe(channel), False, retries + 1, error)


def _email(channel: dict[str, Any], payload: dict[str, Any]) -> None:
    host = channel.get("host") or os.environ.get("NBOPS_SMTP_HOST", "localhost")
    port = int(channel.get("port") or os.environ.get("NBOPS_SMTP_PORT", 0) or
               (465 if channel.get("ssl") else 25))
    msg = EmailMessage()
    msg["Subject"] = text_of(payload)[:200]
    msg["From"] = channel.get("from") or os.environ.get("NBOPS_SMTP_FROM", "nbops@localhost")
    msg["To"] = ", ".join(channel["to"])
    msg.set_content(json.dumps(payload, indent=2, default=str))
    timeout = float(channel.get("timeout_s", 10.0))
    cls = smtplib.SMTP_SSL if channel.get("ssl") else smtplib.SMTP
    with cls(host, port, timeout=timeout) as smtp:
        if channel.get("starttls"):
            smtp.starttls()
        user = channel.get("username") or os.environ.get("NBOPS_SMTP_USER")
        if user:
            password = os.environ.get(channel.get("password_env") or "NBOPS_SMTP_PASSWORD", "")
            smtp.login(user, password)
        smtp.send_message(msg)
