"""Where notifications go: BACKUPD_NOTIFY's Apprise URLs and BACKUPD_PING_URL, and how they are named.

A URL carries its secrets (a password, a bot token, a webhook path), so it never leaves this module's
objects: a target is named `#1 json://receiver.example…` — its position, its scheme and, when that is a
host name or address rather than a token, its host — and every error text Apprise or the network gives
is stripped of the URL's parts before it is logged or stored.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import apprise

from ..errors import ConfigError

# Apprise logs each request it makes (URL paths, payloads) at DEBUG and failures at WARNING, naming parts
# of the target: its records stay with the capture in send_apprise, which keeps a redacted reason.
logging.getLogger("apprise").propagate = False

_ERRNO = re.compile(r"\[Errno -?\d+\] [^\"'()\]]+|timed out|Name or service not known|certificate verify failed")
PING_TIMEOUT = 10.0


@dataclass(frozen=True)
class Target:
    id: str  # '1:json' (the outbox's target column) or 'ping'
    label: str  # '#1 json://127.0.0.1…' (logs, stored errors, the page)
    url: str = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False, default=())


def _shown_host(host: str | None) -> str | None:
    """The host when it is an address or a DNS name; None when it may be a token (tgram://123:abc/…)."""
    if not host:
        return None
    if host == "localhost":
        return host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host if "." in host and re.fullmatch(r"[a-z0-9.-]+", host) and len(host) <= 80 else None


def describe_url(url: str) -> str:
    """`scheme://host…`, or `scheme://…` when the host could be a secret; never the rest of the URL."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return "an invalid URL"
    scheme = parts.scheme.lower() or "?"
    shown = _shown_host(host)
    return f"{scheme}://{shown}…" if shown else f"{scheme}://…"


def _secrets(url: str) -> tuple[str, ...]:
    """Every part of the URL that might be secret (all but its scheme and a shown host), longest first."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return (url,)
    found = {url, unquote(url), parts.username or "", parts.password or "", parts.netloc, parts.path, parts.query}
    found |= {unquote(s) for s in (parts.username, parts.password) if s}
    found |= set(parts.path.split("/"))
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        found |= {key, value}
    if host and _shown_host(host) is None:
        found.add(host)
    shown = _shown_host(host) or ""
    return tuple(sorted((s for s in found if len(s) >= 3 and s != shown), key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def parse_targets(text: str | None) -> list[Target]:
    """BACKUPD_NOTIFY (comma- or space-separated Apprise URLs) as targets; ConfigError naming a bad entry."""
    urls = [u for u in re.split(r"[\s,]+", text or "") if u]
    targets: list[Target] = []
    for n, url in enumerate(urls, start=1):
        if not apprise.Apprise().add(url):
            raise ConfigError(f"BACKUPD_NOTIFY entry #{n} ({describe_url(url)}) is not an Apprise URL backupd can use")
        scheme = urlsplit(url).scheme.lower()
        targets.append(Target(f"{n}:{scheme}", f"#{n} {describe_url(url)}", url, _secrets(url)))
    return targets


def ping_target(url: str | None) -> Target | None:
    if not url:
        return None
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"BACKUPD_PING_URL ({describe_url(url)}) must be an http:// or https:// URL")
    return Target("ping", f"ping {describe_url(url)}", url, _secrets(url))


def send_apprise(target: Target, title: str, body: str) -> str | None:
    """Send one notification; None when delivered, else the reason (redacted, one line)."""
    sender = apprise.Apprise()
    sender.add(target.url)
    with apprise.LogCapture(level=logging.DEBUG) as captured:  # type: ignore[no-untyped-call]  # apprise: untyped __init__
        try:
            ok = bool(sender.notify(title=title, body=body))
        except Exception as exc:  # a plugin's bug must not end the delivery thread
            return redact(f"{type(exc).__name__}: {exc}", target.secrets)
    if ok:
        return None
    log_text: str = captured.getvalue()
    warnings = [
        line.split(" - ", 2)[-1] for line in log_text.splitlines() if " - WARNING - " in line or " - ERROR - " in line
    ]
    cause = _ERRNO.search(log_text)
    reason = "; ".join(warnings) or "not delivered"
    if cause and cause.group(0) not in reason:
        reason += f" ({cause.group(0).strip()})"
    return redact(" ".join(reason.split()), target.secrets)


def ping_url(base: str, failed: bool) -> str:
    """BACKUPD_PING_URL, or its `/fail` variant (healthchecks.io's convention) for a failed backup."""
    if not failed:
        return base
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/fail"))


def send_ping(target: Target, failed: bool) -> str | None:
    """GET the ping URL; None when it answered 2xx/3xx, else the reason (redacted)."""
    request = urllib.request.Request(ping_url(target.url, failed), headers={"User-Agent": "backupd"})
    try:
        with urllib.request.urlopen(request, timeout=PING_TIMEOUT) as response:  # http(s) only: ping_target
            response.read(1024)
            return None
    except urllib.error.HTTPError as exc:
        return f"answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return redact(f"did not answer: {reason}", target.secrets)
