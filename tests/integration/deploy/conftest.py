"""The image of ``deploy/Containerfile``, built once per test session (a wheel in a clean
virtual environment); the compose and systemd tests run the same installed package."""

from __future__ import annotations

import pytest

from .image import Image, build


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    return build(tmp_path_factory.mktemp("containerfile"))
