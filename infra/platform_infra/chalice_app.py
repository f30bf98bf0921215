"""The Chalice application as CDK sees it: packaged by ``chalice.cdk.Chalice``, and introspected.

``chalice.cdk.Chalice`` runs ``chalice package`` in-process: it imports ``app.py``, puts
the stage's environment variables into ``os.environ`` and writes ``chalice.out/`` under
the working directory. :func:`package` contains those side effects (the environment is
restored, the scratch directory removed once CDK has staged the assets), so a test
session that synthesizes does not leak a stage's environment into other tests.

Packaging pip-downloads ``requirements.txt`` for Lambda (cached under
``.chalice/deployments/`` after the first time). ``vendor_dependencies=False`` packages
only the application's code, from a copy of the project without ``requirements.txt``:
the template is the same, the zip is not deployable; that is what offline checks use.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.app import ScheduledEventConfig, SQSEventConfig
from chalice.cdk import Chalice
from chalice.cli.factory import CLIFactory
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from platform_infra.stages import LAMBDA_RUNTIME, PROJECT_DIR

# What ``chalice package`` reads from the project (plus requirements.txt and vendor/).
_SOURCES = ("app.py", "chalicelib", ".chalice/config.json")
API_HANDLER = "api_handler"
REST_API = "RestAPI"


@dataclass(frozen=True)
class SqsConsumer:
    function: str
    queue: str
    batch_size: int

    @property
    def logical_id(self) -> str:
        return to_cfn_resource_name(self.function)

    @property
    def event_name(self) -> str:
        # chalice.package.SAMTemplateGenerator names an SQS event "<Function>SqsEventSource".
        return f"{self.logical_id}SqsEventSource"


@dataclass(frozen=True)
class Schedule:
    function: str
    expression: str
    # The handler's name in app.py: the ``Job`` dimension of the app's ``JobTenantRuns``.
    handler: str = ""

    @property
    def logical_id(self) -> str:
        return to_cfn_resource_name(self.function)

    @property
    def event_name(self) -> str:
        return f"{self.logical_id}Event"


@dataclass(frozen=True)
class AppModel:
    sqs_consumers: tuple[SqsConsumer, ...]
    schedules: tuple[Schedule, ...]
    # Built-in authorizers and plain @app.lambda_function functions: Lambdas of their own.
    other_functions: tuple[str, ...] = ()

    @property
    def functions(self) -> tuple[str, ...]:
        """Every Lambda function of the app, by Chalice name."""
        return (API_HANDLER, *(c.function for c in self.sqs_consumers), *(s.function for s in self.schedules),
                *self.other_functions)


@contextlib.contextmanager
def _contained(cwd: Path) -> Iterator[None]:
    environ, path, previous = dict(os.environ), list(sys.path), os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(previous)
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path


def _staged_source(into: Path) -> Path:
    source = into / "project"
    for name in _SOURCES:
        origin = PROJECT_DIR / name
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, target)
    return source


def package(scope: Construct, stage_config: dict[str, Any], *, vendor_dependencies: bool) -> tuple[Chalice, AppModel]:
    """The Chalice construct for ``scope``'s stage, and the app's event sources."""
    interpreter = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if interpreter != LAMBDA_RUNTIME:
        raise RuntimeError(f"synthesize with {LAMBDA_RUNTIME} (this is {interpreter}): chalice packages the "
                           "Lambda runtime and dependencies of the interpreter it runs in")
    with tempfile.TemporaryDirectory(prefix="chalice-cdk-") as scratch, _contained(Path(scratch)):
        source = PROJECT_DIR if vendor_dependencies else _staged_source(Path(scratch))
        # `chalice package` needs a region even offline; CloudFormation fills in the real one.
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        construct = Chalice(scope, "Chalice", source_dir=str(source), stage_config=stage_config)
        app = CLIFactory(str(source), environ=os.environ).load_chalice_app()
    consumers, schedules = [], []
    for event_source in app.event_sources:
        if isinstance(event_source, SQSEventConfig) and event_source.queue:
            consumers.append(SqsConsumer(event_source.name, event_source.queue, event_source.batch_size))
        elif isinstance(event_source, ScheduledEventConfig):
            expression = event_source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            schedules.append(Schedule(event_source.name, text, event_source.handler_string.rsplit(".", 1)[-1]))
    others = [a.name for a in app.builtin_auth_handlers] + [f.name for f in app.pure_lambda_functions]
    return construct, AppModel(tuple(consumers), tuple(schedules), tuple(others))


def logical_id(function: str) -> str:
    """The logical id ``chalice package`` gives a function (``api_handler`` is ``APIHandler``)."""
    return "APIHandler" if function == API_HANDLER else to_cfn_resource_name(function)
