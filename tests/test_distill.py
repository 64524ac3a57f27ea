"The objective's pieces: MLM loss locality, distillation value, centre (also across 2 gloo processes), EMA."
import copy, math, os
import pytest, torch, torch.distributed as dist, torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from findna.distill import (DistillationLoss, TeacherEMA, cosine_schedule, distillation_loss, mlm_accuracy,
                            mlm_loss, collapse_stats, collapse_verdict)

@pytest.mark.parametrize("kind", ["bce", "ce"])
def test_mlm_loss_ignores_unmasked_positions(kind):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, 5, generator=g)
    targets = F.one_hot(torch.randint(0, 4, (4, 50), generator=g), 5).float()
    mask = torch.rand(4, 50, generator=g) < 0.3
    changed = logits.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), 5, generator=g) * 100
    assert torch.equal(mlm_loss(logits, targets, mask, kind), mlm_loss(changed, targets, mask, kind))
    changed[mask] += torch.randn(int(mask.sum()), 5, generator=g)   # ... while masked positions do matter
    assert not torch.equal(mlm_loss(logits, targets, mask, kind), mlm_loss(changed, targets, mask, kind))

def test_mlm_loss_broadcasts_over_channels_not_random_entries():
    # the reference reshaped a (B, L) mask onto (B, L, 5) entries; ours must weigh all 5 channels of a masked row
    logits = torch.zeros(1, 4, 5, requires_grad=True)
    targets = F.one_hot(torch.tensor([[0, 1, 2, 3]]), 5).float()
    mask = torch.tensor([[False, True, False, False]])
    mlm_loss(logits, targets, mask, "bce").backward()
    assert (logits.grad[0, 1] != 0).all() and (logits.grad[0, [0, 2, 3]] == 0).all()
    logits.grad = None                                       # findna's default: CE over the 4 bases, N logit ignored
    mlm_loss(logits, targets, mask).backward()
    assert (logits.grad[0, 1, :4] != 0).all() and (logits.grad[0, 1, 4] == 0) and (logits.grad[0, [0, 2, 3]] == 0).all()
    assert mlm_accuracy(torch.tensor([[[0, 0, 0, 0, 0.], [9, 0, 0, 0, 0]]]),
                        F.one_hot(torch.tensor([[0, 0]]), 5).float(), torch.tensor([[False, True]])) == 1.0

def test_distillation_loss_hand_value():
    s = torch.tensor([[[0.3, -0.2, 0.1]]]); t = torch.tensor([[[0.05, 0.0, -0.05]]])
    c = torch.tensor([[0.0, 0.0, 0.05]])
    q = torch.softmax(torch.tensor([0.05, 0.0, -0.10]) / 0.04, 0)
    logp = torch.log_softmax(torch.tensor([0.3, -0.2, 0.1]) / 0.1, 0)
    assert math.isclose(distillation_loss(s, t, c, 0.1, 0.04).item(), -(q * logp).sum().item(), rel_tol=1e-6)

def test_centre_moves_toward_teacher_mean_with_momentum_09():
    loss = DistillationLoss(out_dim=6, center_momentum=0.9)
    loss.center.fill_(1.0)
    t = torch.randn(16, 10, 6)
    loss.update_center(t)
    assert torch.allclose(loss.center, 0.9 * 1.0 + 0.1 * t.mean((0, 1)), atol=1e-6)

def test_teacher_entropy_bounds():
    assert math.isclose(collapse_stats(torch.zeros(3, 2, 7), torch.zeros(1, 7), 0.04)["teacher_entropy"].item(),
                        math.log(7), rel_tol=1e-6)

def test_ema_moves_teacher_by_exactly_one_minus_m_times_difference():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(5, 16), nn.GELU(), nn.Linear(16, 5)).double()
    teacher = copy.deepcopy(student)
    ema = TeacherEMA(teacher)
    with torch.no_grad():
        for p in student.parameters(): p.add_(torch.randn_like(p))
    before = [p.clone() for p in teacher.parameters()]
    ema.update(student, 0.996)
    for b, t, s in zip(before, teacher.parameters(), student.parameters()):
        assert torch.allclose(t - b, (1 - 0.996) * (s - b), rtol=0, atol=1e-15)

def test_teacher_has_no_grads_after_a_training_step():
    student = nn.Linear(5, 5)
    ema = TeacherEMA(copy.deepcopy(student))
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    x = torch.randn(8, 5)
    with torch.no_grad(): t_out = ema.teacher(x)
    loss = distillation_loss(student(x)[:, None], t_out[:, None], torch.zeros(1, 5))
    loss.backward(); opt.step(); ema.update(student, 0.99)
    assert all(p.grad is None and not p.requires_grad for p in ema.teacher.parameters())

def test_schedule_lengths_and_endpoints():
    s = cosine_schedule(1.0, 0.0, total_steps=10, warmup_steps=3)
    assert len(s) == 10 and s[0] == 0 and s[3] == 1.0 and s[-1] > 0
    with pytest.raises(ValueError, match="warmup_steps"): cosine_schedule(1.0, 0.0, 5, warmup_steps=6)

def _centre_worker(rank, world, init_file, out):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(rank)
    loss = DistillationLoss(out_dim=4)
    t = torch.randn(3 + rank, 2, 4) + 10 * rank              # different batch sizes and means per rank
    loss.update_center(t)
    torch.save({"center": loss.center, "t": t}, f"{out}/rank{rank}.pt")
    dist.barrier(); dist.destroy_process_group()   # as `pretrain` ends (see test_trainer's DDP script)

def test_centre_is_averaged_over_the_global_batch_with_two_processes(tmp_path):
    mp.spawn(_centre_worker, args=(2, tmp_path / "init", tmp_path), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert torch.equal(r0["center"], r1["center"])
    all_t = torch.cat([r0["t"].reshape(-1, 4), r1["t"].reshape(-1, 4)])
    assert torch.allclose(r0["center"], 0.1 * all_t.mean(0, keepdim=True), atol=1e-5)
    # a per-rank (local) mean would differ: the ranks' means are 10 apart
    assert not torch.allclose(r0["center"], 0.1 * r0["t"].reshape(-1, 4).mean(0, keepdim=True), atol=1e-2)


def test_collapse_monitor_sees_batch_mean_collapse():
    # every window sharp on the same prototype: per-sample entropy as low as a healthy run's, but 1 prototype in use
    K = 128
    same = torch.zeros(64, 10, K); same[..., 3] = 20.0
    healthy = torch.zeros(64, 10, K)
    healthy[torch.arange(64)[:, None], torch.arange(10),
            torch.randint(0, K, (64, 10), generator=torch.Generator().manual_seed(0))] = 20.0
    st_same, st_ok = collapse_stats(same, torch.zeros(1, K), 0.04), collapse_stats(healthy, torch.zeros(1, K), 0.04)
    assert abs(st_same["teacher_entropy"] - st_ok["teacher_entropy"]) < 1e-4
    assert collapse_verdict(st_same, K) == "collapsed" and st_same["distinct_argmax"] == 1
    assert collapse_verdict(st_ok, K) is None and st_ok["effective_prototypes"] > K / 2
    assert collapse_verdict(collapse_stats(torch.randn(64, 10, K) * 1e-4, torch.zeros(1, K), 0.04), K) == "uniform"
    # 2 of 128 in use: < 1 % of K? no: 2 >= 2
    two = torch.zeros(64, 10, K); two[:32, :, 0] = 20.0; two[32:, :, 1] = 20.0
    assert collapse_verdict(collapse_stats(two, torch.zeros(1, K), 0.04), 1000) == "collapsed"   # 2 < 1 % of 1000
