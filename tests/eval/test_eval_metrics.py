"""Metrics: the got10k convention against the got10k package itself, the pytracking convention
on cases small enough to compute by hand."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.eval import metrics as M
from asymtrack_deploy.eval import load_dataset
from asymtrack_deploy.eval.report import evaluate
from asymtrack_deploy.eval.results import SequenceRecord, write_got10k_submission

from eval_fixtures import SIZE, got10k_tree


def _noisy_tracks(gt: np.ndarray, rng) -> np.ndarray:
    """Predictions around the ground truth, some leaving the image (clipping matters), rounded
    to what a result file keeps so both sides read identical numbers."""
    pred = gt + rng.normal(0, 4, gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    pred[-1] = [-10, -8, 40, 30]  # partly outside the image
    return np.round(pred, 3)


# -- got10k convention vs the got10k package -----------------------------------------------------
def test_got10k_ao_sr_match_the_got10k_package(tmp_path):
    got10k_exp = pytest.importorskip("got10k.experiments.got10k", reason="pip install got10k six")
    rng = np.random.default_rng(0)
    tree = got10k_tree(tmp_path / "GOT-10k", "val", count=4, frames=9, absent=(2, 5))
    records = {}
    for name, (gt, _) in tree.items():
        pred = _noisy_tracks(gt, rng)
        records[name] = SequenceRecord(pred, rng.uniform(0.005, 0.02, len(gt)), np.ones(len(gt)))
    write_got10k_submission(records, tmp_path / "results" / "GOT-10k" / "ours")

    exp = got10k_exp.ExperimentGOT10k(str(tmp_path / "GOT-10k"), subset="val",
                                      result_dir=str(tmp_path / "results"), report_dir=str(tmp_path / "reports"))
    theirs = exp.report(["ours"])["ours"]["overall"]

    dataset = load_dataset("got10k-val", tmp_path / "GOT-10k")
    ours = evaluate(dataset, records)["metrics"]["got10k"]
    assert ours["AO"] == pytest.approx(theirs["ao"] * 100, abs=1e-9)
    assert ours["SR50"] == pytest.approx(theirs["sr"] * 100, abs=1e-9)
    assert ours["SR75"] == pytest.approx(theirs["succ_curve"][75] * 100, abs=1e-9)
    np.testing.assert_allclose(ours["success_curve"], np.asarray(theirs["succ_curve"]) * 100, atol=1e-9)


def test_got10k_iou_matches_rect_iou_with_and_without_bounds():
    metrics = pytest.importorskip("got10k.utils.metrics", reason="pip install got10k six")
    rng = np.random.default_rng(1)
    a = np.abs(rng.normal(40, 30, (200, 4)))
    b = np.abs(rng.normal(40, 30, (200, 4)))
    np.testing.assert_allclose(M.iou_exclusive(a, b), metrics.rect_iou(a.copy(), b.copy()), atol=1e-12)
    np.testing.assert_allclose(M.iou_exclusive(a, b, SIZE), metrics.rect_iou(a.copy(), b.copy(), bound=SIZE), atol=1e-12)


def test_toolkit_otb_curves_match_the_got10k_package():
    otb = pytest.importorskip("got10k.experiments.otb", reason="pip install got10k six")
    exp = object.__new__(otb.ExperimentOTB)  # only its metric methods; no dataset download
    exp.nbins_iou, exp.nbins_ce = 21, 51
    rng = np.random.default_rng(2)
    curves_ours, curves_theirs = [], []
    for seed in range(3):
        gt = np.abs(rng.normal(50, 20, (15, 4))) + 2
        pred = np.round(gt + rng.normal(0, 6, gt.shape), 3)
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        ours = M.toolkit_otb_curves(pred, gt)
        boxes = pred.copy()
        boxes[0] = gt[0]
        succ, prec = exp._calc_curves(*exp._calc_metrics(boxes, gt))
        np.testing.assert_allclose(ours["success"], succ)
        np.testing.assert_allclose(ours["precision"], prec)
        curves_ours.append(ours)
        curves_theirs.append((succ, prec))
    summary = M.toolkit_summary(curves_ours)
    assert summary["Success"] == pytest.approx(np.mean([s for s, _ in curves_theirs]) * 100)
    assert summary["Precision"] == pytest.approx(np.mean([p for _, p in curves_theirs], axis=0)[20] * 100)


# -- pytracking convention, by hand --------------------------------------------------------------
GT = np.array([[0, 0, 10, 10]] * 4, dtype=float)


def test_pytracking_hand_computed_sequence():
    # frame 0 is replaced by the ground truth; IoUs 1, 1, 1/3, 0; centre errors 0, 0, 5, 28.3 px
    pred = np.array([[50, 50, 3, 3], [0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 10, 10]], float)
    c = M.pytracking_curves(pred, GT)
    # IoU 1 is above 20 of the 21 thresholds (not 1.0); 1/3 is above 0, 0.05, ..., 0.30 (7)
    assert c.success.mean() * 100 == pytest.approx((2 * 20 + 7) / 84 * 100)
    s = M.pytracking_summary([c])
    assert s["AUC"] == pytest.approx(55.952380952)
    assert s["OP50"] == pytest.approx(50.0) and s["OP75"] == pytest.approx(50.0)
    assert s["Precision"] == pytest.approx(75.0)  # 5 px passes at 20 px, 28.3 px does not
    assert s["Norm Precision"] == pytest.approx(50.0)  # normalised: 0.5 and 2.83 both fail at 0.2
    assert c.avg_overlap == pytest.approx((1 + 1 + 1 / 3 + 0) / 4)


def test_pytracking_iou_uses_inclusive_centres_and_same_overlap_as_exclusive():
    a, b = np.array([[0.0, 0, 2.5, 2]]), np.array([[0.0, 0, 2, 2]])
    # inter (min(1.5, 1) - 0 + 1) * 2 = 4, union 5 + 4 - 4 -> the +1 and -1 cancel in the overlap
    assert M.iou_inclusive(a, b)[0] == pytest.approx(0.8)
    assert M.iou_inclusive(a, b)[0] == pytest.approx(M.iou_exclusive(a, b)[0])
    # centres x + (w - 1) / 2: 0.75 and 0.5
    assert M.center_error_inclusive(a, b)[0] == pytest.approx(0.25)


def test_pytracking_lasot_absent_frames_fail_every_measure():
    visible = np.array([1, 1, 0, 1], bool)
    c = M.pytracking_curves(GT, GT, visible, rules="lasot")
    s = M.pytracking_summary([c])
    assert s["AUC"] == pytest.approx(3 * 20 / 84 * 100)
    assert s["Precision"] == pytest.approx(75.0) and s["Norm Precision"] == pytest.approx(75.0)
    # without the flags the same perfect track scores 20/21
    assert M.pytracking_summary([M.pytracking_curves(GT, GT)])["AUC"] == pytest.approx(20 / 21 * 100)


def test_pytracking_invalid_annotation_quirks():
    gt = GT.copy()
    gt[2] = [0, 0, 0, 10]  # not a box: IoU -1, centre inf, normalised centre -1 (a "success")
    s = M.pytracking_summary([M.pytracking_curves(GT, gt)])
    assert s["Precision"] == pytest.approx(75.0)
    assert s["Norm Precision"] == pytest.approx(100.0)
    assert s["AUC"] == pytest.approx(3 * 20 / 84 * 100)
    # UAV rules: a NaN annotation gives centre error -1, which counts for precision
    gt[2] = np.nan
    s = M.pytracking_summary([M.pytracking_curves(GT, gt, rules="uav")])
    assert s["Precision"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="NaN"):
        M.pytracking_curves(GT, gt)


def test_pytracking_zero_size_prediction_repeats_previous_box():
    pred = GT.copy()
    pred[2] = [3, 3, 0, 0]
    assert M.pytracking_summary([M.pytracking_curves(pred, GT)])["AUC"] == pytest.approx(20 / 21 * 100)


def test_pytracking_length_rules():
    long = np.concatenate([GT, GT])
    assert M.pytracking_curves(long, GT).success[0] == 1.0
    short = GT[:2]
    c = M.pytracking_curves(short, GT)  # padded with zero boxes: the two missing frames fail
    assert c.success[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="2 predicted boxes for 4"):
        M.pytracking_curves(short, GT, np.ones(4, bool), rules="lasot")
    with pytest.raises(ValueError, match="negative"):
        M.pytracking_curves(-GT, GT)


def test_toolkit_lasot_normalised_precision_is_a_curve_mean():
    pred = GT.copy()
    pred[1, 0] += 3  # normalised centre error 0.3: passes thresholds 0.30..0.50 (21 of 51)
    s = M.toolkit_summary([M.toolkit_lasot_curves(pred, GT)])
    assert s["Norm Precision"] == pytest.approx((3 * 51 + 21) / (4 * 51) * 100)


def test_got10k_pooling_weighs_frames_not_sequences():
    a = M.got10k_sequence_ious(GT, GT, None)  # 3 frames of IoU 1
    b = M.got10k_sequence_ious(np.array([[0, 0, 10, 10], [50, 50, 5, 5]], float), GT[:2], None)  # 1 frame of 0
    assert M.got10k_summary([a, b])["AO"] == pytest.approx(75.0)
    visible = np.array([1, 0, 0, 1], bool)
    assert len(M.got10k_sequence_ious(GT, GT, None, visible)) == 1


def test_speed_counts_all_frames():
    s = M.speed_fps([np.array([0.5, 0.25, 0.25]), np.array([1.0, 0.5])])
    assert s["fps"] == pytest.approx(5 / 2.5) and s["fps_tracking"] == pytest.approx(3 / 1.0)
    assert s["fps_mean_per_frame"] == pytest.approx((2 + 4 + 4 + 1 + 2) / 5) and s["frames"] == 5
