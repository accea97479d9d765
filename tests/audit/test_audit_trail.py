"""Issue 13, acceptance 2: every mutating command leaves one audit record, with no secret in
it, and ``audit verify`` finds an edited, deleted, reordered or cut-off record.

The mutating commands come from the registry (``mutates=True``), so a new one is covered
the day it is registered. Most run on their fail-fast path (a stopped emulator, a refusal):
those still finish and are recorded. ``params push`` runs for real on a stage under moto,
with the log group created between two runs (remote pending, then sent).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from garmaxctl import __version__, registry
from garmaxctl.aws import AwsTarget
from garmaxctl.services import audit
from garmaxctl.shared import contract
from tests.audit.conftest import chain, chain_file
from tests.cli.test_canary_matrix import GOOD_ENV, leaked
from tests.cli.test_fail_fast import ARGS as FAIL_FAST_ARGS
from tests.cli.test_golden_documents import FAKE_CDK, _script
from tests.conftest import free_port
from tests.params.conftest import MOTO_ACCOUNT

MUTATING = [e.path for e in registry.commands() if e.mutates]
# A --token canary with quotes, a backslash, a newline and JSON: never recorded.
TOKEN_CANARY = 'Zq7TtokenCnry"a\\b\n{"private_key": "Zq7TtokenCnry"}'


def _read_all(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- every command

@pytest.mark.parametrize("path", MUTATING)
def test_every_mutating_command_leaves_one_record_without_a_secret(cli, write_env, monkeypatch,
                                                                  path: str) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))  # a stopped emulator
    write_env(GOOD_ENV)  # every secret a canary
    args = [*FAIL_FAST_ARGS.get(path, [])]
    if path == "smoke":
        args += ["--token", TOKEN_CANARY]
    result = cli("-o", "json", *path.split(), *args)
    document = json.loads(result.stdout)
    (record,) = chain("LOCAL")
    assert record["command"] == path
    assert record["exit_code"] == result.exit_code == document["exit_code"] != 0
    assert record["outcome"] == document["error"]["code"]
    assert record["stage"] == "LOCAL" and record["seq"] == 1
    assert record["prev"] == audit.GENESIS and record["hash"] == audit.record_hash(record)
    assert "warnings" not in document  # written: nothing to warn about
    stored = _read_all(chain_file("LOCAL").parent)
    assert not leaked(stored) and "Zq7TtokenCnry" not in stored
    if path == "smoke":
        assert record["arguments"]["token"] == "****"


def test_the_registry_flags_every_command_that_changes_a_stage() -> None:
    assert set(MUTATING) >= {
        "deploy", "destroy", "bootstrap", "params push", "params rollback", "params restore",
        "params import", "idle down", "idle up", "alarms test", "alarms mute",
        "alarms unmute", "smoke", "dr restore-db", "dr drill", "local reset"}
    assert not {"audit list", "audit show", "audit verify"} & set(MUTATING)


def test_a_read_only_command_and_a_line_that_does_not_parse_leave_no_record(cli) -> None:
    cli("-o", "json", "audit", "list")
    cli("-o", "json", "params", "push", "--no-such-option")
    assert chain("LOCAL") == []


def test_ctrl_c_is_recorded_with_exit_130(cli, write_env, monkeypatch) -> None:
    from garmaxctl.services import params

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(params, "plan_from_env", interrupted)
    write_env("")
    result = cli("-o", "json", "params", "push")
    assert result.exit_code == 130
    (record,) = chain("LOCAL")
    assert (record["exit_code"], record["outcome"]) == (130, "interrupted")


def test_a_record_that_cannot_be_written_is_a_warning_and_keeps_the_exit_code(
        cli, write_env, monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GARMAX_STATE_DIR", str(blocker / "state"))
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    write_env("")
    result = cli("-o", "json", "params", "push")
    document = json.loads(result.stdout)
    assert result.exit_code == 1 and document["error"]["code"] == "emulator_not_running"
    (warning,) = document["warnings"]
    assert "audit record" in warning and "not written" in warning
    assert "warning: the audit record" in result.stderr


# --------------------------------------------------------------------------- a real push

@pytest.fixture
def dev(monkeypatch) -> Any:
    from moto import mock_aws

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", MOTO_ACCOUNT)
    with mock_aws():
        yield


def _user_agents(monkeypatch) -> list[str]:
    agents: list[str] = []
    make_session = AwsTarget._make_session

    def recording(self: AwsTarget) -> Any:
        session = make_session(self)
        session.events.register(
            "before-send", lambda request, **_: agents.append(
                request.headers["User-Agent"].decode()
                if isinstance(request.headers["User-Agent"], bytes)
                else request.headers["User-Agent"]))
        return session

    monkeypatch.setattr(AwsTarget, "_make_session", recording)
    return agents


def test_a_push_is_recorded_pending_then_sent_with_the_head_in_ssm(
        cli, write_env, monkeypatch, dev) -> None:
    write_env(GOOD_ENV)
    agents = _user_agents(monkeypatch)
    first = cli("-s", "dev", "-o", "json", "params", "push")
    assert first.exit_code == 0, first.stdout
    (record,) = chain("DEV")
    assert record["outcome"] == "ok" and record["exit_code"] == 0
    assert record["caller"] == f"arn:aws:sts::{MOTO_ACCOUNT}:user/moto"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", record["plan_digest"])
    assert "add JWT_SECRET v1" in record["changed"]
    # Every AWS call of the run carries the command and the run id (CloudTrail's join).
    assert agents and all(f"garmaxctl/{__version__} cmd/params.push run/{record['run_id']}"
                          in agent for agent in agents)
    assert audit.sent_seq("DEV") == 0  # no log group yet: remote pending
    listed = json.loads(cli("-s", "dev", "-o", "json", "audit", "list").stdout)
    assert [r["remote"] for r in listed["data"]["records"]] == ["pending"]

    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName=contract.audit_log_group("DEV"))
    second = cli("-s", "dev", "-o", "json", "params", "push")  # nothing to write: recorded
    assert second.exit_code == 0
    records = chain("DEV")
    assert [r["seq"] for r in records] == [1, 2] and records[1]["changed"] == []
    assert records[1]["prev"] == records[0]["hash"]
    assert records[0]["plan_digest"] != records[1]["plan_digest"]
    stream = logs.describe_log_streams(
        logGroupName=contract.audit_log_group("DEV"))["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName=contract.audit_log_group("DEV"),
                                 logStreamName=stream)["events"]
    assert [json.loads(e["message"]) for e in events] == records
    head = json.loads(boto3.client("ssm", region_name="us-east-1").get_parameter(
        Name=contract.audit_head_parameter("DEV"))["Parameter"]["Value"])
    assert (head["seq"], head["hash"]) == (2, records[1]["hash"])
    assert not leaked(json.dumps([e["message"] for e in events]))
    assert not leaked(_read_all(chain_file("DEV").parent))

    verified = cli("-s", "dev", "-o", "json", "audit", "verify")
    assert verified.exit_code == 0, verified.stdout
    (check,) = json.loads(verified.stdout)["data"]["chains"]
    assert check["head"] == "matches"

    # Deleting the last record locally: only the head in SSM can tell.
    path = chain_file("DEV")
    path.write_text(path.read_text().splitlines(keepends=True)[0])
    cut = cli("-s", "dev", "-o", "json", "audit", "verify")
    assert cut.exit_code == 1
    error = json.loads(cut.stdout)["error"]
    assert error["code"] == "audit_chain_broken" and "truncated" in error["message"]


def test_a_refused_send_is_a_warning_and_the_record_stays_pending(cli, write_env,
                                                                   monkeypatch, dev) -> None:
    boto3.client("logs", region_name="us-east-1").create_log_group(
        logGroupName=contract.audit_log_group("DEV"))
    make_session = AwsTarget._make_session

    def denied(**_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        error = {"Error": {"Code": "AccessDeniedException",
                           "Message": "not authorized to perform: logs:PutLogEvents"}}
        return AWSResponse("https://logs", 400, {}, None), error

    def refusing(self: AwsTarget) -> Any:
        session = make_session(self)
        session.events.register("before-call.logs.PutLogEvents", denied)
        return session

    monkeypatch.setattr(AwsTarget, "_make_session", refusing)
    write_env(GOOD_ENV)
    result = cli("-s", "dev", "-o", "json", "params", "push")
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["ok"] is True  # the push stands
    (warning,) = document["warnings"]
    assert "kept locally, not sent" in warning and "AccessDeniedException" in warning
    assert "warning: audit record" in result.stderr
    (record,) = chain("DEV")
    assert record["outcome"] == "ok" and audit.sent_seq("DEV") == 0


def test_a_run_whose_rendering_fails_is_recorded_once(cli, write_env, monkeypatch,
                                                      dev) -> None:
    from garmaxctl import output

    def broken_pipe(*_: Any, **__: Any) -> int:
        raise BrokenPipeError

    monkeypatch.setattr(output, "emit", broken_pipe)
    write_env(GOOD_ENV)
    result = cli("-s", "dev", "params", "push")  # written, then stdout is gone
    assert result.exit_code == 1
    (record,) = chain("DEV")
    assert (record["outcome"], record["exit_code"]) == ("ok", 0)  # what the push did


def test_the_cdk_cli_gets_the_run_in_its_user_agent_app_id(cli, write_env, monkeypatch,
                                                           project, dev) -> None:
    seen = project / "app-id.txt"
    recorder = (f"import os, pathlib\npathlib.Path({str(seen)!r}).open('a').write("
                "os.environ.get('AWS_SDK_UA_APP_ID', '') + '\\n')\n")
    root = project / "checkout"
    _script(root / "node_modules" / ".bin" / "cdk", recorder + FAKE_CDK)
    monkeypatch.setenv("GARMAX_PROJECT_DIR", str(root))
    write_env(GOOD_ENV)
    result = cli("-s", "dev", "-o", "json", "deploy")  # the fake CDK refuses `deploy`
    assert result.exit_code == 1
    (record,) = chain("DEV")
    app_ids = set(seen.read_text().split("\n")) - {""}
    assert app_ids == {f"garmaxctl/{__version__} cmd/deploy run/{record['run_id']}"}
    assert all(len(a) <= 50 for a in app_ids)  # the JavaScript SDK warns past 50


# --------------------------------------------------------------------------- verify

def _four_records() -> list[str]:
    for n in range(4):
        audit.append("QA", audit.build_record(audit.RunFacts(
            run_id=f"run{n:09d}", started=audit.dt.datetime.now(audit.dt.UTC), stage="QA",
            command="idle down", params={}, options={}, exit_code=n % 2,
            outcome="ok" if n % 2 == 0 else "failed")))
    return chain_file("QA").read_text().splitlines(keepends=True)


def _edit(lines: list[str]) -> list[str]:
    return [lines[0], lines[1].replace('"exit_code":1', '"exit_code":0'), *lines[2:]]


def _edit_and_rehash(lines: list[str]) -> list[str]:
    record = json.loads(lines[1])
    record["exit_code"] = 0
    record["hash"] = audit.record_hash(record)
    return [lines[0], audit.canonical(record) + "\n", *lines[2:]]


TAMPERING = {
    "edited": (_edit, 2, "was edited"),
    "edited and rehashed": (_edit_and_rehash, 3, "does not follow"),
    "deleted": (lambda lines: [lines[0], *lines[2:]], 2, "does not follow"),
    "reordered": (lambda lines: [lines[0], lines[2], lines[1], lines[3]], 2,
                  "does not follow"),
    "first deleted": (lambda lines: lines[1:], 1, "does not follow"),
}


def test_an_untouched_chain_verifies(cli) -> None:
    _four_records()
    result = cli("-o", "json", "audit", "verify")
    assert result.exit_code == 0
    (check,) = json.loads(result.stdout)["data"]["chains"]
    assert (check["stage"], check["records"], check["ok"]) == ("QA", 4, True)


@pytest.mark.parametrize("how", TAMPERING)
def test_verify_finds_the_first_broken_link(cli, how: str) -> None:
    change, line, words = TAMPERING[how]
    lines = _four_records()
    chain_file("QA").write_text("".join(change(lines)))
    result = cli("-o", "json", "audit", "verify")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["error"]["code"] == "audit_chain_broken"
    (check,) = document["data"]["chains"]
    assert check["line"] == line and words in check["problem"]


def test_a_record_differing_from_the_head_is_found() -> None:
    _four_records()
    records = chain("QA")
    assert audit.verify_chain("QA", {"seq": 4, "hash": records[3]["hash"]}).ok
    forged = audit.verify_chain("QA", {"seq": 3, "hash": "f" * 64})
    assert not forged.ok and forged.line == 3 and "differs" in str(forged.problem)


def test_concurrent_runs_never_fork_nor_interleave_the_chain() -> None:
    def writer(n: int) -> None:
        for i in range(25):
            audit.append("DEV", audit.build_record(audit.RunFacts(
                run_id=f"w{n}-{i}", started=audit.dt.datetime.now(audit.dt.UTC),
                stage="DEV", command="params push", params={"reason": "x" * 150},
                options={}, exit_code=0, outcome="ok")))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check = audit.verify_chain("DEV")
    assert check.ok and check.records == 100, check


# --------------------------------------------------------------------------- list / show

def test_list_filters_and_show_gives_one_record_in_full(cli, write_env, monkeypatch) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    write_env("")
    cli("params", "push")
    cli("alarms", "mute", "--all", "--for", "2h", "--reason", "maintenance")
    listed = json.loads(cli("-o", "json", "audit", "list", "--command", "alarms").stdout)
    (row,) = listed["data"]["records"]
    assert row["command"] == "alarms mute"
    shown = json.loads(cli("-o", "json", "audit", "show", row["run_id"][:6]).stdout)
    assert shown["data"]["arguments"]["reason"] == "maintenance"
    assert shown["data"]["remote"] == "pending"
    missing = cli("-o", "json", "audit", "show", "ffffffff")
    assert missing.exit_code == 2
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"
    assert json.loads(cli("-o", "json", "-s", "qa", "audit", "list").stdout)[
        "data"]["records"] == []


def test_the_list_reads_at_80_columns(cli, write_env, monkeypatch) -> None:
    from rich.console import Console

    from garmaxctl import output
    from garmaxctl.commands.audit import list_table

    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    write_env("")
    cli("alarms", "unmute", "--all")
    cli("dr", "restore-db", "--latest")
    document = json.loads(cli("-o", "json", "audit", "list").stdout)
    rows = document["data"]["records"]
    assert [r["command"] for r in rows] == ["alarms unmute", "dr restore-db"]
    console = Console(width=80, record=True, color_system=None)
    console.print(output.render_table(list_table(rows, document["data"]["since"])))
    lines = console.export_text().splitlines()
    for row in rows:  # each row whole on one line: no id or word broken
        assert any(row["run_id"] in line and row["command"] in line and "pending" in line
                   for line in lines)
    assert max(len(line) for line in lines) <= 80
