"""``dr restore-db``: the restore itself and the ``params`` change that switches the stage
to the new cluster."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from garmaxctl import redact
from garmaxctl.aws import describe_error
from garmaxctl.services.dr.cluster import (
    DEFAULT_TIMEOUT_S,
    MASK,
    POLL_S,
    RESTORED_FROM_TAG,
    ParamChange,
    Phase,
    Progress,
    Request,
    RestoreResult,
    Waiter,
    check_in_window,
    check_new_name,
    cleanup_commands,
    describe_cluster,
    instance_request,
    read_source,
    require_database,
    restore_request,
    what_exists,
    window_of,
    writer_of,
)
from garmaxctl.services.params.files import dotenv_quote, write_private_file
from garmaxctl.shared import contract
from garmaxctl.shared.errors import Interrupted, OperationError, UsageError
from garmaxctl.stage.timerange import parse_time

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget


# ----------------------------------------------------------------------------- params

def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _with_host(url: str, host: str, port: int | None) -> str | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    new_port = parts.port or port
    return urlunsplit(parts._replace(netloc=f"{auth}{host}" + (f":{new_port}" if new_port
                                                                 else "")))


def params_change(target: StageTarget, endpoint: str, port: int | None,
                  result: RestoreResult) -> None:
    """RDS_HOST and DATABASE_URL as they would be for the new cluster, compared with
    Parameter Store (read only); the real values stay in ``result._values``."""
    host_spec = contract.PARAMS_BY_ENV_KEY["RDS_HOST"]
    url_spec = contract.PARAMS_BY_ENV_KEY["DATABASE_URL"]
    paths = [host_spec.full_path(target.name), url_spec.full_path(target.name)]
    answer = target.client("ssm").get_parameters(Names=paths, WithDecryption=True)
    current = {p["Name"]: p for p in answer.get("Parameters", [])}
    for item in current.values():
        if item["Name"] == paths[1]:
            redact.register(item.get("Value"), urlsplit(item.get("Value", "")).password)

    old_host = current.get(paths[0], {}).get("Value")
    result.params.append(ParamChange(
        action="add" if old_host is None else "unchanged" if old_host == endpoint
        else "change", key="RDS_HOST", path=paths[0], type=host_spec.kind.value,
        secret=False, old=old_host, new=endpoint))
    result._values["RDS_HOST"] = endpoint

    old_url = current.get(paths[1], {}).get("Value")
    new_url = _with_host(old_url, endpoint, port) if old_url else None
    if old_url is None or new_url is None:
        result.params.append(ParamChange(
            action="skipped", key="DATABASE_URL", path=paths[1], type=url_spec.kind.value,
            secret=True, old=None if old_url is None else MASK, new=None,
            note=("not in Parameter Store" if old_url is None else "has no host")
            + f": set it yourself with host {endpoint}"))
        return
    redact.register(new_url)
    result.params.append(ParamChange(
        action="unchanged" if new_url == old_url else "change", key="DATABASE_URL",
        path=paths[1], type=url_spec.kind.value, secret=True, old=_masked_url(old_url),
        new=_masked_url(new_url),
        note="host changed; user, password and database kept" if new_url != old_url
        else None))
    result._values["DATABASE_URL"] = new_url


def env_text(result: RestoreResult) -> str:
    return "".join(f"{k}={dotenv_quote(v)}\n" for k, v in result._values.items())


# ----------------------------------------------------------------------------- restore

def default_name(source: str, now: dt.datetime, word: str = "restored") -> str:
    return f"{source}-{word}-{now.astimezone(dt.UTC):%Y%m%d%H%M}"


def restore_db(target: StageTarget, *, to: str | None = None, latest: bool = False,
               name: str | None = None, dry_run: bool = False,
               timeout_s: float = DEFAULT_TIMEOUT_S, env_out: Path | None = None,
               poll_s: float = POLL_S, clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep, now: dt.datetime | None = None,
               progress: Progress | None = None) -> RestoreResult:
    """Restore the stage's cluster to a new cluster at ``to`` (or the latest restorable
    time), create its writer, wait until both are available; the params change to it."""
    source_id = require_database(target)
    if (to is None) == (not latest):
        raise UsageError("give exactly one of --to TIME and --latest", code="usage")
    now = now or dt.datetime.now(dt.UTC)
    moment = parse_time(to, now=now).replace(microsecond=0) if to is not None else None
    if env_out is not None and env_out.exists():
        raise UsageError(f"{env_out} exists", code="file_exists",
                         hint="choose another --env-out (it is never overwritten)")
    say = progress or (lambda _line: None)
    target.check_account()
    rds = target.client("rds")
    source = read_source(target, rds, source_id)
    window = window_of(source)
    check_in_window(moment, window, source_id)
    new = check_new_name(rds, source_id, name or default_name(source_id, now))
    restore_to = moment.isoformat().replace("+00:00", "Z") if moment else "latest"
    tags = {RESTORED_FROM_TAG: f"{source_id}@{restore_to}"}
    cluster_params = restore_request(source, new, to=moment, tags=tags)
    writer = writer_of(rds, source)
    serverless_v1 = source.get("EngineMode") == "serverless"  # no instances to create
    instance = f"{new}-writer"
    result = RestoreResult(stage=target.name, source=source_id, cluster=new,
                           instances=[] if serverless_v1 else [instance],
                           restore_to=restore_to, window=window, dry_run=dry_run,
                           port=source.get("Port"))
    result.requests.append(Request("RestoreDBClusterToPointInTime", cluster_params))
    if not serverless_v1:
        result.requests.append(Request("CreateDBInstance", instance_request(
            target, source, writer, new, instance, cluster_params["Tags"])))
    if dry_run:
        endpoint = str(source.get("Endpoint") or "")
        if endpoint.startswith(source_id + "."):
            result.endpoint = new + endpoint[len(source_id):]
            result.endpoint_predicted = True
            params_change(target, result.endpoint, result.port, result)
        return result

    waiter = Waiter(rds, timeout_s=timeout_s, poll_s=poll_s, clock=clock, sleep=sleep,
                    progress=say)
    started = clock()
    say(f"restoring {source_id} to {new} ({restore_to})")
    rds.restore_db_cluster_to_point_in_time(**cluster_params)
    try:
        waiter.until("cluster", new, "available")
        result.phases.append(Phase("restore", clock() - started, "ok"))
        for request in result.requests[1:]:
            mark = clock()
            say(f"creating instance {request.params['DBInstanceIdentifier']}")
            rds.create_db_instance(**request.params)
            waiter.until("instance", request.params["DBInstanceIdentifier"], "available")
            result.phases.append(Phase("instance", clock() - mark, "ok"))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while {new} is being created: it stays; delete it "
                          "with " + "; ".join(cleanup_commands(new, result.instances))
                          ) from None
    except Exception as exc:
        left = what_exists(rds, new, result.instances)
        error = exc if isinstance(exc, OperationError) else OperationError(
            describe_error(exc).line(), code="restore_failed")
        error.hint = ("it exists: " + "; ".join(left) + ". Keep it and wait "
                      f"(`aws rds describe-db-clusters --db-cluster-identifier {new}`), or "
                      "delete it: " + "; ".join(cleanup_commands(new, result.instances)))
        error.data = {"cluster": new, "instances": result.instances, "left": left}
        if error is exc:
            raise
        raise error from exc
    restored = describe_cluster(rds, new) or {}
    result.status = "available"
    result.endpoint = restored.get("Endpoint")
    result.port = restored.get("Port", result.port)
    result.phases.append(Phase("total", clock() - started, "ok"))
    if result.endpoint:
        params_change(target, result.endpoint, result.port, result)
    if env_out is not None and result._values:
        write_private_file(env_out, env_text(result), force=False)
        result.env_out = str(env_out)
    return result
