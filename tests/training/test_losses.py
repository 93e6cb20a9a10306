"""The losses against hand-worked values, and the rank gather against the single-process loss."""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from training.losses import (
    LossWeights,
    class_prototype_loss,
    classification_loss,
    combine_losses,
    fine_grained_loss,
    same_text_mask,
)

e = math.e
log = math.log


def test_classification_loss_is_cross_entropy_worked_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1])
    # -log(e^2 / (e^2 + 1)) = log(1 + e^-2); -log(e / (1 + e)) = log(1 + e^-1)
    expected = (log(1 + e**-2) + log(1 + e**-1)) / 2
    assert classification_loss(logits, labels).item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.220095, abs=1e-6)


def test_class_prototype_loss_normalises_and_scales_worked_by_hand():
    video = torch.tensor([[3.0, 0.0], [0.0, 0.5]])  # unit: (1, 0), (0, 1)
    classes = torch.tensor([[2.0, 0.0], [0.0, 4.0], [1.0, 1.0]])  # unit: (1,0), (0,1), (r,r)
    labels = torch.tensor([0, 2])
    scale = torch.tensor(2.0)
    r = 1 / math.sqrt(2)
    # clip 0: logits 2·(1, 0, r), positive class 0; clip 1: logits 2·(0, 1, r), positive 2
    row0 = log(e**2 + 1 + e ** (2 * r)) - 2
    row1 = log(1 + e**2 + e ** (2 * r)) - 2 * r
    loss = class_prototype_loss(video, classes, labels, scale)
    assert loss.item() == pytest.approx((row0 + row1) / 2, abs=1e-6)


def test_same_text_mask_marks_identical_rows():
    a, b = [1.0, 0.0], [0.0, 1.0]
    texts = torch.tensor([a, b, a, [1.0, 1e-6]])
    expected = torch.tensor(
        [[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool
    )
    assert torch.equal(same_text_mask(texts, texts), expected)


# Three clips; clips 0 and 2 have the same FG-Text. Unit vectors, logit scale 1, so
# logits = video @ texts.T = [[1, 0, 1], [0, 1, 0], [.6, .8, .6]].
VIDEO = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
TEXTS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])


def test_fine_grained_loss_multi_positive_worked_by_hand():
    # video→text: row 0 has positives columns 0 and 2: -log((e + e) / (2e + 1)); row 2 likewise
    v2t = [
        log(2 * e + 1) - log(2 * e),
        log(e + 2) - 1,
        log(2 * e**0.6 + e**0.8) - log(2 * e**0.6),
    ]
    # text→video (logits.T = [[1, 0, .6], [0, 1, .8], [1, 0, .6]]): texts 0 and 2 both accept
    # videos 0 and 2, so neither is pushed away from the other
    t2v = [
        log(e + 1 + e**0.6) - log(e + e**0.6),
        log(1 + e + e**0.8) - 1,
        log(e + 1 + e**0.6) - log(e + e**0.6),
    ]
    expected = (np.mean(v2t) + np.mean(t2v)) / 2
    loss = fine_grained_loss(VIDEO, TEXTS, torch.tensor(1.0), mode="multi-positive")
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_fine_grained_loss_symmetric_mode_treats_duplicates_as_negatives():
    v2t = [log(2 * e + 1) - 1, log(e + 2) - 1, log(2 * e**0.6 + e**0.8) - 0.6]
    t2v = [log(e + 1 + e**0.6) - 1, log(1 + e + e**0.8) - 1, log(e + 1 + e**0.6) - 0.6]
    expected = (np.mean(v2t) + np.mean(t2v)) / 2
    loss = fine_grained_loss(VIDEO, TEXTS, torch.tensor(1.0), mode="symmetric")
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_fine_grained_loss_paper_mode_is_eq_1_video_to_text_one_positive():
    # Eq. 1: -1/B Σ_i log(exp(s·v_i·t_i) / Σ_j exp(s·v_i·t_j)), rows only (no text → video);
    # clip 2's own text is column 2, and column 0 (the same sentence) is a negative
    v2t = [log(2 * e + 1) - 1, log(e + 2) - 1, log(2 * e**0.6 + e**0.8) - 0.6]
    loss = fine_grained_loss(VIDEO, TEXTS, torch.tensor(1.0), mode="paper")
    assert loss.item() == pytest.approx(np.mean(v2t), abs=1e-6)
    assert np.mean(v2t) == pytest.approx(0.861085, abs=1e-6)
    # a logit scale of 2 doubles every logit
    v2t_scaled = [log(2 * e**2 + 1) - 2, log(e**2 + 2) - 2, log(2 * e**1.2 + e**1.6) - 1.2]
    loss = fine_grained_loss(VIDEO, TEXTS, torch.tensor(2.0), mode="paper")
    assert loss.item() == pytest.approx(np.mean(v2t_scaled), abs=1e-6)


def test_paper_mode_is_the_default():
    default = fine_grained_loss(VIDEO, TEXTS, torch.tensor(1.0))
    assert default.item() == fine_grained_loss(VIDEO, TEXTS, torch.tensor(1.0), mode="paper").item()


def test_fine_grained_loss_modes_agree_when_all_texts_differ_and_match_clip_loss():
    torch.manual_seed(0)
    video, texts = torch.randn(6, 5), torch.randn(6, 5)
    scale = torch.tensor(7.0)
    multi = fine_grained_loss(video, texts, scale, mode="multi-positive")
    symmetric = fine_grained_loss(video, texts, scale, mode="symmetric")
    paper = fine_grained_loss(video, texts, scale, mode="paper")
    # open_clip's ClipLoss: (CE(logits, arange) + CE(logits.T, arange)) / 2
    logits = scale * F.normalize(video, dim=-1) @ F.normalize(texts, dim=-1).T
    target = torch.arange(6)
    clip = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    assert multi.item() == pytest.approx(clip.item(), abs=1e-5)
    assert symmetric.item() == pytest.approx(clip.item(), abs=1e-5)
    assert paper.item() == pytest.approx(F.cross_entropy(logits, target).item(), abs=1e-5)


def test_fine_grained_loss_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="unknown L_fg mode"):
        fine_grained_loss(VIDEO, TEXTS, torch.tensor(1.0), mode="supcon")


def test_combine_losses_weights_each_term():
    terms = {"cls": torch.tensor(1.0), "fg": torch.tensor(2.0), "cp": torch.tensor(4.0)}
    total = combine_losses(terms, LossWeights(fg=0.5, cp=0.25))
    assert total.item() == pytest.approx(1 + 0.5 * 2 + 0.25 * 4)
    assert combine_losses({"cls": torch.tensor(1.0)}, LossWeights()).item() == 1.0


# -- the gather across ranks: two gloo processes ----------------------------------------------

# Uneven local batches (3 + 2 clips), a text shared across the two ranks; and a rank whose
# batch is empty (every clip failed to decode), which must still take part in the gathers.
UNEVEN, ONE_EMPTY = [[0, 1, 2], [3, 4]], [[0, 1, 2, 3, 4], []]


def _problem():
    torch.manual_seed(1)
    inputs = torch.randn(5, 4)
    texts = torch.randn(5, 3)
    texts[4] = texts[0]  # clip 4 (rank 1) has the same FG-Text as clip 0 (rank 0)
    layer = torch.nn.Linear(4, 3)
    return inputs, texts, layer


def _rank_main(rank: int, port: int, queue, rank_rows, mode) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        inputs, texts, layer = _problem()
        rows = rank_rows[rank]
        loss = fine_grained_loss(layer(inputs[rows]), texts[rows], torch.tensor(3.0), mode=mode)
        loss.backward()
        # what DDP / DeepSpeed do with the gradients: average over ranks
        grad = layer.weight.grad.clone()
        dist.all_reduce(grad)
        queue.put((rank, loss.item(), (grad / 2).numpy()))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("rank_rows", "mode"),
    [(UNEVEN, "paper"), (UNEVEN, "symmetric"), (UNEVEN, "multi-positive"), (ONE_EMPTY, "paper")],
)
def test_gathered_loss_and_gradient_equal_the_single_process_ones(rank_rows, mode):
    inputs, texts, layer = _problem()
    single = fine_grained_loss(layer(inputs), texts, torch.tensor(3.0), mode=mode)
    single.backward()

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_rank_main, args=(r, port, queue, rank_rows, mode)) for r in range(2)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for _rank, loss, grad in results:
        assert loss == pytest.approx(single.item(), abs=1e-5)
        np.testing.assert_allclose(grad, layer.weight.grad.numpy(), atol=1e-5)
