"""The CDK app's building blocks: one ``PlatformStack`` per Chalice stage (``dev``, ``prod``)."""
from platform_infra.stack import PlatformStack
from platform_infra.stages import STAGES, StageSettings, stage_settings

__all__ = ["STAGES", "PlatformStack", "StageSettings", "stage_settings"]
