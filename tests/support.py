"""Helpers the test packages share (on pytest's path: ``from support import ...``)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

#: Alice's calls ringing unanswered for 0.7 s go to her voicemail; the redirect is guarded,
#: so a retry after a kill finds the call gone and skips it. ``.format(name=...)``.
VOICEMAIL_FLOW = """\
flow: {name}
users: [alice]
key: event.callRef
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: ringing
states:
  ringing:
    after: {{seconds: 0.7, goto: voicemail}}
    on:
      OnCallRemoved: {{goto: end}}
  voicemail:
    enter:
      - redirect: {{to: VOICEMAIL}}
        guard: "call.legs[0].state == 'RINGING_INCOMING'"
    goto: end
"""


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it holds and return its value; the bound only stops a hung
    test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
