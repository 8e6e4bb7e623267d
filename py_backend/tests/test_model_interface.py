"""The model interface is abstract: a model kind that forgets a method cannot be instantiated."""

import pytest

from mgsd_backend.models.base import PolicyModel


def test_policy_model_requires_every_method():
    class Incomplete(PolicyModel):
        kind = "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]
