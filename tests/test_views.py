"Views: masking rates, augmentation validity, composition and on-the-fly randomness."
import pytest, torch
from findna.alphabet import N_INDEX, decode, one_hot, reverse_complement
from findna.views import (delete, gaussian_noise, insert, mask_tokens, random_deletion, random_insertion,
                          random_mutation, random_reverse_complement, random_translocation, student_view,
                          teacher_view, translocate)

@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 4, (128, 1000), generator=g)
    idx[:, 100:150] = N_INDEX                                  # an N stretch in every window
    return one_hot(idx), g

def test_masking_rates(batch):
    x, g = batch
    m = mask_tokens(x, ratio=0.3, generator=g)
    bases = x[..., :N_INDEX].sum(-1) == 1
    per_window = m.mask.sum(1).float() / bases.sum(1).float()
    assert torch.allclose(per_window, torch.full_like(per_window, 0.3), atol=0.01)   # 30% of non-N, every window
    assert not (m.mask & ~bases).any()
    sel_in, sel_x = m.inputs[m.mask], x[m.mask]
    zero = (sel_in.sum(-1) == 0).float().mean()
    changed_base = ((sel_in.sum(-1) == 1) & (sel_in != sel_x).any(-1)).float().mean()
    unchanged = (sel_in == sel_x).all(-1).float().mean()
    assert abs(zero - 0.8) < 0.01
    assert abs(changed_base - 0.1 * 0.75) < 0.01               # random base that differs from the original
    assert abs(unchanged - (0.1 + 0.1 * 0.25)) < 0.01
    assert torch.equal(m.inputs[~m.mask], x[~m.mask])

@pytest.mark.parametrize("ratio", [0.15, 0.5])
def test_masking_ratio_is_configurable(batch, ratio):
    x, g = batch
    m = mask_tokens(x, ratio=ratio, generator=g)
    assert abs(m.mask.sum() / (x[..., :N_INDEX].sum(-1) == 1).sum() - ratio) < 0.01

@pytest.mark.parametrize("aug", [random_deletion, random_insertion, random_translocation, random_mutation,
                                 random_reverse_complement, teacher_view])
def test_augmentations_keep_shape_and_one_hot(batch, aug):
    x, g = batch
    y = aug(x, generator=g)
    assert y.shape == x.shape
    assert torch.equal(y.sum(-1), torch.ones(x.shape[:2]))
    assert set(y.unique().tolist()) == {0.0, 1.0}

def test_noise_keeps_shape_and_is_centred(batch):
    x, g = batch
    d = gaussian_noise(x, std=0.2, generator=g) - x
    assert d.shape == x.shape and abs(d.mean()) < 0.005 and abs(d.std() - 0.2) < 0.005

def test_verbs_match_list_slicing():
    rng = torch.Generator().manual_seed(3)
    idx = torch.randint(0, 4, (16, 60), generator=rng)
    x, s = one_hot(idx), decode(idx)
    n = torch.randint(0, 11, (16,), generator=rng)
    pos = torch.randint(0, 40, (16,), generator=rng)
    shift = torch.randint(-20, 21, (16,), generator=rng)
    dl, ins, tr = decode(delete(x, n, pos, rng)), decode(insert(x, n, pos, rng)), decode(translocate(x, shift))
    for b in range(16):
        k, p, sh = int(n[b]), int(pos[b]), int(shift[b])
        assert dl[b][:60 - k] == s[b][:p] + s[b][p + k:]
        assert ins[b][:p] + ins[b][p + k:] == s[b][:60 - k]
        assert tr[b] == s[b][-sh % 60:] + s[b][:-sh % 60] if sh % 60 else tr[b] == s[b]

def test_vectorised_per_sample_sizes_vary(batch):
    x, g = batch
    y = random_translocation(x, max_shift=20, generator=g)
    shifts = {next(s for s in range(-20, 21) if torch.equal(translocate(x[b:b + 1], torch.tensor([s])), y[b:b + 1]))
              for b in range(32)}
    assert len(shifts) > 5                                     # each sample drew its own shift

def test_student_view_targets_follow_reverse_complement(batch):
    x, g = batch
    v = student_view(x, g, rc_prob=1.0, noise_std=0.0)
    assert torch.equal(v.targets, reverse_complement(x))
    assert torch.equal(v.inputs[~v.mask], v.targets[~v.mask])
    assert not (v.mask & (v.targets[..., N_INDEX] == 1)).any()

def test_teacher_view_composes_all_three():
    x = one_hot(torch.randint(0, 4, (1, 400), generator=torch.Generator().manual_seed(0)))
    g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    y = teacher_view(x, g1)
    step = random_translocation(random_insertion(random_deletion(x, generator=g2), generator=g2), generator=g2)
    assert torch.equal(y, step)
    g3 = torch.Generator().manual_seed(11)
    only_shift = random_translocation(x, generator=g3)
    assert not torch.equal(y, only_shift)                      # not just the last augmentation (reference bug)

def test_views_are_drawn_anew_each_batch(batch):
    x, g = batch
    a, b = student_view(x, g), student_view(x, g)
    assert not torch.equal(a.mask, b.mask) and not torch.equal(teacher_view(x, g), teacher_view(x, g))
