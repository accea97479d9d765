"""Every command group and command of garmaxctl, once, in the order ``--help`` shows them.

This list is the one place a command is registered (docs/architecture.md, "How to add a
command"). The CLI reads it to build the command tree lazily: ``garmaxctl --help`` and
``garmaxctl GROUP --help`` import no command module; a command's module is imported only
when that command runs or shows its own help (``garmaxctl.cli.LazyGroup``). AWS SAM CLI's
``samcli/cli/command.py`` is the model.

Each entry also carries facts that later work needs once, not in lists of its own:
``mutates`` (the command changes the stage: confirmation on PROD, the audit trail, the
fuzzer's fail-fast rules) and ``actions`` (the AWS actions it calls, for least privilege).

Pure data: this module imports nothing of garmaxctl but ``garmaxctl.permissions`` (pure
data too: the named permission sets the entries' ``actions`` refer to).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from garmaxctl import permissions as P  # the sets read as P.READ_STACK

COMMANDS_PACKAGE = "garmaxctl.commands"


@dataclass(frozen=True)
class Entry:
    """A group (no ``module``) or a command (``module`` + ``function``)."""

    path: str  # words from the root: "params push"
    help: str  # the short help shown in the parent's listing
    module: str | None = None  # below garmaxctl.commands: "params"
    function: str | None = None  # the command function in that module
    mutates: bool = False
    actions: tuple[P.Permission, ...] = ()  # garmaxctl.permissions: action + resource
    hidden: bool = False
    alias: bool = False  # another name for a command: ``help`` is its help too

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.path.split())

    @property
    def name(self) -> str:
        return self.words[-1]

    @property
    def parent(self) -> tuple[str, ...]:
        return self.words[:-1]

    @property
    def is_group(self) -> bool:
        return self.module is None

    @property
    def import_path(self) -> str:
        assert self.module is not None, f"{self.path} is a group"
        return f"{COMMANDS_PACKAGE}.{self.module}"


def group(path: str, help: str) -> Entry:
    return Entry(path=path, help=help)


def command(path: str, help: str, module: str, function: str | None = None, *,
            mutates: bool = False, hidden: bool = False, alias: bool = False,
            actions: tuple[P.Permission, ...] = ()) -> Entry:
    return Entry(path=path, help=help, module=module,
                 function=function or path.split()[-1], mutates=mutates, hidden=hidden,
                 alias=alias,
                 # A mutating command also writes its audit record (docs/security.md).
                 actions=P.union(actions, P.AUDIT_TRAIL if mutates else ()))


REGISTRY: tuple[Entry, ...] = (
    command("doctor", "Check tools, credentials, the emulator (LOCAL) and .env for the "
                      "stage.", "doctor",
            actions=P.DOCTOR),
    command("synth", "Synthesize GarmaxAiStack-{STAGE} (skipped when nothing changed).",
            "deploy"),
    command("diff", "Show what a deploy would change (the CDK diff).", "deploy",
            actions=P.CDK_DIFF),
    command("bootstrap", "Bootstrap the stage's account and region for the CDK.", "deploy",
            mutates=True,
            actions=P.BOOTSTRAP),
    command("deploy", "Deploy GarmaxAiStack-{STAGE} through the CDK CLI; record a deploy "
                      "marker.", "deploy", mutates=True,
            actions=P.DEPLOY),
    command("destroy", "Delete GarmaxAiStack-{STAGE} (asks on every stage).", "deploy",
            mutates=True,
            actions=P.DESTROY),
    command("outputs", "The stack's CloudFormation outputs.", "deploy",
            actions=P.READ_STACK),

    group("params", "Keep Parameter Store in sync with .env: plan, push, pull, history, "
                    "rollback, restore (secrets never printed)."),
    command("params plan", "Compare .env with Parameter Store: add / change / unchanged / "
                           "skipped / extra.", "params",
            actions=P.PARAMS_PLAN),
    command("params diff", "Alias of `params plan`.", "params", "plan", alias=True,
            actions=P.PARAMS_PLAN),
    command("params push", "Write what differs from .env (PROD: confirm or --yes).", "params",
            mutates=True,
            actions=P.PARAMS_PUSH),
    command("params apply", "Alias of `params push`.", "params", "push", mutates=True,
            alias=True,
            actions=P.PARAMS_PUSH),
    command("params list", "Names, types, versions and last-modified dates (no values).",
            "params", "list_",
            actions=P.READ_PARAM_TREE),
    command("params get", "Print one parameter's raw value; a secret only with --decrypt.",
            "params",
            actions=P.READ_PARAM),
    command("params pull", "Parameter Store as a .env (or JSON) document.", "params",
            actions=P.PARAMS_PULL),
    command("params history", "Every kept version of one parameter.", "params",
            actions=P.READ_PARAM_HISTORY),
    command("params rollback", "Write an earlier version's value back as a new version.",
            "params", mutates=True,
            actions=P.PARAMS_ROLLBACK),
    command("params restore", "Put the whole stage tree back as it was at a time.", "params",
            mutates=True,
            actions=P.PARAMS_RESTORE),
    command("params export", "An encrypted backup of the stage's parameters.", "params",
            actions=P.PARAMS_EXPORT),
    command("params import", "Put an export back, like push.", "params", "import_", mutates=True,
            actions=P.PARAMS_IMPORT),

    group("idle", "Scale a stage down while idle and restore it exactly (docs/idle.md)."),
    command("idle down", "Snapshot, then scale the stage down.", "idle", mutates=True,
            actions=P.IDLE_DOWN),
    command("idle up", "Restore exactly what the snapshot recorded.", "idle", mutates=True,
            actions=P.IDLE_UP),
    command("idle status", "Live state beside the snapshot, drift, lock, saving.", "idle",
            actions=P.IDLE_STATUS),

    command("health", "Check every part of the stage at once; exit 1 unless healthy.",
            "health",
            actions=P.HEALTH),
    command("verify", "Run the post-deployment checklist, one row per item.", "verify",
            actions=P.VERIFY),
    command("smoke", "A try-on session and an sd render through the API, cleaned up.",
            "smoke", mutates=True,
            actions=P.SMOKE),
    command("status", "Version, health, alarms, idle state and today's spend.", "status",
            actions=P.STATUS),

    group("alarms", "The stage's CloudWatch alarms: list, show, history, test a "
                    "notification, mute for maintenance."),
    command("alarms list", "State, since, reason and whether actions run (muted, idle).",
            "alarms", "list_",
            actions=P.ALARMS_LIST),
    command("alarms show", "One alarm: condition in words, metrics, last transitions.",
            "alarms",
            actions=P.ALARMS_SHOW),
    command("alarms history", "State changes and action results; --flapping.", "alarms",
            actions=P.ALARMS_HISTORY),
    command("alarms test", "Set ALARM, prove the notification was accepted, put it back.",
            "alarms", mutates=True,
            actions=P.ALARMS_TEST),
    command("alarms mute", "Mute actions for a while (an alarm mute rule, 15 days at most).",
            "alarms", mutates=True,
            actions=P.ALARMS_MUTE),
    command("alarms unmute", "Remove garmaxctl's mute rule of an alarm (or --all).",
            "alarms", mutates=True,
            actions=P.ALARMS_UNMUTE),

    group("cost", "The stage's cost from Cost Explorer: report, forecast ($0.01 a request, "
                  "cached 6 h)."),
    command("cost report", "The stage's cost beside the account's, by service, usage type "
                           "or function.", "cost",
            actions=P.READ_COST),
    command("cost forecast", "The cost to the end of the month, with its prediction "
                             "interval.", "cost",
            actions=P.READ_COST),

    group("budget", "Today's AI spend against the daily budgets and the breaker."),
    command("budget status", "Spend per provider, breaker level, top users, AWS Budgets.",
            "budget",
            actions=P.BUDGET_STATUS),

    group("logs", "The functions' CloudWatch Logs: tail (Live Tail or polling), query."),
    command("logs tail", "The functions' log lines interleaved by time; --follow until "
                         "Ctrl-C.", "logs",
            actions=P.LOGS_TAIL),
    command("logs query", "Logs Insights: a preset or your own query, with what it scanned "
                          "and cost.", "logs_query", "query",
            actions=P.LOGS_QUERY),
    command("logs errors", "Errors per function and time bin (the errors preset, counted).",
            "logs_query", "errors",
            actions=P.LOGS_QUERY),

    group("dr", "Disaster recovery: restore the database to a point in time; drill it "
                "(docs/dr.md)."),
    command("dr restore-db", "Restore the stage's Aurora cluster to a new cluster at a "
                             "time; print the params change.", "dr", "restore_db",
            mutates=True,
            actions=P.DR_RESTORE),
    command("dr drill", "DEV/QA: restore to a throw-away cluster, check it, delete it, "
                        "time it.", "dr", mutates=True,
            actions=P.DR_DRILL),

    group("audit", "The audit trail of every command that changed a stage: list, show, "
                   "verify the chain (docs/security.md)."),
    command("audit list", "Who changed what, when: one row per run of a mutating command.",
            "audit", "list_"),
    command("audit show", "One audit record in full (secrets never recorded).", "audit"),
    command("audit verify", "Check the hash chain and the head kept in SSM; exit 1 if "
                            "broken.", "audit", actions=P.AUDIT_VERIFY),

    group("local", "Run the LOCAL stage on this machine: the embedded AWS emulator, the "
                   "deployed stack, the local API and workers."),
    command("local up", "Start the emulator, deploy LOCAL, serve the API; Ctrl-C stops all.",
            "local"),
    command("local down", "Stop what `local up` started (never anything else).", "local"),
    command("local status", "Endpoint, API URL, pid and uptime.", "local"),
    command("local logs", "The emulator's, gateway's and workers' log.", "local"),
    command("local reset", "Wipe every resource in the emulator; redeploy LOCAL.", "local",
            mutates=True),

    group("config", "Show the resolved configuration; validate the .env file."),
    command("config show", "The stage's resolved config and the .env settings.", "config"),
    command("config validate", "Validate the .env file: exit 2 with each problem.",
            "config"),
)


def children(parent: tuple[str, ...]) -> Iterator[Entry]:
    """The entries directly below ``parent`` (``()``: the root), in registry order."""
    return (e for e in REGISTRY if e.parent == parent)


def find(path: str | tuple[str, ...]) -> Entry | None:
    words = tuple(path.split()) if isinstance(path, str) else tuple(path)
    return next((e for e in REGISTRY if e.words == words), None)


def commands() -> list[Entry]:
    """Every runnable command (no groups)."""
    return [e for e in REGISTRY if not e.is_group]
