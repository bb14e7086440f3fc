from __future__ import annotations

import numpy as np

from training.fidelity import Validator, acf, evaluate, marginals_baseline, split_halves
from training.sample import make_sample_trace


def test_acf_of_ar1():
    rng = np.random.default_rng(1)
    x = np.zeros(50_000)
    for t in range(1, len(x)):
        x[t] = 0.8 * x[t - 1] + rng.normal()
    r = acf(x[:, None])[:, 0]
    np.testing.assert_allclose(r, 0.8 ** np.arange(1, 6), atol=0.03)


def test_evaluate_reports_every_figure_with_references():
    real, other = make_sample_trace(6000, seed=0), make_sample_trace(6000, seed=9)
    r = evaluate(real, other, sample=3000)
    for key in ("mmd2", "acf_err", "detection", "ks_lba", "w1_latency", "interarrival_ks"):
        assert key in r and f"{key}_floor" in r and f"{key}_marginals" in r
    assert r["bandwidth"] == [1.0] and r["n_real"] == 6000 and r["n_synthetic"] == 6000
    # another draw of the same process: as good as the floor; the marginals baseline has no sequence structure
    assert r["acf_err"] < r["acf_err_marginals"] / 5
    assert r["detection"] < 0.65 < r["detection_marginals"]
    assert r == evaluate(real, other, sample=3000)  # pinned seeds: the same numbers twice


def test_marginals_baseline_keeps_marginals_and_breaks_order():
    x = np.column_stack([np.arange(1000.0), np.arange(1000.0) % 7])
    m = marginals_baseline(x, 1000, seed=0)
    assert set(np.unique(m[:, 1])) <= set(range(7))
    assert abs(acf(m)[0, 0]) < 0.1 < acf(x)[0, 0]


def test_validator_is_pinned(tiny_config):
    from training.synthesizer import Synthesizer

    frame = make_sample_trace(3000, seed=2)
    s = Synthesizer(tiny_config)
    data = s.fit(frame)
    v = Validator(data.validation, sample=500)
    assert v(s) == v(s)
    assert Validator(data.validation, sample=500)(s) == v(s)


def test_real_halves_are_disjoint_and_cover_the_period():
    from training.fidelity import real_halves

    x = np.column_stack([np.arange(0, 100_000, 10.0), np.arange(10_000.0)])
    a, b = real_halves(x, block=1000)
    assert len(a) == len(b) == 5000
    assert set(a[:, 1]).isdisjoint(b[:, 1]) and set(a[:, 1]) | set(b[:, 1]) == set(x[:, 1])
    assert a[:, 1].max() >= 8999 and b[:, 1].min() <= 1000  # both span the whole trace
    np.testing.assert_allclose(np.diff(a[:, 0]), 10.0)  # time re-joined at the median gap


def test_split_halves_alternate_blocks_and_mark_the_joins():
    (a, ja), (b, jb) = split_halves(10, block=2)
    assert a.tolist() == [0, 1, 4, 5, 8, 9] and b.tolist() == [2, 3, 6, 7]
    assert ja.tolist() == [2, 4] and jb.tolist() == [2]  # where a block from further on starts


def test_validator_weights_add_detection_and_burstiness(tiny_config):
    import pytest

    from training.fidelity import select_value
    from training.synthesizer import Synthesizer

    frame = make_sample_trace(3000, seed=2)
    s = Synthesizer(tiny_config)
    data = s.fit(frame)
    v = Validator(data.validation, sample=500)
    plain = v.scores(s)
    assert set(plain) == {"val_mmd2", "val_fields"} and select_value(plain) == plain["val_fields"]
    w = v.scores(s, (0.5, 0.25))
    assert w["val_fields"] == plain["val_fields"] and 0 <= w["val_detection_12"] <= 0.5 and w["val_burst"] >= 0
    assert w["val_select"] == pytest.approx(w["val_fields"] + 0.5 * w["val_detection_12"] + 0.25 * w["val_burst"])
    assert select_value(w) == w["val_select"] and v.scores(s, (0.5, 0.25)) == w  # pinned


def test_validator_detection_tells_shuffled_rows_from_the_real_ones():
    frame = make_sample_trace(6000, seed=4)
    v = Validator(frame, sample=500)
    rows = np.column_stack([frame.values(), frame.opcode])
    shuffled = rows.copy()
    shuffled[:, 0] = np.cumsum(np.random.default_rng(0).permutation(np.diff(rows[:, 0], prepend=rows[0, 0])))
    for j in (1, 2, 4):  # sizes, addresses and opcodes drawn apart from their rows: no runs, no sequences
        shuffled[:, j] = np.random.default_rng(j).permutation(rows[:, j])
    assert v.detection(rows) < 0.05 < 0.2 < v.detection(shuffled)
