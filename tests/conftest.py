import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("MVCLASS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BOXING = SHARED_DATA / "ucf101" / "v_BoxingPunchingBag_g05_c01.avi"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA} (set MVCLASS_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def boxing_clip(shared_data) -> Path:
    return BOXING
