"""The run: one id per command line, the command it resolved to, what the audit trail needs.

Set by ``garmaxctl.app`` (:func:`begin`) and ``garmaxctl.cli`` (the command and its
parsed options once it is invoked); read by ``garmaxctl.aws`` (every AWS call's user agent
and the CDK CLI's ``AWS_SDK_UA_APP_ID``) and by the audit hook in ``app.finish``. Pure:
imports nothing of garmaxctl but its version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from garmaxctl import __version__


@dataclass
class Run:
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    command: str = ""  # "params push": the words of the resolved command
    invoked: bool = False  # the command's function was called (parsing succeeded)
    audited: bool = False  # its audit record was written (once, even if rendering fails)
    params: dict[str, Any] = field(default_factory=dict)  # its parsed options/arguments
    options: Any = None  # the run's garmaxctl.cli.GlobalOptions


_current = Run()


def begin() -> Run:
    """A new run (each command line; tests call the app many times in one process)."""
    global _current
    _current = Run()
    return _current


def current() -> Run:
    return _current


def user_agent() -> str:
    """``garmaxctl/<version> cmd/<name> run/<id>``: CloudTrail's userAgent joins an AWS
    call to its audit record. The command's words are joined by dots (no spaces in a
    user-agent token): ``cmd/params.push``."""
    name = ".".join(_current.command.split()) or "none"
    return f"garmaxctl/{__version__} cmd/{name} run/{_current.run_id}"


def app_id() -> str:
    """The user agent for the AWS SDK for JavaScript's ``AWS_SDK_UA_APP_ID`` (the CDK CLI),
    which warns past 50 characters: the version is left out when it would be longer."""
    agent = user_agent()
    return agent if len(agent) <= 50 else agent.split(" ", 1)[1][:50]
