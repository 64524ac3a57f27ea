"""ChordMixer checks beyond the notebook: the rotation against the reference torch.roll, the custom backward, the fused
layer against eager (fp32 and bf16), all-to-all mixing after one block."""
import math, warnings
import numpy as np, pytest, torch
import torch.nn as nn
import torch.nn.functional as F
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


def test_fused_layer_equals_eager_bitwise(monkeypatch):
    import findna.chordmixer as cmm
    monkeypatch.setattr(cmm, "USE_GELU_KERNEL", False)          # torch's GELU ops: the eager path's, bit for bit
    monkeypatch.setattr(cmm, "USE_ONEDNN", False)               # and torch's matmuls
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


# ---------------------------------------------------------------------------------------------- issue 27: the lean path

class _OldFusedLayer(torch.autograd.Function):
    "The fused layer before issue 27 (gather rotation, GELU output saved), verbatim: the reference for exactness."
    @staticmethod
    def forward(ctx, h, w1, b1, w2, b2, fwd, inv):
        import torch.nn.functional as F
        B, L, E = h.shape
        dt = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
        with torch.autocast("cpu", enabled=False):
            if dt is not None: h_, w1, b1, w2, b2 = (t.to(dt) for t in (h, w1, b1, w2, b2))
            else: h_ = h
            x = h_.contiguous().view(B * L, E)
            a = torch.addmm(b1, x, w1.t())
            act = F.gelu(a)
            m = torch.addmm(b2, act, w2.t()).view(B, L, E)
            r = _permute(m, fwd)
            y = r.add_(h) if r.dtype == h.dtype else h + r
        ctx.save_for_backward(x, a, act, w1, w2, fwd, inv)
        ctx.shape, ctx.dtype = (B, L, E), dt
        return y
    @staticmethod
    def backward(ctx, dy):
        x, a, act, w1, w2, fwd, inv = ctx.saved_tensors
        B, L, E = ctx.shape
        with torch.autocast("cpu", enabled=False):
            dy_ = dy if ctx.dtype is None else dy.to(ctx.dtype)
            dm = _permute(dy_, inv).view(B * L, E)
            dw2, db2 = dm.t().mm(act), dm.sum(0)
            da = torch.ops.aten.gelu_backward(dm.mm(w2), a)
            dw1, db1 = da.t().mm(x), da.sum(0)
            dx = da.mm(w1).view(B, L, E)
            dh = dx.add_(dy) if dx.dtype == dy.dtype else dy + dx
        return dh, dw1, db1, dw2, db2, None, None


def _old_backbone(cm, h):
    "The backbone's forward as it was: one shared gather index for every layer, the old fused layer."
    fwd, inv = rotation_index(h.shape[1], cm.embed_dim, cm.track_size)
    for layer in (l for block in cm.blocks for l in block):
        h = _OldFusedLayer.apply(h, layer.fc1.weight, layer.fc1.bias, layer.fc2.weight, layer.fc2.bias, fwd, inv)
    return h


def _out_and_grads(cm, h, f, bf16=False):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = f(h)
    w = torch.randn(y.shape, generator=torch.Generator().manual_seed(7))
    return [y.detach()] + list(torch.autograd.grad((y.float() * w).sum(), [h, *cm.parameters()]))


@pytest.mark.parametrize("rotation_kernel", [True, False])  # the compiled rotation (where it runs), torch's ops
@pytest.mark.parametrize("index_max_len", [2048, 0])      # the default choice, and block copies forced at every length
@pytest.mark.parametrize("L,E,g,H", [(300, 40, 8, 32), (1010, 132, 12, 64), (2500, 30, 4, 16), (64, 12, 4, 8)])
def test_new_path_equals_old_fused_layer_bitwise(monkeypatch, rotation_kernel, index_max_len, L, E, g, H):
    "Outputs and all gradients of the backbone equal the pre-issue-27 fused layer's exactly, fp32 and bf16 autocast."
    import findna.chordmixer as cmm
    monkeypatch.setattr(cmm, "INDEX_MAX_LEN", index_max_len)
    monkeypatch.setattr(cmm, "USE_ROTATION_KERNEL", rotation_kernel)
    monkeypatch.setattr(cmm, "MLP_CHUNK_ROWS", 10 ** 9)    # one chunk: the same operations on the same operands
    monkeypatch.setattr(cmm, "BACKWARD_BYTES", 10 ** 12)
    monkeypatch.setattr(cmm, "USE_GELU_KERNEL", False)
    monkeypatch.setattr(cmm, "USE_ONEDNN", False)
    torch.manual_seed(0)
    cm = ChordMixer(embed_dim=E, track_size=g, hidden_dim=H, n_layers=3, n_blocks=1)
    h = torch.randn(2, L, E, requires_grad=True)
    plan = cmm.rotation_plan(L, E, g)
    assert isinstance(plan[0], tuple) == (L > index_max_len or (rotation_kernel and cmm.kernels()[0] is not None))
    for bf16 in (False, True):
        new, old = _out_and_grads(cm, h, cm, bf16), _out_and_grads(cm, h, lambda x: _old_backbone(cm, x), bf16)
        assert new[0].dtype == torch.float32
        assert all(torch.equal(a, b) for a, b in zip(new, old)), (L, bf16)


@pytest.mark.parametrize("index_max_len", [2048, 0])
def test_mlp_in_row_chunks_equals_old_fused_layer(monkeypatch, index_max_len):
    "The MLP in chunks of 64 rows (float32 backward: 100): fp32 equal to the old layer to rounding, bf16 exactly."
    import findna.chordmixer as cmm
    monkeypatch.setattr(cmm, "INDEX_MAX_LEN", index_max_len)
    monkeypatch.setattr(cmm, "MLP_CHUNK_ROWS", 64); monkeypatch.setattr(cmm, "BF16_CHUNK_ROWS", 64)
    monkeypatch.setattr(cmm, "BACKWARD_BYTES", 100 * 48 * 4)     # 100 rows of the (rows, H=48) float32 gradient
    monkeypatch.setattr(cmm, "USE_GELU_KERNEL", False)
    monkeypatch.setattr(cmm, "USE_ONEDNN", False)
    torch.manual_seed(0)
    cm = ChordMixer(embed_dim=40, track_size=8, hidden_dim=48, n_layers=4, n_blocks=1)
    h = torch.randn(3, 301, 40, requires_grad=True)            # 903 rows: 14 full chunks and a short one
    new, old = _out_and_grads(cm, h, cm), _out_and_grads(cm, h, lambda x: _old_backbone(cm, x))
    assert all((a - b).abs().max() <= 1e-6 * b.abs().max() for a, b in zip(new, old))   # sums in another order
    assert any(not torch.equal(a, b) for a, b in zip(new, old))   # the chunked sums really did run
    with torch.no_grad(): assert torch.equal(cm(h), new[0])       # inference keeps no pre-activation: same output
    new, old = _out_and_grads(cm, h, cm, True), _out_and_grads(cm, h, lambda x: _old_backbone(cm, x), True)
    assert all(torch.equal(a, b) for a, b in zip(new, old))


def _kernels_or_skip():
    from findna.chordmixer import kernels
    fns, why = kernels()
    if fns is None: pytest.skip(f"the compiled kernels are not used on this machine: {why}")
    return fns


def test_gelu_kernel_equals_torch_ops_to_rounding():
    "One pass of the compiled kernel gives torch's gelu(a) and gelu_backward(da, a) to float32 rounding."
    from findna.chordmixer import _gelu_kernel_pass
    fn = _kernels_or_skip()["gelu"]
    gen = torch.Generator().manual_seed(3)
    a = torch.cat([torch.randn(4093, 48, generator=gen) * 4, torch.linspace(-40, 40, 48)[None]])   # odd row count
    a[0, :4] = torch.tensor([0., -0., 1e-38, float("nan")])
    da0 = torch.randn(a.shape, generator=gen)
    da = da0.clone()
    g = _gelu_kernel_pass(fn, a, da)
    g_ref, da_ref = F.gelu(a), torch.ops.aten.gelu_backward(da0, a)
    assert torch.equal(g.isnan(), g_ref.isnan()) and torch.equal(da.isnan(), da_ref.isnan()) and g.isnan().sum() == 1
    ok = ~a.isnan()
    assert ((g - g_ref)[ok].abs() <= 1e-6 * a[ok].abs().clamp_min(1)).all()
    assert ((da - da_ref)[ok].abs() <= 1e-6 * da0[ok].abs().clamp_min(1)).all()
    assert not torch.equal(g[ok], g_ref[ok])                             # the kernel really ran (another exp)
    # bf16: computed in float32 and rounded once, like torch's bf16 ops; exp's last float32 bit (glibc's, not Sleef's)
    # shows in the rounding of some small outputs: most values equal, none more than one bf16 ulp apart
    a16, da16 = a.bfloat16(), da0.bfloat16()
    g_ref, da_ref = F.gelu(a16), torch.ops.aten.gelu_backward(da16, a16)
    g = _gelu_kernel_pass(fn, a16, da16)
    assert g.dtype == da16.dtype == torch.bfloat16 and torch.equal(g.isnan(), g_ref.isnan())
    for ours, ref in ((g, g_ref), (da16, da_ref)):
        ours, ref = ours[ok].float(), ref[ok].float()
        assert ((ours - ref).abs() <= 2 ** -7 * ref.abs().clamp_min(1e-3)).all()   # at most one bf16 ulp
        assert (ours == ref).float().mean() > 0.8
    with pytest.raises(Exception, match="contiguous float32 or bf16"): _gelu_kernel_pass(fn, a.double(), da0.double())


@pytest.mark.parametrize("index_max_len", [2048, 0])
def test_gelu_kernel_backbone_equals_torch_ops_backbone(monkeypatch, index_max_len):
    "With the kernel: outputs bitwise (the forward is untouched), gradients equal to 1e-6 of their scale (bf16: 1e-2)."
    import findna.chordmixer as cmm
    _kernels_or_skip()
    monkeypatch.setattr(cmm, "INDEX_MAX_LEN", index_max_len)
    monkeypatch.setattr(cmm, "BACKWARD_BYTES", 100 * 48 * 4)
    torch.manual_seed(0)
    cm = ChordMixer(embed_dim=40, track_size=8, hidden_dim=48, n_layers=4, n_blocks=1)
    h = torch.randn(3, 301, 40, requires_grad=True)
    new, new16 = _out_and_grads(cm, h, cm), _out_and_grads(cm, h, cm, True)
    monkeypatch.setattr(cmm, "USE_GELU_KERNEL", False)
    old, old16 = _out_and_grads(cm, h, cm), _out_and_grads(cm, h, cm, True)
    for new, old, tol in ((new, old, 1e-6), (new16, old16, 1e-2)):
        assert torch.equal(new[0], old[0])
        assert all((a - b).abs().max() <= tol * b.abs().max() for a, b in zip(new[1:], old[1:]))
        assert any(not torch.equal(a, b) for a, b in zip(new[1:], old[1:]))


def test_gelu_kernel_is_built_once_and_falls_back_with_a_reason(monkeypatch, tmp_path):
    "Built into the cache under a hashed name and reused; with no compiler, torch's ops run and the reason is given."
    import findna.chordmixer as cmm
    _kernels_or_skip()
    so = cmm.build_kernels(tmp_path / "kernels")
    assert so.parent == tmp_path / "kernels" and so.name.startswith("kernels-") and so.suffix == ".so"
    mtime = so.stat().st_mtime_ns
    assert cmm.build_kernels(tmp_path / "kernels") == so and so.stat().st_mtime_ns == mtime   # reused
    assert [p.name for p in so.parent.iterdir() if p.name.startswith(".")] == []                   # no temp left
    def disagree(*a): raise cmm.ChordMixerError("disagrees with torch.roll")
    monkeypatch.setattr(cmm, "_check_rotation", disagree)                # a binary that fails its check ...
    with pytest.raises(cmm.ChordMixerError, match="disagrees"): cmm.build_kernels(tmp_path / "other")
    assert list((tmp_path / "other").iterdir()) == []                    # ... is never installed
    monkeypatch.undo()
    ro = tmp_path / "read-only"; ro.mkdir(); ro.chmod(0o555)
    with pytest.raises(PermissionError, match="read-only"): cmm.build_kernels(ro)
    assert list(ro.iterdir()) == []                                      # untouched, also as root
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    cmm.kernels.cache_clear()
    try:
        fns, why = cmm.kernels()
        assert fns is None and "no C compiler" in why and "no-such-cc" in why
        assert isinstance(cmm.rotation_plan(300, 40, 8)[0], torch.Tensor)   # short rotations gather, as before
        torch.manual_seed(0)
        cm = ChordMixer(embed_dim=40, track_size=8, hidden_dim=48, n_layers=2, n_blocks=1)
        h = torch.randn(2, 30, 40, requires_grad=True)
        new = _out_and_grads(cm, h, cm)                                  # torch's ops: the old layer exactly
        assert all(torch.equal(a, b) for a, b in zip(new, _out_and_grads(cm, h, lambda x: _old_backbone(cm, x))))
    finally:
        monkeypatch.undo(); cmm.kernels.cache_clear()


@pytest.mark.parametrize("L,E,g", [(301, 40, 8), (1, 12, 4), (100, 7, 3), (1010, 132, 12), (77, 308, 18)])
def test_rotation_kernel_equals_torch_bitwise(L, E, g):
    "The compiled rotation moves exactly what torch's gather does: copies and rotate + add, float32 and bf16."
    import findna.chordmixer as cmm
    rot = _kernels_or_skip()["rotate"]
    gen = torch.Generator().manual_seed(L)
    m, h = torch.randn(3, L, E, generator=gen), torch.randn(3, L, E, generator=gen)
    for inverse in (False, True):
        plan, index = cmm._slice_plan(L, E, g, inverse), rotation_index(L, E, g)[int(inverse)]
        want = _permute(m, index)
        for m_, out, h_, ref in ((m, torch.empty_like(m), None, want), (m, torch.empty_like(m), h, want + h),
                                 (m.bfloat16(), torch.empty_like(m), h, want.bfloat16().float() + h),
                                 (m.bfloat16(), torch.empty_like(m.bfloat16()), None, want.bfloat16())):
            assert cmm._rotation_kernel(out, m_, h_) is rot[(m_.dtype, out.dtype, None if h_ is None else h_.dtype)]
            assert cmm._rotate_into(out, m_, plan, h_) is out and torch.equal(out, ref), (L, E, g, m_.dtype, h_ is None)
    assert cmm._rotation_kernel(torch.empty_like(m), torch.randn(3, L, 2 * E)[..., ::2], None) is None   # strided
    assert cmm._rotation_kernel(torch.empty_like(m).double(), m.double(), None) is None   # torch's copies instead


def test_slice_plan_rotation_equals_roll_and_its_backward_is_the_inverse(monkeypatch):
    import findna.chordmixer as cmm
    monkeypatch.setattr(cmm, "INDEX_MAX_LEN", 0)
    for L, E, g in [(37, 30, 8), (5, 308, 28), (1, 12, 4), (100, 7, 3), (251, 308, 50)]:
        h = torch.randn(2, L, E, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(L))
        assert isinstance(cmm.rotation_plan(L, E, g)[0], tuple)
        assert torch.equal(rotate(h, g), roll_reference(h, g))
        w = torch.randn(2, L, E, dtype=torch.float64)
        (ours,) = torch.autograd.grad((rotate(h, g) * w).sum(), h)
        (ref,) = torch.autograd.grad((roll_reference(h, g) * w).sum(), h)
        assert torch.equal(ours, ref)
    small = torch.randn(2, 9, 10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x: rotate(x, 3), (small,))
    # a non-contiguous input and the eager (unfused) layer take the same plan
    h = torch.randn(3, 40, 24).transpose(0, 1).contiguous().transpose(0, 1)
    assert torch.equal(rotate(h, 4), roll_reference(h, 4))


def test_bf16_block_copies_move_words_and_equal_roll(monkeypatch):
    "bf16 rotations copy 8-byte words where every block edge is a multiple of 4 channels, values where not: both exact."
    import findna.chordmixer as cmm
    monkeypatch.setattr(cmm, "INDEX_MAX_LEN", 0)
    for L, E, g, words in [(301, 308, 24, True), (77, 308, 18, False), (50, 30, 4, False), (9, 12, 4, True)]:
        h = torch.randn(2, L, E, generator=torch.Generator().manual_seed(L)).bfloat16()
        plan = cmm._slice_plan(L, E, g, False)
        assert (cmm._as_words(torch.empty_like(h), h, plan) is not None) == words, (L, E, g)
        assert cmm._as_words(torch.empty_like(h.float()), h.float(), plan) is None      # float32 moves values
        assert torch.equal(rotate(h, g), roll_reference(h, g)), (L, E, g)


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_grad_checkpoint_gives_equal_outputs_and_gradients(monkeypatch, dropout):
    "Activation checkpointing recomputes exactly: bitwise-equal outputs and gradients (fused; eager with dropout)."
    import findna.chordmixer as cmm
    for index_max_len in (2048, 0):
        monkeypatch.setattr(cmm, "INDEX_MAX_LEN", index_max_len)
        res = []
        for ckpt in (False, True):
            torch.manual_seed(0)
            cm = ChordMixer(40, 8, 32, n_layers=5, n_blocks=2, mlp_dropout=dropout, grad_checkpoint=ckpt)
            h = torch.randn(2, 70, 40, requires_grad=True)
            torch.manual_seed(1)                                              # the dropout masks
            res.append(_out_and_grads(cm, h, cm))
        assert all(torch.equal(a, b) for a, b in zip(*res))
    cm = ChordMixer(40, 8, 32, n_layers=5, n_blocks=2, grad_checkpoint=True)
    with torch.no_grad(): y = cm(torch.randn(1, 9, 40))                       # inference: no checkpointing needed
    assert y.shape == (1, 9, 40)


def test_new_path_is_deterministic(monkeypatch):
    import findna.chordmixer as cmm
    monkeypatch.setattr(cmm, "INDEX_MAX_LEN", 0)
    torch.manual_seed(0)
    cm = ChordMixer(40, 8, 32, n_layers=4, n_blocks=1)
    h = torch.randn(2, 90, 40, requires_grad=True)
    a, b = _out_and_grads(cm, h, cm), _out_and_grads(cm, h, cm)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


# ------------------------------------------------------------------------------- float32 matmuls through oneDNN

@pytest.mark.parametrize("L,E,g,H", [(1010, 132, 12, 64), (2500, 30, 4, 16), (1, 12, 4, 8)])
def test_onednn_matmuls_equal_torch_matmuls_to_rounding(monkeypatch, L, E, g, H):
    "oneDNN's float32 linear: outputs and gradients within 1e-6 of their scale of torch's; bf16 untouched, bitwise."
    import findna.chordmixer as cmm
    if (why := cmm._onednn_linear_unusable()) is not None: pytest.skip(why)
    monkeypatch.setattr(cmm, "MLP_CHUNK_ROWS", 64)                # inference in pieces of 64 rows
    torch.manual_seed(0)
    cm = ChordMixer(embed_dim=E, track_size=g, hidden_dim=H, n_layers=3, n_blocks=1)
    h = torch.randn(2, L, E, requires_grad=True)
    monkeypatch.setattr(cmm, "USE_ONEDNN", True)
    assert cmm.onednn_linear() == (True, "on (USE_ONEDNN, FINDNA_ONEDNN=1)")
    calls, linear = [], cmm._linear
    monkeypatch.setattr(cmm, "_linear", lambda *a: calls.append(a[0].dtype) or linear(*a))
    new, new16 = _out_and_grads(cm, h, cm), _out_and_grads(cm, h, cm, True)
    with torch.no_grad(): assert torch.equal(cm(h), new[0])         # inference (in pieces, no (N, H) kept): same bits
    monkeypatch.setattr(cmm, "USE_ONEDNN", False)
    old, old16 = _out_and_grads(cm, h, cm), _out_and_grads(cm, h, cm, True)
    assert all((a - b).abs().max() <= 1e-6 * b.abs().max() for a, b in zip(new, old)), L
    assert calls == [torch.float32] * len(calls) and len(calls) == 3 * (2 + 2) + 3 * 2 * (1 + (2 * L - 1) // 64)
    assert all(torch.equal(a, b) for a, b in zip(new16, old16))     # bf16 matmuls are oneDNN's either way
    monkeypatch.setattr(cmm, "USE_ONEDNN", True)
    cm64, h64 = cm.double(), h.detach().double().requires_grad_(True)   # float64: torch's matmuls, no error
    assert _out_and_grads(cm64, h64, cm64)[0].dtype == torch.float64


def test_onednn_linear_says_what_runs_and_why(monkeypatch):
    import findna.chordmixer as cmm
    monkeypatch.setattr(cmm, "USE_ONEDNN", False)
    assert cmm.onednn_linear() == (False, "off (USE_ONEDNN, FINDNA_ONEDNN=0)")
    monkeypatch.setattr(cmm, "USE_ONEDNN", None)                  # unset: decided by the CPU
    assert cmm.onednn_linear("meta")[0] is False
    if (why := cmm._onednn_linear_unusable()) is not None:
        assert cmm.onednn_linear() == (False, why); return
    monkeypatch.setattr(cmm, "_cpu_vendor", lambda: "AuthenticAMD")
    assert cmm.onednn_linear() == (True, "on: AuthenticAMD CPU, where it measured faster than MKL")
    monkeypatch.setattr(cmm, "_cpu_vendor", lambda: "GenuineIntel")
    assert cmm.onednn_linear() == (False, "off: measured on AMD CPUs only, this is GenuineIntel")
