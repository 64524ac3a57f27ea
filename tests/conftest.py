"Shared pytest fixtures: paths to the repository, the bundled demo genome and the optional shared data."
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEMO_GENOME = ROOT / "data" / "demo_chr20.fa"

def shared_data(*parts) -> Path:
    "Path under ../shared/data, or skip the calling test with a reason when it is absent."
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the project's shared real data, beside the repository); "
                    "a fresh clone does not have it")
    return path
