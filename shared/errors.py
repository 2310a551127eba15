"""Every error the app raises on purpose, in one tree under `RpcopyError`.

    RpcopyError
    ├── ConfigurationError        the app is set up wrongly; it refuses to start
    │   ├── SettingsError         an app setting is missing or malformed (names the setting)
    │   └── PolicyError           the policy file is refused (every problem, file:line:col)
    ├── InputError                something from outside that we will not act on
    │   ├── InvalidResourceId     not the ARM id (or name, or region) shape the caller needed
    │   ├── InvalidRequest        an HTTP body or query string; `errors` names each field
    │   ├── InvalidCursor         a paging cursor this API did not hand out
    │   ├── InvalidMessage        a queue message that cannot be processed
    │   └── JobConflict           an operator action the job's state does not allow
    ├── SourceProblem             Azure could not copy this source restore point there
    ├── StageFailure              a permanent reason to fail a copy job, raised by a stage
    ├── StoreError                Azure Storage (queues, tables) or the Event Grid topic
    │   ├── StoreConflict         too many concurrent writers on one row
    │   └── TopicPublishError     the Event Grid topic refused an event
    └── ArmError                  an Azure Resource Manager call that did not succeed
        ├── ArmNotFound           404
        ├── ArmThrottled          429 with a Retry-After longer than we wait in-process
        └── ForeignHostError      ARM pointed us at another origin; no token was sent

The classes here carry what went wrong in the domain's words (codes, titles, details). They
never carry an HTTP status of ours: the HTTP layer alone maps an error to a response
(`shared.http_api.problems.problem_for`). The `ValueError` bases keep `except ValueError` in
library code (pydantic validators, settings parsing) working for the input-shaped errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


class RpcopyError(Exception):
    """The root of every error this app raises on purpose."""


# -- configuration ------------------------------------------------------------------------------


class ConfigurationError(RpcopyError):
    """The app is configured wrongly and will not run that way."""


class SettingsError(ConfigurationError, ValueError):
    """A setting is missing or malformed; the message names it."""


class PolicyError(ConfigurationError, ValueError):
    """The policy file is refused; `problems` lists everything wrong, in file order.

    Each problem's `str()` is a line an editor or CI log can jump to (file:line:col: path: msg).
    """

    def __init__(self, source_name: str, problems: Iterable[object]) -> None:
        self.source_name = source_name
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"policy file {source_name} refused ({count} problem{'s' if count != 1 else ''}); "
            f"the app does not run on a partial policy:\n{lines}"
        )


# -- input from outside ------------------------------------------------------------------------


class InputError(RpcopyError, ValueError):
    """Input from outside the app (a request, a message, an id) that it will not act on."""


class InvalidResourceId(InputError):
    """A string that is not the resource id shape the caller needed."""


class InvalidRequest(InputError):
    """A request that is malformed; `errors` holds one {field, message} per problem."""

    def __init__(
        self, title: str, detail: str, *, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail
        self.errors = errors or []


class InvalidCursor(InputError):
    """A paging cursor that this API did not hand out."""


class InvalidMessage(InputError):
    """A queue message that cannot be processed; carries whatever could be recovered of it."""

    def __init__(self, reason: str, *, job_id: str | None = None, raw: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.job_id = job_id
        self.raw_sha256 = hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


# -- copy jobs ------------------------------------------------------------------------------------


class JobConflict(InputError):
    """Cancel or retry asked of a job whose state does not allow it (e.g. it already ended)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


class SourceProblem(RpcopyError):
    """The source restore point cannot be copied to the requested region (it is missing, a
    copy itself, or already in that region). `code` is stable; `title` and `detail` are words."""

    def __init__(self, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.title = title
        self.detail = detail


class StageFailure(RpcopyError):
    """A permanent reason to fail the job, raised by a stage."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.failure_code = code
        self.message = message


# -- storage ------------------------------------------------------------------------------------


class StoreError(RpcopyError):
    """Azure Storage or the Event Grid topic did not do what was asked."""


class StoreConflict(StoreError):
    """Too many concurrent writers on one row; the caller's invocation is retried."""


class TopicPublishError(StoreError):
    """The Event Grid topic refused an event (the queue copy of it was still sent)."""


# -- Azure Resource Manager ---------------------------------------------------------------------


class ArmError(RpcopyError):
    """An ARM call that did not succeed, with ARM's code and message where there were any."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
        operation: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        # ARM's HTTP status (not one of ours).
        self.status = status
        self.transient = transient
        self.retry_after = retry_after
        self.operation = operation

    def __str__(self) -> str:
        where = f" during {self.operation}" if self.operation else ""
        status = f"HTTP {self.status} " if self.status else ""
        return f"{status}{self.code}{where}: {self.message}"


class ArmNotFound(ArmError):
    """404: the resource (or its parent) does not exist."""


class ArmThrottled(ArmError):
    """429 with a Retry-After longer than we wait in-process."""


class ForeignHostError(ArmError):
    """ARM (or something posing as it) pointed us at another origin; no token was sent."""
