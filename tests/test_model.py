"""Model-layer checks beyond the notebooks: rotation vs torch.roll, fused vs eager, all-to-all mixing, lengths,
checkpoints, the reference importer (against a re-implementation of the reference modules), embed, classifier."""
import math, warnings
import numpy as np, pytest, torch
import torch.nn as nn
from findna.alphabet import ALPHABET, encode_batch, one_hot
from findna.chordmixer import ChordMixer, group_shifts, mixes_all_positions, rotate, rotation_index, _permute
from findna.model import (CheckpointError, FinDNA, FinDNAClassifier, FinDNAConfig, FinDNAError, FinDNAWarning,
                          checkpoint_metadata, embed, import_reference_checkpoint, make_teacher)


def roll_reference(h, track_size):
    "The reference CircularShift: split channels into groups, roll group i by -2^(i-1) along L, concatenate."
    y = torch.split(h, track_size, dim=-1)
    return torch.cat([y[0]] + [torch.roll(y[i], -2 ** (i - 1), dims=1) for i in range(1, len(y))], -1)


def random_one_hot(B, L, seed):
    g = torch.Generator().manual_seed(seed)
    return one_hot(torch.randint(0, 5, (B, L), generator=g))


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


# ---------------------------------------------------------------------------------------------- model

def test_config_round_trip_and_presets():
    for name in ("paper", "small", "tiny"):
        c = FinDNAConfig.preset(name)
        assert FinDNAConfig.from_json(c.to_json()) == c
    small = FinDNA(FinDNAConfig.preset("small"))
    assert 1.3e6 < sum(p.numel() for p in small.backbone.parameters()) < 1.45e6
    assert FinDNAConfig.preset("tiny", head="dino", out_dim=64).out_dim == 64
    with pytest.raises(FinDNAError, match="out_dim must be 5"):
        FinDNAConfig(out_dim=64)


def test_lengths_give_the_row_alone_for_both_heads():
    for head in ("shared", "dino"):
        model = FinDNA(FinDNAConfig.preset("tiny", head=head, out_dim=None if head == "dino" else 5), seed=1).eval()
        idx, lengths = encode_batch(["ACGT" * 30, "GATTACA", "C" * 64, "ACGTN" * 9])
        x = one_hot(idx)
        x[1, 7:] = 1.0                                        # junk in the padding must not matter
        with torch.no_grad():
            out = model(x, torch.from_numpy(lengths))
            for b, n in enumerate(lengths.tolist()):
                alone = model(x[b:b + 1, :n])
                torch.testing.assert_close(out.mlm_logits[b, :n], alone.mlm_logits[0], rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(out.cls_logits[b], alone.cls_logits[0], rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(out.hidden[b, :n + 4], alone.hidden[0], rtol=1e-5, atol=1e-5)


def test_forward_refuses_too_long_input():
    model = FinDNA(FinDNAConfig.preset("tiny"))
    with pytest.raises(FinDNAError, match=r"FinDNAConfig\(max_len=129\)"):
        model(random_one_hot(1, 129, 0))


def test_teacher_is_a_frozen_copy():
    student = FinDNA(FinDNAConfig.preset("tiny"), seed=0)
    teacher = make_teacher(student)
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    with torch.no_grad(): student.embedding.weight.add_(1.0)
    assert not torch.equal(student.embedding.weight, teacher.embedding.weight)


# ---------------------------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("head", ["shared", "dino"])
def test_save_load_round_trip_is_identical(tmp_path, head):
    model = FinDNA(FinDNAConfig.preset("tiny", head=head), seed=2)
    model.save_pretrained(tmp_path / "ckpt", role="teacher")
    loaded = FinDNA.from_pretrained(tmp_path / "ckpt")
    x = random_one_hot(3, 50, 0)
    with torch.no_grad():
        a, b = model.eval()(x), loaded.eval()(x)
    assert torch.equal(a.mlm_logits, b.mlm_logits) and torch.equal(a.cls_logits, b.cls_logits)
    meta = checkpoint_metadata(tmp_path / "ckpt")
    assert meta["role"] == "teacher" and meta["alphabet"] == ALPHABET and meta["findna_version"]
    assert loaded.role == "teacher" and loaded.config == model.config


def test_loading_into_a_mismatched_config_names_the_fields(tmp_path):
    FinDNA(FinDNAConfig.preset("tiny")).save_pretrained(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match=r"hidden_dim: checkpoint 64, expected 512.*n_blocks: checkpoint 1, expected 4"):
        FinDNA.from_pretrained(tmp_path / "ckpt", config=FinDNAConfig.preset("paper", max_len=128, n_cls=4))
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        FinDNA.from_pretrained(tmp_path / "missing")
    # tampered weights: a tensor removed is named
    from safetensors.torch import load_file, save_file
    state = load_file(tmp_path / "ckpt" / "model.safetensors")
    state.pop("mlm_head.bias")
    save_file(state, tmp_path / "ckpt" / "model.safetensors", metadata={"model_class": '"FinDNA"', "role": '"student"'})
    with pytest.raises(CheckpointError, match=r"missing \['mlm_head.bias'\]"):
        FinDNA.from_pretrained(tmp_path / "ckpt")


def test_classifier_round_trip_and_pretrained_init(tmp_path):
    teacher = make_teacher(FinDNA(FinDNAConfig.preset("tiny"), seed=0))
    teacher.save_pretrained(tmp_path / "teacher")
    clf = FinDNAClassifier.from_pretrained(tmp_path / "teacher", n_classes=3, max_len=80, seed=0)
    for k, v in teacher.backbone.state_dict().items(): assert torch.equal(clf.backbone.state_dict()[k], v)
    clf.save_pretrained(tmp_path / "best")
    again = FinDNAClassifier.from_pretrained(tmp_path / "best")
    x = random_one_hot(2, 80, 1)
    with torch.no_grad(): assert torch.equal(clf.eval()(x), again.eval()(x))
    assert again.init == clf.init and "layout=pretrained" in again.init
    with pytest.warns(FinDNAWarning) as record:
        FinDNAClassifier.from_pretrained(tmp_path / "teacher", n_classes=2, layout="task", max_len=1000)
    messages = " | ".join(str(r.message) for r in record)
    assert "2 of 10 layers start random" in messages and "does not connect all 1000 positions" in messages


# ---------------------------------------------------------------------------------------------- reference importer

class RefMlp(nn.Module):
    def __init__(self, E, H):
        super().__init__()
        self.fc1, self.act, self.fc2, self.drop = nn.Linear(E, H), nn.GELU(), nn.Linear(H, E), nn.Dropout(0.)
    def forward(self, x): return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

class RefCircularShift(nn.Module):
    def __init__(self, g): super().__init__(); self.g = g
    def forward(self, x):
        y = torch.split(x, self.g, dim=-1)
        return torch.cat([y[0]] + [torch.roll(y[i], shifts=-2 ** (i - 1), dims=1) for i in range(1, len(y))], -1)

class RefSwanDNABlock(nn.Module):
    def __init__(self, E, g, H, prenorm, norm):
        super().__init__()
        self.prenorm = nn.LayerNorm(E) if prenorm == "LN" else nn.Identity()
        self.norm = nn.LayerNorm(E) if norm == "LN" else nn.Identity()       # defined, never applied
        self.column_transform, self.dropout, self.shift = RefMlp(E, H), nn.Dropout(0.), RefCircularShift(g)
    def forward(self, x):
        return self.shift(self.dropout(self.column_transform(self.prenorm(x)))) + x

class RefSwanDNAEncoder(nn.Module):
    def __init__(self, max_len, E, g, H, prenorm, norm):
        super().__init__()
        self.SwanDNA_blocks = nn.ModuleList([RefSwanDNABlock(E, g, H, prenorm, norm) for _ in range(math.ceil(np.log2(max_len)))])
    def forward(self, x):
        for block in self.SwanDNA_blocks: x = block(x)
        return x

class RefSwanDNANetwork(nn.Module):
    def __init__(self, max_len, E, g, H, prenorm, norm, blocks):
        super().__init__()
        self.SwanDNA_blocks = nn.ModuleList([RefSwanDNAEncoder(max_len, E, g, H, prenorm, norm) for _ in range(blocks)])
    def forward(self, x):
        for block in self.SwanDNA_blocks: x = block(x)
        return x

class RefModel4Pretrain(nn.Module):
    "The reference's pretraining network, re-implemented with its module structure and key names."
    def __init__(self, max_len, g, H, prenorm="None", norm="None", blocks=4):
        super().__init__()
        E = (math.ceil(np.log2(max_len)) + 1) * g
        self.embedding = nn.Linear(5, E)
        self.encoder = RefSwanDNANetwork(max_len, E, g, H, prenorm, norm, blocks)
        self.linear = nn.Linear(E, 5)
    def forward(self, x): return self.linear(self.encoder(self.embedding(x.float())))


@pytest.mark.parametrize("prenorm,norm", [("None", "None"), ("LN", "LN")])
def test_reference_importer_reproduces_the_reference_outputs(tmp_path, prenorm, norm):
    torch.manual_seed(0)
    L, n_cls = 100, 4
    ref_teacher, ref_student = RefModel4Pretrain(L + n_cls, 3, 16, prenorm, norm, 2), RefModel4Pretrain(L + n_cls, 3, 16, prenorm, norm, 2)
    with torch.no_grad():
        for p in ref_teacher.parameters(): p.add_(0.1 * torch.randn_like(p))          # LayerNorm weights != 1
    path = tmp_path / "model_29_1000_4l_308_512_noiseandTL.pt"
    torch.save({"Teacher": ref_teacher.state_dict(), "Student": ref_student.state_dict(), "EPOCHS_RUN": 29}, path)
    config = FinDNAConfig(max_len=L, n_cls=n_cls, track_size=3, hidden_dim=16, n_blocks=2, prenorm=prenorm == "LN")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ours = import_reference_checkpoint(path, "Teacher", config=config)
    assert (len(w) > 0) == (norm == "LN")                       # unused post-norm weights are reported
    to_ref = [ALPHABET.index(b) for b in "ACGNT"]                # reference channel j holds our channel to_ref[j]
    x = random_one_hot(3, L, 5)
    x_ref = torch.cat([x[..., to_ref], torch.zeros(3, n_cls, 5)], 1)      # reference order, CLS zeros appended
    with torch.no_grad():
        expected = ref_teacher(x_ref)                                     # (B, L + n_cls, 5), order A C G N T
        out = ours.eval()(x)
        got = torch.cat([out.mlm_logits, out.cls_logits], 1)[..., to_ref]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert ours.role == "teacher"
    # without a config, the shapes give the same architecture (max_len defaults to the reference's 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FinDNAWarning)
        inferred = import_reference_checkpoint(path, "Student")
    assert (inferred.config.embed_dim, inferred.config.n_layers, inferred.config.n_blocks, inferred.config.prenorm) == \
           (config.embed_dim, config.n_layers, config.n_blocks, config.prenorm)


# ---------------------------------------------------------------------------------------------- embed, classifier

def test_embed_alone_equals_batched_with_longer_sequences():
    model = FinDNA(FinDNAConfig.preset("small"), seed=0)
    rng = np.random.default_rng(0)
    target = "".join(rng.choice(list("ACGTN"), size=250))
    others = ["".join(rng.choice(list("ACGT"), size=n)) for n in (1000, 999, 513, 251, 17)]
    alone = embed(model, [target], precision="fp32", verbose=False)
    batched = embed(model, others + [target], batch_size=3, precision="fp32", verbose=False)
    np.testing.assert_allclose(batched[-1], alone[0], rtol=1e-5, atol=1e-5)
    cls_alone = embed(model, [target], pooling="cls", precision="fp32", verbose=False)
    cls_batched = embed(model, [target] + others, batch_size=6, pooling="cls", precision="fp32", verbose=False)
    np.testing.assert_allclose(cls_batched[0], cls_alone[0], rtol=1e-5, atol=1e-5)


def test_embed_many_sequences_from_fasta_gz(tmp_path):
    import gzip
    model = FinDNA(FinDNAConfig.preset("tiny"), seed=0)
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), size=int(n))) for n in rng.integers(1, 129, size=2000)]
    with gzip.open(tmp_path / "s.fa.gz", "wt") as f:
        for i, s in enumerate(seqs): f.write(f">s{i} description\n{s}\n")
    out = embed(model, tmp_path / "s.fa.gz", batch_size=256, precision="fp32", verbose=False)
    assert out.shape == (2000, 36) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out[:5], embed(model, seqs[:5], precision="fp32", verbose=False), rtol=1e-5, atol=1e-5)


def test_classifier_mean_pooling_ignores_padding():
    clf = FinDNAClassifier(FinDNAConfig.preset("tiny"), n_classes=2, seed=0).eval()
    idx, lengths = encode_batch(["ACGTTGCA" * 10, "GGA", "ACGTTGCA" * 16])
    x = one_hot(idx)
    with torch.no_grad():
        logits = clf(x, torch.from_numpy(lengths))
        for b, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(logits[b], clf(x[b:b + 1, :n])[0], rtol=1e-5, atol=1e-5)
        # the reference's pooling averages the padding too, and gives something else
        hidden = clf.encode(x, torch.from_numpy(lengths))
        assert not torch.allclose(clf.classifier(hidden[:, :x.shape[1]].mean(1))[1], logits[1], atol=1e-3)
