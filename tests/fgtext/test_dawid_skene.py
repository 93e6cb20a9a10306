"""fgtext.agreement.dawid_skene: the reliability model, against crowd-kit and by hand."""

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from fgtext.agreement import LabelTable
from fgtext.agreement.dawid_skene import dawid_skene, fit_reliability
from fgtext.schema import DIMENSIONS
from fgtext.synth.annotators import simulate_codes


def random_labels(seed, n_tasks=300, n_values=4, accuracies=(0.9, 0.8, 0.7, 0.6, None)):
    """Each task labelled by a random subset (1 to all) of annotators of mixed skill."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_values, size=n_tasks)
    codes = simulate_codes(truth, n_values, list(accuracies), rng)
    rows = [
        (t, w, codes[t, w])
        for t in range(n_tasks)
        for w in rng.choice(
            len(accuracies), size=rng.integers(1, len(accuracies) + 1), replace=False
        )
    ]
    return truth, pd.DataFrame(rows, columns=["task", "worker", "label"])


def ours(df, n_values, gold=None, **kw):
    n_tasks, n_workers = df.task.max() + 1, df.worker.max() + 1
    return dawid_skene(
        df.task.values, df.worker.values, df.label.values, n_tasks=n_tasks, n_workers=n_workers,
        n_values=n_values, gold=gold, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_gold", [False, True])
def test_equals_crowdkit_on_the_same_inputs(seed, with_gold):
    n_values = 3 + seed
    truth, df = random_labels(seed, n_values=n_values)
    gold = np.full(len(truth), -1)
    true_labels = None
    if with_gold:
        gold[:25] = truth[:25]
        true_labels = pd.Series(truth[:25], index=np.arange(25))
    ck = DawidSkene(n_iter=100, tol=1e-5)
    probas = ck.fit_predict_proba(df, true_labels=true_labels)
    fit = ours(df, n_values, gold, smoothing=0.0, n_iter=100, tol=1e-5)
    tasks, values = np.arange(len(truth)), np.arange(n_values)
    assert fit.iterations == len(ck.loss_history_)
    np.testing.assert_allclose(fit.posteriors, probas.loc[tasks, values].values, atol=1e-6)
    np.testing.assert_array_equal(fit.labels, ck.labels_.loc[tasks].values)
    np.testing.assert_allclose(fit.priors, ck.priors_.loc[values].values, atol=1e-9)
    for w in range(df.worker.max() + 1):
        theirs = ck.errors_.loc[w].reindex(index=values, fill_value=0.0)[values].values
        np.testing.assert_allclose(fit.errors[w], theirs, atol=1e-6)
    if with_gold:  # gold clips keep their known value
        np.testing.assert_array_equal(fit.labels[:25], truth[:25])
        assert np.all(fit.confidence[:25] == 1.0)


def test_a_worked_example_by_hand():
    # 4 clips, annotators A (0) and B (1), values 0/1; clip 3 is gold with value 0.
    #   clip:   0  1  2  3
    #   A:      0  0  1  0
    #   B:      0  0  1  1
    task = [0, 0, 1, 1, 2, 2, 3, 3]
    worker = [0, 1, 0, 1, 0, 1, 0, 1]
    label = [0, 0, 0, 0, 1, 1, 0, 1]
    gold = [-1, -1, -1, 0]
    kw = dict(n_tasks=4, n_workers=2, n_values=2, gold=np.array(gold))
    fit = dawid_skene(task, worker, label, smoothing=0.0, n_iter=1, **kw)
    # Start: majority votes (clip 3 clamped to 0): p = (1,0), (1,0), (0,1), (1,0); prior 3/4, 1/4.
    np.testing.assert_allclose(fit.priors, [0.75, 0.25])
    # B said 1 on one of the three clips whose value is 0: P(B says 0 | 0) = 2/3, 1 | 1 = 1.
    np.testing.assert_allclose(fit.errors[1], [[2 / 3, 0.0], [1 / 3, 1.0]], atol=1e-9)
    np.testing.assert_allclose(fit.errors[0], [[1.0, 0.0], [0.0, 1.0]], atol=1e-9)
    np.testing.assert_allclose(fit.accuracy, [1.0, 0.75])
    # smoothing=2: two pseudo-labels per true value, spread as the annotator's one-coin matrix.
    # B was right on 3 of 4 (accuracy 0.75): pseudo-counts 1.5 on the diagonal, 0.5 off it, so
    # B's columns are (2+1.5, 1+0.5)/5 and (0+0.5, 1+1.5)/3; A (4 of 4) keeps its identity.
    start = dawid_skene(task, worker, label, smoothing=2.0, n_iter=0, **kw)
    np.testing.assert_allclose(start.errors[1], [[0.7, 1 / 6], [0.3, 5 / 6]])
    np.testing.assert_allclose(start.errors[0], [[1.0, 0.0], [0.0, 1.0]], atol=1e-9)
    # clip 2 (both say 1): 0.25 * 1 * 5/6 against 0.75 * 1e-10/5 * 0.3: value 1, surely
    smoothed = dawid_skene(task, worker, label, smoothing=2.0, n_iter=1, **kw)
    assert smoothed.posteriors[2, 1] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(smoothed.posteriors[3], [1.0, 0.0])  # gold stays


def test_clips_without_labels_get_the_prior_and_gold_without_labels_its_value():
    fit = dawid_skene([0, 1], [0, 0], [1, 1], n_tasks=4, n_workers=1, n_values=2,
                      gold=np.array([-1, -1, -1, 0]), smoothing=0.0)  # fmt: skip
    np.testing.assert_allclose(fit.posteriors[2], fit.priors / fit.priors.sum())
    np.testing.assert_allclose(fit.posteriors[3], [1.0, 0.0])


def test_reliability_of_a_label_table_finds_the_spammer_and_the_careful_one():
    rng = np.random.default_rng(5)
    n, names = 400, ["careful", "good", "sloppy", "spammer"]
    values = {d: [f"{d}-{v}" for v in range(6)] for d in DIMENSIONS}
    truth = {d: rng.integers(6, size=n) for d in DIMENSIONS}
    labels = {d: simulate_codes(truth[d], 6, [0.95, 0.8, 0.7, None], rng) for d in DIMENSIONS}
    table = LabelTable(
        clip_ids=[f"c{i:03d}" for i in range(n) for _ in names],
        annotators=names * n,
        values={d: [values[d][v] for v in labels[d].ravel()] for d in DIMENSIONS},
    )
    gold = {f"c{i:03d}": {d: values[d][truth[d][i]] for d in DIMENSIONS} for i in range(20)}
    rel = fit_reliability(table, gold=gold)  # the default smoothing
    acc = rel.annotator_accuracy()
    for d in DIMENSIONS:
        assert acc["careful"][d] > 0.9 and 0.6 < acc["sloppy"][d] < 0.8 and acc["spammer"][d] < 0.3
    index = rel.index()
    right = sum(
        rel.final(index[f"c{i:03d}"]) == {d: values[d][truth[d][i]] for d in DIMENSIONS}
        for i in range(n)
    )
    assert right > 0.75 * n  # ~0.96 per dimension: 0.96**4 of the tuples (332 of 400)
    assert rel.final(index["c000"]) == gold["c000"]
    assert rel.confidence(index["c000"]) == {d: 1.0 for d in DIMENSIONS}
    tuple_p = rel.tuple_posterior
    np.testing.assert_allclose(tuple_p, np.prod([rel.fits[d].confidence for d in DIMENSIONS], 0))
    assert np.all(rel.min_confidence >= tuple_p)
