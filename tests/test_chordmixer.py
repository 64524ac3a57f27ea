"""ChordMixer checks beyond the notebook: the rotation against the reference torch.roll, the custom backward, the fused
layer against eager (fp32 and bf16), all-to-all mixing after one block."""
import math, warnings
import numpy as np, pytest, torch
import torch.nn as nn
from conftest import random_one_hot
from reference_swandna import roll_reference
from findna.alphabet import ALPHABET, encode_batch, one_hot
from findna.chordmixer import ChordMixer, group_shifts, mixes_all_positions, rotate, rotation_index, _permute
from findna.model import FinDNA, FinDNAConfig


# ---------------------------------------------------------------------------------------------- backbone

def test_paper_preset_parameter_count():
    model = FinDNA(FinDNAConfig.preset("paper"))
    assert sum(p.numel() for p in model.parameters()) == 12_651_873
    assert sum(p.numel() for p in model.backbone.parameters()) == 40 * (2 * 308 * 512 + 512 + 308)


@pytest.mark.parametrize("L,E,g", [(1010, 308, 28), (1000, 308, 28), (777, 308, 28), (37, 308, 28), (5, 308, 28),
                                   (1, 308, 28), (251, 308, 50), (500, 308, 40), (802, 308, 36), (4096, 308, 24),
                                   (64, 12, 4), (100, 7, 3)])
def test_rotation_equals_per_group_roll(L, E, g):
    h = torch.randn(2, L, E, generator=torch.Generator().manual_seed(L))
    assert torch.equal(rotate(h, g), roll_reference(h, g))


def test_rotation_with_lengths_equals_roll_of_each_row():
    B, L, E, g = 4, 300, 308, 50
    h = torch.randn(B, L, E, generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([300, 1, 129, 256])
    out = rotate(h, g, lengths)
    for b, n in enumerate(lengths.tolist()):
        assert torch.equal(out[b, :n], roll_reference(h[b:b + 1, :n], g)[0])
        assert torch.equal(out[b, n:], h[b, n:])


def test_custom_backward_equals_gather_autograd():
    "Our inverse-permutation backward == the scatter-add backward autograd derives for a gather."
    B, L, E, g = 3, 45, 30, 8
    h = torch.randn(B, L, E, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(0))
    w = torch.randn(B, L, E, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    shift = torch.tensor(group_shifts(E, g)).repeat_interleave(g)[:E]             # per channel
    index = ((torch.arange(L)[:, None] + shift[None, :]) % L).expand(B, L, E)     # (B, L, E)
    (ours,) = torch.autograd.grad((rotate(h, g) * w).sum(), h)
    (gather,) = torch.autograd.grad((torch.gather(h, 1, index) * w).sum(), h)
    assert torch.equal(torch.gather(h, 1, index), rotate(h, g))
    assert torch.equal(ours, gather)
    small = h[:, :11, :10].detach().clone().requires_grad_(True)                  # (3, 11, 10): cheap numerics
    assert torch.autograd.gradcheck(lambda x: rotate(x, 3, torch.tensor([11, 2, 7])), (small,))
    assert torch.autograd.gradgradcheck(lambda x: rotate(x, 3), (small,))


def test_fused_layer_equals_eager_bitwise():
    torch.manual_seed(0)
    cm = ChordMixer(embed_dim=132, track_size=12, hidden_dim=256, n_layers=10, n_blocks=2)
    h = torch.randn(3, 257, 132, requires_grad=True)
    lengths = torch.tensor([257, 100, 31])
    results = []
    for fused in (True, False):
        for layer in (l for block in cm.blocks for l in block): layer.fused = fused
        y = cm(h, lengths)
        results.append([y.detach()] + list(torch.autograd.grad((y * y).sum(), [h, *cm.parameters()])))
    assert all(torch.equal(a, b) for a, b in zip(*results))


def test_fused_layer_equals_eager_under_bf16_autocast():
    torch.manual_seed(0)
    cm = ChordMixer(embed_dim=40, track_size=8, hidden_dim=32, n_layers=4, n_blocks=1)
    h = torch.randn(2, 37, 40, requires_grad=True)
    results = []
    for fused in (True, False):
        for layer in cm.blocks[0]: layer.fused = fused
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = cm(h)
        results.append([y.detach()] + list(torch.autograd.grad(y.float().square().sum(), [h, *cm.parameters()])))
    assert results[0][0].dtype == torch.float32
    assert all(torch.equal(a, b) for a, b in zip(*results))


def dependency_rows(model, L, E, rows):
    "For each output position t in `rows`: which input positions have a non-zero gradient on y_t."
    h = torch.randn(1, L, E, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(0))
    y = model(h)
    return [torch.autograd.grad(y[0, t].sum(), h, retain_graph=True)[0][0].abs().sum(-1) > 0 for t in rows]


def test_every_position_depends_on_every_input_after_one_block():
    torch.manual_seed(0)
    for L in (1010, 100, 13):                      # the paper length, and lengths that are not powers of two
        n = math.ceil(math.log2(L))
        cm = ChordMixer(embed_dim=(n + 1) * 2, track_size=2, hidden_dim=8, n_layers=n, n_blocks=1).double()
        rows = range(L) if L < 200 else [0, 1, 500, L - 1]
        assert all(r.all() for r in dependency_rows(cm, L, (n + 1) * 2, rows)), L
    # one layer short of the shifts needed: some pairs stay unconnected
    cm = ChordMixer(embed_dim=22, track_size=2, hidden_dim=8, n_layers=3, n_blocks=1).double()
    assert not all(r.all() for r in dependency_rows(cm, 1010, 22, [0]))
    assert not mixes_all_positions(1010, 3, group_shifts(22, 2))


def test_paper_backbone_all_to_all_on_sample_positions():
    model = FinDNA(FinDNAConfig.preset("paper"), seed=0)
    cm = ChordMixer(308, 28, 512, 10, 1)
    cm.blocks[0] = model.backbone.blocks[0]                  # one block of the paper network
    rows = dependency_rows(cm.double(), 1010, 308, [0, 777, 1009])
    assert all(r.all() for r in rows)
