"""The dbt resource: dagster-dbt's DbtCliResource, with dbt run in this process instead of a subprocess.

Why: a `dbt` subprocess pays ~2 s of Python start-up and dbt imports and ~1-2 s of first-call set-up (parser,
Jinja environment, adapter) before any SQL, on every invocation; for a daily partition that fixed cost was most of
the run (bench/bench_usage.py). In the step process dbt's modules are half imported already with dagster-dbt, and a
process that runs dbt again (a DuckDB run, whose steps share one process; the tests) starts each invocation from
the parse the previous one left, so dbt re-parses only what changed (~0.4 s) instead of starting over.

Everything dagster-dbt does around the invocation stays its own: the selection from the execution context, the
per-invocation target directory, and the conversion of dbt's structured events into Dagster events and errors
(DbtCliInvocation). Only the process is replaced: `DbtThread` runs `dbtRunner` in a thread and hands
DbtCliInvocation the JSON lines a `dbt --log-format json` subprocess prints, through the small part of the
`subprocess.Popen` interface DbtCliInvocation reads. What a subprocess got for free on exit is done explicitly:
the DuckDB file is closed after each invocation (`_close_duckdb_database`).
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import logging
import os
import queue
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from dagster_dbt import DagsterDbtTranslator, DbtCliResource
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME, DbtCliInvocation, _get_dbt_target_path
from dagster_dbt.dagster_dbt_translator import validate_opt_translator
from dagster_dbt.dbt_manifest import DbtManifestParam, validate_manifest
from packaging import version

from orchestration.settings import Settings

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import dagster as dg

# The levels a `dbt --log-format json` process prints at its default log level; dagster-dbt reads those.
_PRINTED_LEVELS = frozenset({"info", "warn", "error"})


@contextmanager
def dbt_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set the variables profiles.yml and the run-setting macros read for the duration of a dbt invocation, then
    restore them.

    dbt reads them from this process's environment when the invocation starts; setting them only around the call
    keeps Settings (not the process environment) the source of truth, so one process can hold code locations for
    different warehouses (tests).
    """
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DbtThread:
    """One dbt invocation running in a thread of this process, seen through the part of `subprocess.Popen` that
    DbtCliInvocation uses: `args`, `stdout` (JSON log lines), `wait()`, `returncode`, `send_signal()`.

    The exit code follows the dbt CLI: 0 success, 1 the command ran and something failed, 2 dbt could not run it.
    """

    def __init__(self, args: Sequence[str], project_dir: Path, target_path: Path) -> None:
        self.args = ["dbt", *args]  # for messages: the command as it would be typed
        self.returncode: int | None = None
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.stdout = _QueueLines(self._lines)
        self._thread = threading.Thread(
            target=self._run, args=(list(args), project_dir, target_path), name="dbt", daemon=True
        )
        self._thread.start()

    def _run(self, args: list[str], project_dir: Path, target_path: Path) -> None:
        from dbt_common.events.functions import msg_to_dict

        def forward(event: Any) -> None:
            if event.info.level in _PRINTED_LEVELS:
                self._lines.put(orjson.dumps(msg_to_dict(event), default=str))

        try:
            result = _PROCESS_DBT.invoke(args, project_dir, target_path, forward)
            self.returncode = 0 if result.success else (2 if result.exception is not None else 1)
            if result.exception is not None:
                self._lines.put(_error_line(f"dbt could not run `{' '.join(self.args)}`: {result.exception!r}"))
        except BaseException as error:  # reported to the reader as dbt's own error line
            self.returncode = 2
            self._lines.put(_error_line(f"dbt failed in-process: {error!r}"))
        finally:
            self._lines.put(None)

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"`{' '.join(self.args)}` still running after {timeout} s")
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Ctrl-C for the dbt thread, as the dbt CLI handles it: the running queries are cancelled on the
        database, and KeyboardInterrupt raised in the thread makes dbt skip the remaining nodes and end."""
        if signum != signal.SIGINT or not self._thread.is_alive() or self._thread.ident is None:
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(self._thread.ident), ctypes.py_object(KeyboardInterrupt)
        )
        # the exception reaches the thread only when it next runs Python code, not while a query runs
        from dbt.adapters.factory import FACTORY

        for adapter in list(FACTORY.adapters.values()):
            try:
                if adapter.is_cancelable():
                    with adapter.connection_named("master"):  # as dbt cancels: from a connection of its own
                        adapter.cancel_open_connections()
            except Exception:  # nothing open yet (still parsing), or already closed: the exception suffices
                logger.warning("could not cancel dbt's open queries", exc_info=True)


class _ProcessDbt:
    """dbt as this process runs it: one invocation at a time (dbt keeps process-wide state: flags, adapters, the
    event manager), each seeded with the newest parse this process made of the project.

    A dbt subprocess would start from the prepared parse (`make manifest`) every time; here a later invocation
    starts from what the previous one parsed, so dbt re-parses only what changed since (nothing, within a run;
    a different profile, target or vars, e.g. another warehouse in the tests, still makes dbt parse in full).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest_parse: dict[Path, Path] = {}

    def invoke(self, args: list[str], project_dir: Path, target_path: Path, callback: Any) -> Any:
        from dbt.cli.main import dbtRunner

        with self._lock:
            self._seed_partial_parse(project_dir, target_path)
            try:
                result = dbtRunner(callbacks=[callback]).invoke(args)
            finally:
                _close_duckdb_database()
            _write_artifact(result.result, target_path)
            parse = target_path / PARTIAL_PARSE_FILE_NAME
            if parse.exists():
                self._latest_parse[project_dir] = parse
            return result

    def _seed_partial_parse(self, project_dir: Path, target_path: Path) -> None:
        destination = target_path / PARTIAL_PARSE_FILE_NAME
        prepared = project_dir / _get_dbt_target_path() / PARTIAL_PARSE_FILE_NAME  # where dagster-dbt looks too
        latest = self._latest_parse.get(project_dir)
        seed = latest if latest is not None and latest.exists() else prepared
        if seed.exists() and not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(seed, destination)


_PROCESS_DBT = _ProcessDbt()


def _close_duckdb_database() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after an invocation (its `keep_open`, default true, for
    in-process reuse): open, it holds the file's write lock for the rest of this process, which other processes
    (a BI tool, the next run) and this process's own connections with other settings cannot share. A dbt
    subprocess released it when it exited. (The profile's `keep_open: false` instead reopens the file for every
    node: 23 opens per daily partition's `dbt build`, which took 2.7-3.3 s instead of 2.0-2.3 s.)"""
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is None:
        return  # dbt-duckdb not loaded: a PostgreSQL target
    manager = connections.DuckDBConnectionManager
    environment = manager._ENV
    manager.close_all_connections()  # forgets the environment (dbt-duckdb's own at-exit clean-up)
    if environment is not None:
        environment.close()


def _write_artifact(result: Any, target_path: Path) -> None:
    """The command's own artifact, which dbt skips under --no-write-json: run_results.json for commands that run
    nodes, manifest.json for `parse`. (dbt would also rewrite the 1.6 MB manifest.json, graph.gpickle and the
    semantic manifest on every run: ~1 s of a one-day run, for files the prepared manifest already holds.)"""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import write_manifest

    if isinstance(result, Manifest):
        write_manifest(result, os.fspath(target_path))
    elif hasattr(result, "write"):
        result.write(os.fspath(target_path / "run_results.json"))


class _QueueLines:
    """The thread's output as an iterable, closable byte stream (what DbtCliInvocation reads from stdout)."""

    def __init__(self, lines: queue.SimpleQueue[bytes | None]) -> None:
        self._lines = lines
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while not self.closed and (line := self._lines.get()) is not None:
            yield line
        self.closed = True

    def __enter__(self) -> _QueueLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


def _error_line(message: str) -> bytes:
    return orjson.dumps({"info": {"name": "InProcessDbtError", "level": "error", "msg": message}, "data": {}})


class WarehouseDbtCliResource(DbtCliResource):
    """DbtCliResource that runs dbt in-process (see the module docstring); same arguments, same events.

    The target, profiles and project directories are passed as flags (the subprocess got them as DBT_*
    variables); the dbt is the dbt-core installed with this Python, whose version is read from its metadata.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def cli(  # type: ignore[override]
        self,
        args: Sequence[str],
        *,
        raise_on_error: bool = True,
        manifest: DbtManifestParam | None = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: dg.OpExecutionContext | dg.AssetExecutionContext | None = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        translator = validate_opt_translator(dagster_dbt_translator) or DagsterDbtTranslator()
        cleaned_args, runtime_selects, runtime_excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=translator,
            runtime_selects=runtime_selects,
            runtime_excludes=runtime_excludes,
        )
        project_dir = Path(params.dbt_project.project_dir if params.dbt_project else self.project_dir)
        target_path = project_dir / (target_path or self._get_unique_target_path(context=context))
        full_args = [
            *self.global_config_flags,
            *cleaned_args,
            *invocation_flags(
                project_dir=project_dir,
                profiles_dir=self.profiles_dir,
                profile=self.profile,
                target=self.target,
                target_path=target_path,
                indirect_selection=params.indirect_selection,
            ),
            *params.selection_args,
        ]
        return DbtCliInvocation(
            process=DbtThread(full_args, project_dir, target_path),  # type: ignore[arg-type]  # the Popen interface it reads
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            context=context,
            cli_version=self._cli_version,
            project=params.dbt_project,
        )


def invocation_flags(
    *,
    project_dir: Path,
    profiles_dir: str | None,
    profile: str | None,
    target: str | None,
    target_path: Path,
    indirect_selection: str | None,
) -> list[str]:
    """The flags of one in-process invocation: what dagster-dbt passes a dbt subprocess as DBT_* variables
    (project, profiles, target path, log path, JSON log format, no usage statistics) and the profile/target.

    dbt's own console log is off (`--log-level none`): DbtCliInvocation prints the events it reads; the debug
    log file still goes to the target path, as with the subprocess. `--no-write-json`: the invocation writes
    only its own artifact (`_write_artifact`).
    """
    flags = [
        "--project-dir",
        os.fspath(project_dir),
        "--target-path",
        os.fspath(target_path),
        "--log-path",
        os.fspath(target_path),
        "--log-format",
        "json",
        "--log-level",
        "none",
        "--log-level-file",
        "debug",
        "--no-write-json",
        "--no-send-anonymous-usage-stats",
    ]
    if profiles_dir:
        flags += ["--profiles-dir", profiles_dir]
    if profile:
        flags += ["--profile", profile]
    if target:
        flags += ["--target", target]
    if indirect_selection:
        flags += ["--indirect-selection", indirect_selection]
    return flags


def dbt_executable() -> str:
    """The dbt installed beside the running Python (same virtualenv): the dbt-core this process runs, named for
    DbtCliResource's validation and for anyone re-running a logged command by hand."""
    beside = Path(sys.executable).with_name("dbt")
    return os.fspath(beside) if beside.exists() else "dbt"


def dbt_resource(settings: Settings) -> WarehouseDbtCliResource:
    """The dbt resource with the target passed explicitly (profiles.yml lives in the dbt project)."""
    project_dir = os.fspath(settings.dbt_project_dir)
    return WarehouseDbtCliResource(
        project_dir=project_dir, profiles_dir=project_dir, target=settings.dbt_target, dbt_executable=dbt_executable()
    )
