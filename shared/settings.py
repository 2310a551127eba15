"""Every app setting the app reads, with defaults, parsed once and validated at startup.

App settings arrive as environment variables (Azure) or from local.settings.json (local hosts).
A bad value fails fast with the setting's name: the app never runs on a half-understood config.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from shared.errors import InvalidResourceId, SettingsError
from shared.model.drills import DrillSettings
from shared.model.event_identity import PLATFORM_HOST_NAME, EventIdentity
from shared.model.message import Stage
from shared.model.regions import normalize_region

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
# Cross-region copy needs >= 2022-03-01; 2025-04-01 is the newest version with the full
# restore point spec (sourceRestorePoint, instanceView under properties).
DEFAULT_ARM_API_VERSION = "2025-04-01"
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")


@dataclass(frozen=True)
class QueueNames:
    ensure_target: str = "rpcopy-ensure-target"
    start_copy: str = "rpcopy-start-copy"
    poll: str = "rpcopy-poll"
    finish: str = "rpcopy-finish"
    rerun: str = "rpcopy-rerun"
    events: str = "copy-events"
    drill: str = "rpcopy-drill"  # restore drills (shared/jobs/drill_runner.py), not a copy stage

    def stages(self) -> tuple[str, ...]:
        return (self.ensure_target, self.start_copy, self.poll, self.finish, self.rerun, self.drill)

    def for_stage(self, stage: Stage) -> str:
        """The queue each stage reads (the only place this mapping is written)."""
        return {
            Stage.ENSURE_TARGET: self.ensure_target,
            Stage.START_COPY: self.start_copy,
            Stage.POLL: self.poll,
            Stage.FINISH: self.finish,
            Stage.RERUN: self.rerun,
        }[stage]


@dataclass(frozen=True)
class RerunPolicy:
    """Automatic re-runs of failed copies: how many runs one request may take, within how
    long, and the waits between them (see shared/rules/reruns.py)."""

    max_runs: int = 4
    window_seconds: float = 48 * 3600.0
    backoff_seconds: float = 600.0
    max_backoff_seconds: float = 6 * 3600.0


@dataclass(frozen=True)
class InputLimits:
    """Bounds on what outside input may be (HTTP bodies; queue messages are at most 64 KiB)."""

    max_request_bytes: int = 64 * 1024
    max_json_depth: int = 32


@dataclass(frozen=True)
class PollSettings:
    """Replication polling; see shared/rules/poll_schedule.py for how these combine."""

    initial_seconds: float = 60.0
    min_seconds: float = 30.0
    max_seconds: float = 900.0
    # Azure publishes progress about every 10 minutes; polling faster learns nothing new.
    progress_granularity_seconds: float = 600.0
    # -- learned poll schedule (shared/rules/poll_phases.py): the longest wait between polls
    # (also how late a failure mid-copy can be seen), and how soon after Azure publishes the
    # end it is seen (+ ~14 s); a longer target costs long copies fewer reads.
    learned_max_seconds: float = 172800.0
    lag_target_seconds: float = 100.0
    # Azure terminates a copy after 14 days; we give up a little after that.
    copy_timeout_seconds: float = 14 * 24 * 3600 + 3600


@dataclass(frozen=True)
class ArmSettings:
    endpoint: str = DEFAULT_ARM_ENDPOINT
    api_version: str = DEFAULT_ARM_API_VERSION
    # "default" = DefaultAzureCredential (managed identity in Azure); "static" = a fixed token
    # for the local emulator only.
    credential: str = "default"
    managed_identity_client_id: str | None = None
    static_token: str | None = field(default=None, repr=False)
    token_scope: str | None = None
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    # A Retry-After longer than this is not slept through in-process; the stage re-enqueues
    # its message with that delay instead, so no worker sits idle for 20 minutes.
    max_inline_wait_seconds: float = 30.0
    lro_poll_seconds: float = 10.0
    lro_timeout_seconds: float = 600.0

    @property
    def scope(self) -> str:
        return self.token_scope or f"{self.endpoint.rstrip('/')}/.default"


@dataclass(frozen=True)
class Settings:
    storage_connection: str = "AzureWebJobsStorage"
    queues: QueueNames = field(default_factory=QueueNames)
    ledger_table: str = "rpcopyjobs"
    arm: ArmSettings = field(default_factory=ArmSettings)
    poll: PollSettings = field(default_factory=PollSettings)
    http_auth_level: str = "function"
    # CloudEvents type prefix, source and dataschema base (EVENT_* settings, see _event_identity).
    event_identity: EventIdentity = field(default_factory=EventIdentity)
    extra_regions: frozenset[str] = frozenset()
    # Transient stage failures are retried by re-enqueueing with backoff this many times.
    stage_max_attempts: int = 6
    stage_retry_base_seconds: float = 5.0
    # Throttled copy PUTs wait out Retry-After; this bounds how many times in a row.
    max_throttle_waits: int = 48
    rules_table: str = "rpcopyrules"
    # Azure allows 3 copy PUTs per hour per target collection; we stay inside that ourselves.
    copy_puts_per_window: int = 3
    copy_put_window_seconds: float = 3600.0
    # Automatic DR (policies, Event Grid, the sweep).
    policy_file: str | None = None
    tag_targets: str = "rpcopy-targets"
    tag_keep_last: str = "rpcopy-keep-last"
    tag_max_age_days: str = "rpcopy-max-age-days"
    tag_rpo_minutes: str = "rpcopy-rpo-minutes"
    tag_target_resource_group: str = "rpcopy-target-resource-group"
    # Six-field NCRONTAB: {second} {minute} {hour} {day} {month} {day-of-week}.
    sweep_schedule: str = "0 */15 * * * *"
    sweep_subscriptions: tuple[str, ...] = ()
    sweep_dry_run: bool = False
    # A restore point whose copy failed this many runs is left for a human (status API).
    sweep_max_failed_runs: int = 3
    sweep_concurrency: int = 8
    # Optional Event Grid custom topic (CloudEvents schema) that receives every event too.
    eventgrid_topic_endpoint: str | None = None
    eventgrid_topic_key: str | None = field(default=None, repr=False)
    input_limits: InputLimits = field(default_factory=InputLimits)
    reruns: RerunPolicy = field(default_factory=RerunPolicy)
    # Where telemetry goes without Application Insights: none | console | otlp.
    telemetry_exporter: str = "none"
    # -- work counts (benchmarks) --
    # A directory where the process rewrites <pid>.json every second with its ARM calls and
    # storage transactions by kind (shared.work_counts); unset: counted in memory only.
    work_counts_dir: str | None = None
    # -- schedules (docs/policies.md): the timer that acts on copy and creation slots between
    # sweeps, and how a refused restore point creation is retried before it fails.
    schedule_timer: str = "0 * * * * *"
    create_max_attempts: int = 5
    create_retry_seconds: float = 60.0
    drills: DrillSettings = field(default_factory=DrillSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return _parse(os.environ if env is None else env)


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _opt(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"setting {name}={raw!r} must be a number") from None
    if not math.isfinite(value):
        raise SettingsError(f"setting {name}={raw!r} must be a finite number")
    if value < minimum:
        raise SettingsError(f"setting {name}={raw!r} must be at least {minimum}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"setting {name}={raw!r} must be a whole number") from None
    if value < minimum:
        raise SettingsError(f"setting {name}={raw!r} must be at least {minimum}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _str(env, name, default).lower()
    if value not in choices:
        raise SettingsError(f"setting {name}={value!r} must be one of {', '.join(choices)}")
    return value


def _queue(env: Mapping[str, str], name: str, default: str) -> str:
    value = _str(env, name, default)
    # Azure queue names: 3-63 lower-case letters, digits and single dashes; "-poison" is added.
    ok = (
        3 <= len(value) <= 56
        and value.isascii()
        and value.replace("-", "").isalnum()
        and value == value.lower()
    )
    if not ok or value.startswith("-") or value.endswith("-") or "--" in value:
        raise SettingsError(
            f"setting {name}={value!r} must be a queue name of 3-56 lower-case letters, digits "
            "and single dashes (the host appends '-poison')"
        )
    return value


def _regions(env: Mapping[str, str], name: str) -> frozenset[str]:
    try:
        return frozenset(
            normalize_region(region, f"setting {name} entry")
            for region in _str(env, name, "").replace(",", " ").split()
        )
    except InvalidResourceId as exc:
        raise SettingsError(str(exc)) from None


def _valid_port(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - the property raises ValueError for a port not in 0-65535
    except ValueError:
        return False
    return True


def _table(env: Mapping[str, str], name: str, default: str) -> str:
    table = _str(env, name, default)
    if not (table.isascii() and table.isalnum() and table[0].isalpha() and 3 <= len(table) <= 63):
        raise SettingsError(f"setting {name}={table!r} must be 3-63 letters and digits")
    return table


def _endpoint(env: Mapping[str, str]) -> str:
    value = _str(env, "ARM_ENDPOINT", DEFAULT_ARM_ENDPOINT).rstrip("/")
    parts = urlsplit(value)
    if (
        not _valid_port(parts)
        or parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise SettingsError(
            f"setting ARM_ENDPOINT={value!r} must be a bare origin such as "
            "https://management.azure.com"
        )
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        # Bearer tokens never travel in clear text; plain http is only for a loopback emulator.
        raise SettingsError("setting ARM_ENDPOINT may use http:// only for a loopback emulator")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise SettingsError(f"setting {name}={raw!r} must be true or false")


_NCRONTAB_FIELD = re.compile(r"^[0-9*/,\-A-Za-z]+$")


def _ncrontab(env: Mapping[str, str], name: str, default: str) -> str:
    value = " ".join(_str(env, name, default).split())
    fields = value.split(" ")
    if len(fields) != 6 or not all(_NCRONTAB_FIELD.match(f) for f in fields):
        raise SettingsError(
            f"setting {name}={value!r} must be a six-field NCRONTAB expression "
            "'{second} {minute} {hour} {day} {month} {day-of-week}', e.g. '0 */15 * * * *'"
        )
    return value


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _subscriptions(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    items = _str(env, name, "").replace(",", " ").split()
    bad = [i for i in items if not _GUID.match(i)]
    if bad:
        raise SettingsError(f"setting {name}: {', '.join(bad)} is not a subscription id (GUID)")
    return tuple(sorted({i.lower() for i in items}))


def _topic_endpoint(env: Mapping[str, str], name: str) -> str | None:
    value = _opt(env, name)
    if value is None:
        return None
    parts = urlsplit(value)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or (parts.scheme == "http" and not loopback)
    ):
        raise SettingsError(
            f"setting {name}={value!r} must be an https:// Event Grid topic endpoint "
            "(http:// only on loopback, for local tests)"
        )
    return value


def _event_identity(env: Mapping[str, str]) -> EventIdentity:
    """EVENT_TYPE_PREFIX (reverse DNS), EVENT_SOURCE (absolute URI), EVENT_SCHEMA_BASE (http(s)
    URI); unset ones default from the platform's host name (README, "Events")."""
    try:
        return EventIdentity.for_host(
            env.get(PLATFORM_HOST_NAME, "").strip() or None,
            type_prefix=_opt(env, "EVENT_TYPE_PREFIX"),
            source=_opt(env, "EVENT_SOURCE"),
            schema_base=_opt(env, "EVENT_SCHEMA_BASE"),
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _parse(env: Mapping[str, str]) -> Settings:
    credential = _choice(env, "ARM_CREDENTIAL", "default", ("default", "static"))
    static_token = _opt(env, "ARM_STATIC_TOKEN")
    if credential == "static" and not static_token:
        raise SettingsError("setting ARM_STATIC_TOKEN is required when ARM_CREDENTIAL=static")
    arm = ArmSettings(
        endpoint=_endpoint(env),
        api_version=_str(env, "ARM_API_VERSION", DEFAULT_ARM_API_VERSION),
        credential=credential,
        managed_identity_client_id=_opt(env, "ARM_MANAGED_IDENTITY_CLIENT_ID"),
        static_token=static_token,
        token_scope=_opt(env, "ARM_TOKEN_SCOPE"),
        timeout_seconds=_float(env, "ARM_TIMEOUT_SECONDS", 30.0, minimum=1.0),
        max_attempts=_int(env, "ARM_MAX_ATTEMPTS", 5),
        max_inline_wait_seconds=_float(env, "ARM_MAX_INLINE_WAIT_SECONDS", 30.0),
        lro_poll_seconds=_float(env, "ARM_LRO_POLL_SECONDS", 10.0, minimum=0.01),
        lro_timeout_seconds=_float(env, "ARM_LRO_TIMEOUT_SECONDS", 600.0, minimum=1.0),
    )
    if not _API_VERSION.fullmatch(arm.api_version) or arm.api_version < "2022-03-01":
        raise SettingsError(
            f"setting ARM_API_VERSION={arm.api_version!r} must be an api-version such as "
            f"{DEFAULT_ARM_API_VERSION}: cross-region copy needs 2022-03-01 or newer"
        )
    poll = PollSettings(
        initial_seconds=_float(env, "POLL_INITIAL_SECONDS", 60.0),
        min_seconds=_float(env, "POLL_MIN_SECONDS", 30.0),
        max_seconds=_float(env, "POLL_MAX_SECONDS", 900.0, minimum=0.01),
        progress_granularity_seconds=_float(env, "POLL_PROGRESS_GRANULARITY_SECONDS", 600.0),
        learned_max_seconds=_float(env, "POLL_LEARNED_MAX_SECONDS", 172800.0, minimum=0.01),
        lag_target_seconds=_float(env, "POLL_LAG_TARGET_SECONDS", 100.0),
        copy_timeout_seconds=_float(env, "COPY_TIMEOUT_SECONDS", 14 * 24 * 3600 + 3600, minimum=1),
    )
    if poll.min_seconds > poll.max_seconds:
        raise SettingsError("setting POLL_MIN_SECONDS must not exceed POLL_MAX_SECONDS")
    # A visibility delay cannot exceed 7 days in Azure Storage.
    if poll.max_seconds > 7 * 24 * 3600:
        raise SettingsError("setting POLL_MAX_SECONDS must be at most 604800 (7 days)")
    if not poll.min_seconds <= poll.learned_max_seconds <= 7 * 24 * 3600:
        raise SettingsError("setting POLL_LEARNED_MAX_SECONDS must be in [POLL_MIN_SECONDS, 7 d]")
    queues = QueueNames(
        ensure_target=_queue(env, "QUEUE_ENSURE_TARGET", QueueNames.ensure_target),
        start_copy=_queue(env, "QUEUE_START_COPY", QueueNames.start_copy),
        poll=_queue(env, "QUEUE_POLL", QueueNames.poll),
        finish=_queue(env, "QUEUE_FINISH", QueueNames.finish),
        rerun=_queue(env, "QUEUE_RERUN", QueueNames.rerun),
        events=_queue(env, "EVENTS_QUEUE", QueueNames.events),
        drill=_queue(env, "QUEUE_DRILL", QueueNames.drill),
    )
    if len(set(queues.stages()) | {queues.events}) != len(queues.stages()) + 1:
        raise SettingsError("the stage queues and EVENTS_QUEUE must all have different names")
    table = _table(env, "LEDGER_TABLE", "rpcopyjobs")
    rules_table = _table(env, "RULES_TABLE", "rpcopyrules")
    # Table names are case-insensitive; the ledger lists its whole table, so it cannot share.
    if rules_table.lower() == table.lower():
        raise SettingsError("setting RULES_TABLE must name a different table than LEDGER_TABLE")
    return Settings(
        storage_connection=_str(env, "STORAGE_CONNECTION", "AzureWebJobsStorage"),
        queues=queues,
        ledger_table=table,
        arm=arm,
        poll=poll,
        http_auth_level=_choice(env, "HTTP_AUTH_LEVEL", "function", ("function", "anonymous")),
        event_identity=_event_identity(env),
        extra_regions=_regions(env, "EXTRA_REGIONS"),
        stage_max_attempts=_int(env, "STAGE_MAX_ATTEMPTS", 6),
        stage_retry_base_seconds=_float(env, "STAGE_RETRY_BASE_SECONDS", 5.0),
        max_throttle_waits=_int(env, "MAX_THROTTLE_WAITS", 48),
        rules_table=rules_table,
        copy_puts_per_window=_int(env, "COPY_PUTS_PER_WINDOW", 3),
        copy_put_window_seconds=_float(env, "COPY_PUT_WINDOW_SECONDS", 3600.0, minimum=1.0),
        policy_file=_opt(env, "POLICY_FILE"),
        tag_targets=_str(env, "POLICY_TAG_TARGETS", "rpcopy-targets"),
        tag_keep_last=_str(env, "POLICY_TAG_KEEP_LAST", "rpcopy-keep-last"),
        tag_max_age_days=_str(env, "POLICY_TAG_MAX_AGE_DAYS", "rpcopy-max-age-days"),
        tag_rpo_minutes=_str(env, "POLICY_TAG_RPO_MINUTES", "rpcopy-rpo-minutes"),
        tag_target_resource_group=_str(
            env, "POLICY_TAG_TARGET_RESOURCE_GROUP", "rpcopy-target-resource-group"
        ),
        sweep_schedule=_ncrontab(env, "SWEEP_SCHEDULE", "0 */15 * * * *"),
        sweep_subscriptions=_subscriptions(env, "SWEEP_SUBSCRIPTIONS"),
        sweep_dry_run=_bool(env, "SWEEP_DRY_RUN", False),
        sweep_max_failed_runs=_int(env, "SWEEP_MAX_FAILED_RUNS", 3),
        sweep_concurrency=_int(env, "SWEEP_CONCURRENCY", 8),
        eventgrid_topic_endpoint=_topic_endpoint(env, "EVENTGRID_TOPIC_ENDPOINT"),
        eventgrid_topic_key=_opt(env, "EVENTGRID_TOPIC_KEY"),
        telemetry_exporter=_choice(env, "TELEMETRY_EXPORTER", "none", ("none", "console", "otlp")),
        work_counts_dir=_opt(env, "WORK_COUNTS_DIR"),
        reruns=RerunPolicy(
            max_runs=_int(env, "RERUN_MAX_RUNS", 4),
            window_seconds=_float(env, "RERUN_WINDOW_SECONDS", 48 * 3600.0, minimum=1.0),
            backoff_seconds=_float(env, "RERUN_BACKOFF_SECONDS", 600.0),
            max_backoff_seconds=_float(env, "RERUN_MAX_BACKOFF_SECONDS", 6 * 3600.0),
        ),
        schedule_timer=_ncrontab(env, "SCHEDULE_TIMER", "0 * * * * *"),
        create_max_attempts=_int(env, "CREATE_MAX_ATTEMPTS", 5),
        create_retry_seconds=_float(env, "CREATE_RETRY_SECONDS", 60.0),
        input_limits=InputLimits(
            max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 64 * 1024),
            max_json_depth=_int(env, "MAX_JSON_DEPTH", 32),
        ),
        drills=DrillSettings(
            _float(env, "DRILL_POLL_SECONDS", 15.0), _float(env, "DRILL_TIMEOUT_SECONDS", 3600.0)
        ),
    )
