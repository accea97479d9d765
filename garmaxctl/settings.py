"""Settings: the team's ``.env`` file, and garmaxctl's own ``GARMAX_*`` variables.

The ``.env`` model reads the file alone (python-dotenv's parser, never a shell, never the
process environment): quotes, ``=``, ``#``, multi-line JSON and URLs survive intact.
Placeholders (``contract.is_placeholder``) count as unset. Validation knows the formats
of the platform's keys and never echoes a value in a message.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from garmaxctl.shared import contract
from garmaxctl.shared.errors import ConfigError

# Keys of the deployment guide that are not Parameter Store entries.
GUIDE_ONLY_KEYS: tuple[str, ...] = (
    "AWS_REGION",
    "RENDER_PROVIDER",
    "GEMINI_TRAFFIC_PERCENT",
    "HOSTED_ZONE_NAME",
    "FRONTEND_DOMAIN_NAME",
    "BACKEND_DOMAIN_NAME",
    "CERTIFICATE_ARN",
)
ALL_KEYS: tuple[str, ...] = tuple(p.env_key for p in contract.PARAMETERS) + GUIDE_ONLY_KEYS

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)
_HTTP_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$", re.IGNORECASE)


class CliSettings(BaseSettings):
    """garmaxctl's own settings: ``GARMAX_*`` environment variables only."""

    model_config = SettingsConfigDict(env_prefix="GARMAX_", extra="ignore")

    local_port: int = Field(default=4566, ge=1, le=65535)
    api_port: int = Field(default=3001, ge=1, le=65535)
    state_dir: Path = Path(".garmax")


def _prefixed(prefix: str, message: str) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None and not value.startswith(prefix):
            raise ValueError(message)
        return value

    return check


class EnvSettings(BaseSettings):
    """Every key of ``.env.example``: the team's unprefixed names, as the guide uses them."""

    model_config = SettingsConfigDict(extra="allow", validate_default=False)

    REPLICATE_API_KEY: str | None = None
    STRIPE_SECRET_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: str | None = None
    STRIPE_PRICE_BASIC_MONTHLY: str | None = None
    STRIPE_PRICE_PRO_MONTHLY: str | None = None
    STRIPE_PRICE_UNLIMITED_MONTHLY: str | None = None
    STRIPE_STARTER_PRICE_ID: str | None = None
    COGNITO_USER_POOL_ID: str | None = None
    COGNITO_CLIENT_ID: str | None = None
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    RDS_HOST: str | None = None
    RDS_USERNAME: str | None = None
    RDS_PASSWORD: str | None = None
    JWT_SECRET: str | None = None
    REPLICATE_DAILY_BUDGET_USD: float | None = Field(default=None, ge=0)
    MAX_RENDERS_PER_USER_DAILY: int | None = Field(default=None, ge=0)
    FRONTEND_URL: str | None = None
    DAILY_BUDGET_USD: float | None = Field(default=None, ge=0)
    ALERT_EMAIL: str | None = None
    AWS_ACCOUNT_ID: str | None = None
    UPLOADS_BUCKET_NAME: str | None = None
    RENDERS_BUCKET_NAME: str | None = None
    GUIDANCE_BUCKET_NAME: str | None = None
    SMPL_ASSETS_BUCKET_NAME: str | None = None
    GEMINI_API_KEY: str | None = None
    GEMINI_API_ENDPOINT: str | None = None
    GEMINI_DAILY_BUDGET_USD: float | None = Field(default=None, ge=0)
    GEMINI_MAX_BATCH_SIZE: int | None = Field(default=None, ge=1)
    GEMINI_SERVICE_ACCOUNT_JSON: str | None = None
    INTERNAL_API_KEY: str | None = None
    BEDROCK_DAILY_BUDGET_USD: float | None = Field(default=None, ge=0)
    MAX_TRYONS_PER_USER_DAILY: int | None = Field(default=None, ge=0)
    MAX_CONCURRENT_RENDERS_PER_USER: int | None = Field(default=None, ge=1)
    # Guide keys that are not Parameter Store entries.
    AWS_REGION: str | None = None
    RENDER_PROVIDER: str | None = None
    GEMINI_TRAFFIC_PERCENT: int | None = Field(default=None, ge=0, le=100)
    HOSTED_ZONE_NAME: str | None = None
    FRONTEND_DOMAIN_NAME: str | None = None
    BACKEND_DOMAIN_NAME: str | None = None
    CERTIFICATE_ARN: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file alone: values are handed in by load_env_file(), never read from the
        # process environment.
        return (init_settings,)

    @model_validator(mode="before")
    @classmethod
    def _placeholders_are_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if contract.is_placeholder(v) else v) for k, v in data.items()}
        return data

    _replicate = field_validator("REPLICATE_API_KEY")(
        _prefixed("r8_", "a Replicate API token starts with r8_"))
    _stripe_secret = field_validator("STRIPE_SECRET_KEY")(
        _prefixed("sk_", "a Stripe secret key starts with sk_"))
    _stripe_webhook = field_validator("STRIPE_WEBHOOK_SECRET")(
        _prefixed("whsec_", "a Stripe webhook signing secret starts with whsec_"))
    _stripe_prices = field_validator(
        "STRIPE_PRICE_BASIC_MONTHLY", "STRIPE_PRICE_PRO_MONTHLY",
        "STRIPE_PRICE_UNLIMITED_MONTHLY", "STRIPE_STARTER_PRICE_ID",
    )(_prefixed("price_", "a Stripe price id starts with price_"))
    _certificate = field_validator("CERTIFICATE_ARN")(
        _prefixed("arn:aws:acm:", "a certificate ARN starts with arn:aws:acm:"))

    @field_validator("ALERT_EMAIL")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value

    @field_validator("AWS_ACCOUNT_ID")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError("an AWS account id is 12 digits")
        return value

    @field_validator("AWS_REGION")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError("not an AWS region name (e.g. us-east-1)")
        return value

    @field_validator("FRONTEND_URL", "GEMINI_API_ENDPOINT")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError("not an http(s) URL")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError("not a database URL (e.g. mysql://user:pass@host:3306/db)")
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^rediss?://\S+$", value):
            raise ValueError("not a Redis URL (redis:// or rediss://)")
        return value

    @field_validator("GEMINI_SERVICE_ACCOUNT_JSON")
    @classmethod
    def _json_object(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parsed = json.loads(value)
            except ValueError:
                raise ValueError("not valid JSON") from None
            if not isinstance(parsed, dict):
                raise ValueError("must be a JSON object")
        return value

    @field_validator("RENDER_PROVIDER")
    @classmethod
    def _provider(cls, value: str | None) -> str | None:
        if value is not None and value not in {"local", "replicate", "gemini", "bedrock"}:
            raise ValueError("must be one of local, replicate, gemini, bedrock")
        return value

    @field_validator("HOSTED_ZONE_NAME", "FRONTEND_DOMAIN_NAME", "BACKEND_DOMAIN_NAME")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError("not a domain name")
        return value


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    line: int | None = None


@dataclass
class EnvFile:
    """A parsed ``.env``: raw values as written, the validated model, and any problems."""

    path: Path
    exists: bool
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    settings: EnvSettings | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def is_set(self, key: str) -> bool:
        return not contract.is_placeholder(self.values.get(key))

    def secret_values(self) -> list[str]:
        """Every secret value in the file, for redaction of logs and tracebacks."""
        return [v for k, v in self.values.items()
                if k in contract.SECRET_ENV_KEYS and not contract.is_placeholder(v)]


def parse_env_text(text: str) -> tuple[dict[str, str], dict[str, int], list[Problem]]:
    """Parse ``.env`` text with python-dotenv's own parser, line numbers kept."""
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            first = binding.original.string.strip().splitlines()[0] if binding.original.string \
                else ""
            # Name the key only when the line starts with one: the rest of a broken line
            # may be a pasted secret, and is never echoed.
            candidate = first.split("=", 1)[0].strip()
            key = candidate if candidate.isidentifier() and "=" in first else "?"
            problems.append(Problem(key=key,
                                    message="line could not be parsed (expected KEY=value)",
                                    line=binding.original.line))
            continue
        if binding.key is None:
            continue  # comment or blank line
        # A line holding a bare word, or a key no variable could have ('"KEY=value'), is
        # a broken line too. Its key is named only when it is one of ours: a bare word may
        # be a pasted secret.
        shown = binding.key if binding.key in ALL_KEYS else "?"
        if not _KEY_NAME.match(binding.key):
            problems.append(Problem(key=shown, line=binding.original.line,
                                    message="not a variable name (expected KEY=value)"))
            continue
        if binding.value is None:
            problems.append(Problem(key=shown, line=binding.original.line,
                                    message="no '=' (expected KEY=value; KEY= for empty)"))
            continue
        if binding.key in values:
            problems.append(Problem(key=binding.key, message="key is set twice",
                                    line=binding.original.line))
        values[binding.key] = binding.value if binding.value is not None else ""
        lines[binding.key] = binding.original.line
    return values, lines, problems


def load_env_file(path: Path | str) -> EnvFile:
    """Read and validate a ``.env`` file. A missing file is an empty, existing=False result."""
    env_path = Path(path)
    if not env_path.exists():
        return EnvFile(path=env_path, exists=False, settings=EnvSettings())
    try:
        text = env_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {env_path}: {exc.__class__.__name__}",
                          hint="check the file's permissions and encoding (UTF-8)") from None
    values, lines, problems = parse_env_text(text)
    known = {k: v for k, v in values.items() if k in ALL_KEYS}
    settings: EnvSettings | None = None
    try:
        settings = EnvSettings(**known)  # type: ignore[arg-type]  # pydantic parses the text
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            key = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(Problem(key=key, message=message, line=lines.get(key)))
    return EnvFile(path=env_path, exists=True, values=values, lines=lines, settings=settings,
                   problems=sorted(problems, key=lambda p: (p.line or 0, p.key)))


def require_valid(env: EnvFile) -> EnvFile:
    if env.problems:
        first = env.problems[0]
        where = f"{env.path}:{first.line}" if first.line else str(env.path)
        more = f" (and {len(env.problems) - 1} more)" if len(env.problems) > 1 else ""
        raise ConfigError(f"{where}: {first.key}: {first.message}{more}",
                          hint="run `garmaxctl config validate` to list every problem",
                          data={"problems": [p.__dict__ for p in env.problems]})
    return env


def state_dir() -> Path:
    """garmaxctl's own files (``GARMAX_STATE_DIR``, default ``.garmax``); a relative path is
    taken from the project directory, so every command finds the same files from any
    working directory."""
    configured = CliSettings().state_dir
    return configured if configured.is_absolute() else project_dir() / configured


def project_dir() -> Path:
    """The directory holding package.json and node_modules (the pinned CDK CLI).

    ``GARMAX_PROJECT_DIR`` wins; otherwise the source checkout garmaxctl runs from; otherwise
    the current directory.
    """
    import os

    configured = os.environ.get("GARMAX_PROJECT_DIR")
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "package.json").exists():
        return checkout
    return Path.cwd()
