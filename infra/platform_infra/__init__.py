"""The CDK app's building blocks: one ``PlatformStack`` per Chalice stage (``dev``, ``prod``).

Infra deploys what the application defines (table schemas, key formats, event sources),
so the project root, which holds ``app.py`` and ``chalicelib``, must be importable.
"""
import sys
from pathlib import Path

_PROJECT_DIR = str(Path(__file__).resolve().parents[2])
if _PROJECT_DIR not in sys.path:
    sys.path.insert(0, _PROJECT_DIR)

from platform_infra.stack import PlatformStack  # noqa: E402
from platform_infra.stages import STAGES, StageSettings, stage_settings  # noqa: E402

__all__ = ["STAGES", "PlatformStack", "StageSettings", "stage_settings"]
