"""Fixtures shared by the Qwen3-VL tests: one tiny random Qwen3-VL, built offline once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgsd_backend.models.tiny_qwen3_vl import write_random_qwen3_vl
from qwen_fixtures import load


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return write_random_qwen3_vl(tmp_path_factory.mktemp("tiny-qwen3-vl"), shape="tiny", seed=0)


@pytest.fixture(scope="session")
def frozen(tiny_dir):
    return load(tiny_dir)
