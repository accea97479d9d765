"""Docs that cannot drift: every `garmaxctl …` line of README.md and docs/ names commands
and options that exist (the rules of what a command line is: tests/docs/commands.py)."""

from __future__ import annotations

import pytest

from tests.docs import commands
from tests.docs.commands import check, extract


def test_every_command_line_of_the_docs_exists() -> None:
    found = commands.doc_commands()
    problems = list(commands.problems_of(found))
    assert not problems, (
        f"{len(problems)} command line(s) in the docs name what the CLI does not have "
        "(fix the doc, or quote a command that is not garmaxctl's in a ```text block; "
        "the rules: tests/docs/commands.py):\n" + "\n".join(problems))


def test_the_docs_hold_command_lines_of_every_kind() -> None:
    """The extractor finds the docs' lines (a rule that silently matched nothing would pass
    the test above): README's quick start, a continued line, a synopsis, a table cell."""
    found = {(c.file, " ".join(c.words)) for c in commands.doc_commands()}
    assert ("README.md", "garmaxctl local up --detach") in found
    assert ("README.md", "garmaxctl verify") in found  # `COLUMNS=80 garmaxctl verify | less`
    assert ("docs/params.md", "garmaxctl params diff") in found  # (alias: diff)
    assert any(f == "docs/deploy.md" and w.startswith("garmaxctl deploy --require-approval")
               for f, w in found)
    assert len(found) > 150


DOC = """\
# A doc

Run `garmaxctl -s DEV params push --yes` or `COLUMNS=80 garmaxctl verify \\| less`; not
`aws ssm get-parameter` nor `garmaxctl's`.

```bash
$ garmaxctl local up --detach   # a comment --not-an-option
garmaxctl alarms mute --all \\
    --for 2h --reason "db upgrade"
make demo && garmaxctl -o json verify | jq .data
RUN=$(garmaxctl -o json audit list --since 1d) ; echo "$RUN"
GARMAX_STAGE=QA garmaxctl health > health.txt 2>&1
```

```
garmaxctl params plan    [--prune] [--exit-code]      (alias: diff)
garmaxctl params import  FILE [--identity KEYFILE]
                         [--dry-run]
```

```text
garmaxctl deploy --the-old-guide
```

```json
{"command": "garmaxctl params plan --nope"}
```

```yaml
- run: garmaxctl -s prod params export --out params-prod.age
```
"""


def test_the_extractor_finds_each_form_and_only_those() -> None:
    found = [(c.line, c.words) for c in extract(DOC, "x.md")]
    assert found == [
        (3, ("garmaxctl", "-s", "DEV", "params", "push", "--yes")),
        (3, ("garmaxctl", "verify")),
        (7, ("garmaxctl", "local", "up", "--detach")),
        (8, ("garmaxctl", "alarms", "mute", "--all", "--for", "2h", "--reason", "db upgrade")),
        (10, ("garmaxctl", "-o", "json", "verify")),
        (11, ("garmaxctl", "-o", "json", "audit", "list", "--since", "1d")),
        (12, ("garmaxctl", "health")),
        (16, ("garmaxctl", "params", "plan", "--prune", "--exit-code")),
        (16, ("garmaxctl", "params", "diff")),
        (17, ("garmaxctl", "params", "import", "FILE", "--identity", "KEYFILE", "--dry-run")),
        (30, ("garmaxctl", "-s", "prod", "params", "export", "--out", "params-prod.age")),
    ]
    assert all(not check(words) for _, words in found)


@pytest.mark.parametrize("line", [
    "garmaxctl",
    "garmaxctl --version",
    "garmaxctl -h",
    "garmaxctl params --help",
    "garmaxctl params diff --exit-code",  # an alias
    "garmaxctl params apply --dry-run",
    "garmaxctl params push --yes -s DEV",  # global options after the command
    "garmaxctl --stage=PROD -ojson params plan",
    "garmaxctl -s <stage> params plan",  # placeholders where a value goes
    "garmaxctl -s {STAGE} audit show RUN",
    "garmaxctl -s $STAGE alarms list --state ALARM",
    "garmaxctl params get NAME --decrypt",
    "garmaxctl logs tail api tryon render -f",
    "garmaxctl cost report --by=function",
    "garmaxctl idle",
])
def test_a_line_that_exists_passes(line: str) -> None:
    assert check(tuple(line.split())) == []


@pytest.mark.parametrize(("line", "message"), [
    ("garmaxctl params push --made-up", "no option --made-up in `garmaxctl params push`"),
    ("garmaxctl params psuh", "no command `psuh` in `garmaxctl params` (it has: plan, diff"),
    ("garmaxctl paramz plan", "no command `paramz` in `garmaxctl`"),
    ("garmaxctl params plan --exit-code=1", "option --exit-code of `garmaxctl params plan` "
                                            "takes no value"),
    ("garmaxctl alarms mute --all --for", "option --for of `garmaxctl alarms mute` needs a "
                                          "value"),
    ("garmaxctl params push extra", "`garmaxctl params push` takes 0 argument(s), the line "
                                    "gives 1"),
    ("garmaxctl params plan --prun", "no option --prun in `garmaxctl params plan` (did you "
                                     "mean --prune?)"),
    ("garmaxctl --versoin", "no option --versoin in `garmaxctl` (did you mean --version?)"),
])
def test_a_line_that_does_not_exist_fails_saying_what(line: str, message: str) -> None:
    problems = check(tuple(line.split()))
    assert any(message in p for p in problems), problems


def test_a_made_up_option_in_a_doc_fails_with_file_line_and_name() -> None:
    text = "Intro.\n\n```bash\ngarmaxctl -s dev params push \\\n  --force-everything\n```\n"
    found = extract(text, "docs/made-up.md")
    assert list(commands.problems_of(found)) == [
        "docs/made-up.md:4: `garmaxctl -s dev params push    --force-everything`: "
        "no option --force-everything in `garmaxctl params push`"]
