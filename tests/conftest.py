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


def random_one_hot(B:int, L:int, seed:int):
    "A seeded random (B, L, 5) one-hot batch (A C G T N)."
    import torch
    from findna.alphabet import one_hot
    g = torch.Generator().manual_seed(seed)
    return one_hot(torch.randint(0, 5, (B, L), generator=g))
