"""core/study.py: a study's settings are checked when it is built."""

from __future__ import annotations

import pytest

import tuner
from tuner.core.errors import StudyConfigError


@pytest.mark.parametrize("seed", [-1, 2**31, 2**32, 1.5, True, "1"])
def test_a_seed_that_numpy_and_keras_cannot_take_is_refused_in_one_line(seed):
    with pytest.raises(StudyConfigError, match=r"^seed: expected an integer from 0 to 2147483647"):
        tuner.Study(data=lambda: None, seed=seed)
    assert tuner.Study(data=lambda: None, seed=0).seed == 0
