"""Every deployed function's handler resolves in the package Lambda loads.

Chalice writes each function's handler as ``<module>.<the handler function's __name__>``.
A registration in app.py whose result is not bound to that name, or two handlers with
one name, deploy a function Lambda cannot load (``Runtime.HandlerNotFound``) or that
runs another function's code; chalice.test and the local runner call handlers by their
registered names and never notice.
"""
from __future__ import annotations

import importlib
from collections import Counter

import pytest

from tests.infra.conftest import STAGES, resources


@pytest.mark.parametrize("stage", STAGES)
def test_every_handler_is_a_distinct_attribute_of_its_module(templates, stage):
    handlers = {name: f["Properties"]["Handler"]
                for name, f in resources(templates[stage], "AWS::Serverless::Function").items()}

    assert [h for h, n in Counter(handlers.values()).items() if n > 1] == []
    missing = []
    for function, handler in handlers.items():
        module, _, attribute = handler.rpartition(".")
        if not callable(getattr(importlib.import_module(module), attribute, None)):
            missing.append(f"{function}: {handler}")
    assert missing == []
