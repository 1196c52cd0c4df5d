"""Docs are tested: the README's commands, CI's test command, and help for every command."""

from __future__ import annotations

import re

import click
import pytest

from tests.conftest import ROOT
from xmlsync.cli import cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALL_AND_BUILD = (
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/xmlsync build fixtures/offers.json -o offers.xml"
)
INSTALL_AND_TEST = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"


def commands(group: click.Group, prefix: str = "xmlsync") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{prefix} {name}"))
    return found


def test_readme_opens_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    assert blocks[:2] == [INSTALL_AND_BUILD, INSTALL_AND_TEST]
    assert README.index(INSTALL_AND_BUILD) < README.index("## ")


def test_ci_runs_the_readme_test_command() -> None:
    assert INSTALL_AND_TEST in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_main_command_uses_a_bundled_fixture() -> None:
    assert (ROOT / "fixtures" / "offers.json").is_file()


@pytest.mark.parametrize(("name", "command"), commands(cli), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help_with_an_example_and_a_readme_entry(name: str, command: click.Command) -> None:
    assert command.help and "\b\n    Example:\n        xmlsync " in command.help
    assert f"`{name}" in README


def test_the_library_never_imports_click() -> None:
    import subprocess
    import sys

    modules = sorted(
        ".".join(("xmlsync", *path.relative_to(ROOT / "xmlsync").with_suffix("").parts))
        for path in (ROOT / "xmlsync").rglob("*.py")
        if path.stem not in ("__main__", "__init__") and "cli" not in path.relative_to(ROOT / "xmlsync").parts
    )
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}];"
        " print('click' in sys.modules, 'xmlschema' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (len(modules) > 30, result.stdout) == (True, "False False\n")  # xmlschema is a test dependency


def test_checking_a_feed_does_not_load_the_build() -> None:
    import subprocess
    import sys

    code = "import sys, xmlsync.cli; print(sorted(m for m in sys.modules if m.startswith('xmlsync.pipeline')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_the_pre_commit_hook_runs_validate() -> None:
    hook = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "- id: xmlsync-validate\n" in hook
    assert "  entry: xmlsync validate\n" in hook
    assert "  types: [xml]\n" in hook
    [files] = re.findall(r"^  files: (.*)$", hook, flags=re.M)
    matched = [
        path for path in ("feeds/offers.xml", "a/feeds/b.xml", "pom.xml", ".idea/misc.xml") if re.search(files, path)
    ]
    assert matched == ["feeds/offers.xml", "a/feeds/b.xml"]


def test_the_repository_reads_nothing_beside_it() -> None:
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    outside = [
        name
        for name in tracked
        if (ROOT / name).is_file()
        and "../shared" in (ROOT / name).read_text(encoding="utf-8", errors="replace")
        and name != "tests/test_docs.py"
    ]
    assert outside == []


def test_the_readme_erp_script_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from xmlsync import validate_file

    [script] = [
        block for block in re.findall(r"```python\n(.*?)\n```", README, flags=re.S) if "build_records(" in block
    ]
    assert len(script.splitlines()) <= 20  # about ten statements, as ruff formats them
    code = script.replace('"fixtures/', f'"{ROOT}/fixtures/')
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    expected = script.splitlines()[-1].removeprefix("# ")
    assert (result.returncode, result.stdout, result.stderr) == (0, expected + "\n", "")
    assert validate_file(tmp_path / "cards.xml") == []


def test_the_pre_commit_snippet_limits_the_files() -> None:
    [snippet] = [
        block for block in re.findall(r"```yaml\n(.*?)\n```", README, flags=re.S) if "xmlsync-validate" in block
    ]
    assert "      files: ^feeds/.*\\.xml$" in snippet


def test_summaries_group_thousands() -> None:
    from xmlsync.pipeline import BuildResult
    from xmlsync.validate import FileReport, verdict

    result = BuildResult(projects=12345, offers=1, products=1234567, rows=1234567, rejected=1000)
    assert result.summary() == "12,345 projects, 1 offer, 1,234,567 products from 1,234,567 input rows, 1,000 rejected"
    assert verdict(FileReport("f.xml", complete=True)) == "valid"


def test_the_readme_nightly_job_runs_night_after_night(tmp_path, minicrm) -> None:  # type: ignore[no-untyped-def]
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import KEY, SYSTEM

    [script] = [block for block in re.findall(r"```sh\n(.*?)\n```", README, flags=re.S) if "xmlsync sync" in block]
    shutil.copy(ROOT / "fixtures" / "erp" / "erp.toml", tmp_path / "erp.toml")
    credentials = tmp_path / "minicrm.toml"
    credentials.write_text(f'system_id = "{SYSTEM}"\napi_key = "{KEY}"\n')
    credentials.chmod(0o600)
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "FEEDS": str(tmp_path),
        "ERP_DATABASE_URL": f"sqlite:///{ROOT / 'fixtures' / 'erp' / 'offers.sqlite'}",
        "MINICRM_BASE_URL": minicrm.url,  # the stand-in on loopback, in MiniCRM's place
    }
    nights = []
    for _ in range(2):
        run = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=False, timeout=120)
        nights.append((run.returncode, run.stdout.split(": ", 1)[-1], run.stderr))
    assert nights == [
        (0, "3 new, 0 changed, 0 unchanged, 0 gone, 0 skipped; sent 3 projects in 1 file, accepted by MiniCRM\n", ""),
        (0, "0 new, 0 changed, 3 unchanged, 0 gone, 0 skipped; nothing to send\n", ""),
    ]
    assert len(minicrm.received) == 1
    assert sorted(os.listdir(tmp_path / "minicrm-state.db.nights")) == ["night-000001", "night-000002"]


def test_the_readme_sync_script_runs(tmp_path, minicrm) -> None:  # type: ignore[no-untyped-def]
    import os
    import shutil
    import subprocess
    import sys

    from tests.conftest import KEY, SYSTEM

    [script] = [block for block in re.findall(r"```python\n(.*?)\n```", README, flags=re.S) if "run_sync(" in block]
    shutil.copy(ROOT / "fixtures" / "erp" / "erp.toml", tmp_path / "erp.toml")
    shutil.copy(ROOT / "fixtures" / "erp" / "offers.sqlite", tmp_path / "erp.db")
    env = dict(os.environ, MINICRM_SYSTEM_ID=SYSTEM, MINICRM_API_KEY=KEY, MINICRM_BASE_URL=minicrm.url)
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    expected = script.splitlines()[-1].removeprefix("# ")
    assert (run.returncode, run.stdout, run.stderr) == (0, expected + "\n", "")
    assert len(minicrm.received) == 1


def test_the_readme_says_which_erp_date_is_which_and_how_full_names_map() -> None:
    section = README[README.index("- **Which ERP date is which.**") :]
    section = section[: section.index("- A database goes through both like a file")]
    for words in ("`Issued` is the date the offer was made", "`Performance` the date of delivery",
                  "`Prompt` the deadline", "**A single full-name column**", "`Contact.LastName` alone"):  # fmt: skip
        assert words in section


def test_no_module_imports_one_that_imports_it_back() -> None:
    """No import cycle, at the top of a module, under TYPE_CHECKING or inside a function (a lazy import)."""
    import ast

    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "xmlsync").rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xmlsync"):
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
    graph = {name: {d for d in deps if d != "xmlsync"} for name, deps in graph.items()}  # the lazy public names

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            name, trail = stack.pop()
            for dep in graph.get(name, ()):
                if dep == start:
                    return [*trail, dep]
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*trail, dep]))
        return None

    assert len(graph) > 30
    assert [cycle for name in sorted(graph) if (cycle := cycle_from(name))] == []


def test_the_readme_offer_send_session_runs_as_shown(tmp_path, minicrm, api) -> None:  # type: ignore[no-untyped-def]
    import os
    import shlex
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import KEY, SYSTEM

    [block] = [b for b in re.findall(r"```console\n(.*?)\n```", README, flags=re.S) if "$ xmlsync offer send" in b]
    (tmp_path / "fixtures").mkdir()
    shutil.copy(ROOT / "fixtures" / "offers.json", tmp_path / "fixtures" / "offers.json")
    env = dict(os.environ, MINICRM_SYSTEM_ID=SYSTEM, MINICRM_API_KEY=KEY, MINICRM_BASE_URL=minicrm.url)
    xmlsync = str(Path(sys.executable).parent / "xmlsync")
    for step in block.split("$ ")[1:]:
        command, *shown = step.splitlines()
        argv = shlex.split(command)
        run = subprocess.run([xmlsync, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert (run.returncode, run.stdout + run.stderr) == (0, "\n".join(shown) + "\n")
    assert sorted(api.offers) == ["12", "13", "14"]


def test_the_readme_offer_script_runs(tmp_path, minicrm, api) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from tests.conftest import KEY, SYSTEM

    [script] = [b for b in re.findall(r"```python\n(.*?)\n```", README, flags=re.S) if "send_offer_file(" in b]
    code = script.replace('"fixtures/', f'"{ROOT}/fixtures/')
    env = dict(os.environ, MINICRM_SYSTEM_ID=SYSTEM, MINICRM_API_KEY=KEY, MINICRM_BASE_URL=minicrm.url)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.splitlines() == [
        "Project 10001 > Offer 2024017 created 12",
        "Project 10002 > Offer 2024018 created 13",
        "Project 10002 > Offer 2024019 created 14",
        script.splitlines()[-1].removeprefix("# "),
    ]


def test_the_readme_profile_example_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from xmlsync.profiles import load_profile

    [example, *_] = re.findall(r"```toml\n(.*?)\n```", README, flags=re.S)
    (tmp_path / "erp.toml").write_text(example, encoding="utf-8")
    profile = load_profile(tmp_path / "erp.toml")
    assert profile.policy.offer_api == (("Media", "PKI"), ("VATMode", "NormalVAT"))


def test_the_readme_offer_resolve_command_runs_as_written(tmp_path, minicrm, api) -> None:  # type: ignore[no-untyped-def]
    import os
    import shlex
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import KEY, SYSTEM

    [command] = [line for line in README.splitlines() if line.startswith("xmlsync offer resolve ")]
    (tmp_path / "fixtures").mkdir()
    shutil.copy(ROOT / "fixtures" / "offers.json", tmp_path / "fixtures" / "offers.json")
    env = dict(os.environ, MINICRM_SYSTEM_ID=SYSTEM, MINICRM_API_KEY=KEY, MINICRM_BASE_URL=minicrm.url)
    xmlsync = str(Path(sys.executable).parent / "xmlsync")
    api.fail = [(504, "Gateway Time-out")]  # the first create's answer is lost: the README's case
    lost = [xmlsync, "offer", "send", "fixtures/offers.json", "--state", "offers-state.db"]
    assert subprocess.run(lost, cwd=tmp_path, env=env, capture_output=True, timeout=60).returncode == 1
    run = subprocess.run([xmlsync, *shlex.split(command)[1:]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (run.returncode, run.stdout, run.stderr) == (
        0,
        "",
        "Project 10001 > Offer 2024017: unknown -> MiniCRM offer 5123\n",
    )
