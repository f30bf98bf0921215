"""Pure configuration logic: merging over defaults, sanitising old overrides, diffs."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.config import models as schema


def test_objects_merge_key_by_key_and_other_values_replace():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2}
    assert schema.deep_merge(base, {"a": {"y": [3]}}) == {"a": {"x": 1, "y": [3]}, "b": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 2}  # the defaults are not mutated


@pytest.mark.parametrize("given,kept", [
    ({"audit": {"retention_days": 5}}, {"audit": {"retention_days": 30}}),
    ({"audit": {"retention_days": 99999}}, {"audit": {"retention_days": 3650}}),
    ({"audit": {"retention_days": "90"}}, {}),
    ({"audit": {"retention_days": True}}, {}),
    ({"integrations": {"api_key": "sk"}, "general": {"date_format": "DD/MM/YYYY", "bogus": 1}}, {"general": {"date_format": "DD/MM/YYYY"}}),
    ({"general": "fr"}, {}),
    ("not a dict", {}),
])
def test_creation_time_overrides_keep_only_their_valid_part(given, kept):
    assert schema.sanitize(given) == kept


def test_validation_is_strict_and_names_the_path():
    with pytest.raises(ValidationError) as caught:
        schema.validate_overrides({"features": {"sms_notifications": 1}, "security": {"allowed_member_email_domains": ["X"]}})
    assert {tuple(e["loc"]) for e in caught.value.errors()} == {
        ("features", "sms_notifications"), ("security", "allowed_member_email_domains", 0)}
    schema.validate_overrides({"notifications": {"referral_created": {"sms": ["customer"]}}})


def test_diff_lists_changed_leaves_only():
    before = schema.platform_defaults()
    after = schema.effective({"general": {"timezone": "Europe/Paris"}, "referrals": {"allowed_categories": ["brakes"]}})
    assert schema.diff(before, after) == {
        "general.timezone": {"before": "UTC", "after": "Europe/Paris"},
        "referrals.allowed_categories": {"before": None, "after": ["brakes"]},
    }
