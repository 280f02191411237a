"""The pair sampler and processing: causal frame choice, crops with the tracker's arithmetic,
ground truth in the crop, augmentation, determinism and per-rank sharing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asymtrack_deploy.boxes import jitter_box
from asymtrack_deploy.crop import crop_square, to_rgb
from asymtrack_deploy.datasets import Sequence, SequenceList
from asymtrack_deploy.models import build_model
from asymtrack_deploy.train import Augmentation, PairDataset, RankSampler, make_pair, normalize_crops, sample_frame_ids
from asymtrack_deploy.train.pairs import box_in_crop, has_context

PLAIN = Augmentation(gray_prob=0.0, flip_prob=0.0, brightness=0.0)


def _frame_with_target(box, size=(480, 640)):
    """A textured frame with a flat red rectangle at ``box``."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 120, size=(*size, 3), dtype=np.uint8)
    x, y, w, h = (int(v) for v in box)
    frame[y : y + h, x : x + w] = (0, 0, 255)  # BGR red
    return frame


def _red_extent(crop_rgb):
    red = (crop_rgb[..., 0] > 200) & (crop_rgb[..., 1] < 60)
    ys, xs = np.nonzero(red)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def test_causal_frame_choice_within_gap_and_visible():
    rng = np.random.default_rng(1)
    visible = np.ones(1000, bool)
    visible[::3] = False
    for _ in range(300):
        t, s = sample_frame_ids(visible, 200, rng)
        assert 0 <= t < s <= t + 200 + 5 * 99 and visible[t] and visible[s]
        assert s - t < 200  # found at once here: the gap only grows when nothing is found


def test_gap_grows_when_nothing_is_near():
    visible = np.zeros(500, bool)
    visible[[10, 400]] = True
    t, s = sample_frame_ids(visible, 50, np.random.default_rng(0), tries=200)
    assert (t, s) == (10, 400)


def test_template_crop_is_the_trackers_crop_without_jitter():
    box = (300.0, 200.0, 40.0, 60.0)
    frame = _frame_with_target(box)
    pair = make_pair(frame, box, frame, box, PLAIN, np.random.default_rng(0))
    expected = to_rgb(crop_square(frame, box, 2.0, 128)[0], "bgr")
    np.testing.assert_array_equal(pair["template"], expected)
    assert pair["template"].shape == (128, 128, 3) and pair["search"].shape == (256, 256, 3)


@pytest.mark.parametrize("seed", range(5))
def test_search_box_matches_the_target_in_the_crop(seed):
    box = (300.0, 200.0, 64.0, 48.0)
    frame = _frame_with_target(box)
    pair = make_pair(frame, box, frame, box, PLAIN, np.random.default_rng(seed))
    x, y, w, h = pair["search_box"] * 256
    expected = np.clip([x, y, x + w, y + h], 0, 256)  # the jitter may push the target partly out
    np.testing.assert_allclose(_red_extent(pair["search"]), expected, atol=2.0)


def test_flip_mirrors_the_search_box():
    box = (250.0, 150.0, 64.0, 48.0)
    frame = _frame_with_target(box)
    flipped = make_pair(frame, box, frame, box, Augmentation(gray_prob=0.0, flip_prob=1.0), np.random.default_rng(3))
    plain = make_pair(frame, box, frame, box, Augmentation(gray_prob=0.0, flip_prob=0.0), np.random.default_rng(3))
    np.testing.assert_allclose(flipped["search_box"][0], 1 - plain["search_box"][0] - plain["search_box"][2], atol=1e-6)
    np.testing.assert_array_equal(flipped["search"], plain["search"][:, ::-1])
    x, y, w, h = flipped["search_box"] * 256
    np.testing.assert_allclose(_red_extent(flipped["search"]), np.clip([x, y, x + w, y + h], 0, 256), atol=2.0)


def test_jitter_follows_the_official_formula():
    box = np.array([100.0, 100.0, 40.0, 20.0])
    rng = np.random.default_rng(0)
    out = [jitter_box(box, rng, center=3.5, scale=0.5) for _ in range(4000)]
    sizes = np.array([o[2:] / box[2:] for o in out])
    assert abs(np.log(sizes).std() - 0.5) < 0.03
    shifts = np.array([(o[:2] + o[2:] / 2 - (box[:2] + box[2:] / 2)) / np.sqrt(o[2] * o[3]) for o in out])
    assert np.abs(shifts).max() <= 3.5 / 2 + 1e-9 and np.abs(shifts).max() > 1.6


def test_box_in_crop_centres_an_unjittered_box():
    box = np.array([10.0, 20.0, 30.0, 30.0])
    out = box_in_crop(box, box, 256 / 120, 256)
    np.testing.assert_allclose(out[:2] + out[2:] / 2, [255 / 2 / 256] * 2, atol=1e-6)
    np.testing.assert_allclose(out[2:], [30 * 256 / 120 / 256] * 2, atol=1e-6)


def test_crops_that_are_all_padding_are_rejected():
    assert not has_context(np.array([-5000.0, -5000.0, 50.0, 50.0]), 4.0, (480, 640), 256)
    assert has_context(np.array([10.0, 10.0, 50.0, 50.0]), 4.0, (480, 640), 256)


def test_normalize_crops_matches_the_model_at_unit_brightness():
    model = build_model("tiny")
    crops = torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8)
    ours = normalize_crops(crops, torch.ones(2), model.cfg.mean, model.cfg.std)
    torch.testing.assert_close(ours, model.normalize(crops))
    bright = normalize_crops(crops, torch.full((2,), 1.2), model.cfg.mean, model.cfg.std)
    std, mean = (torch.tensor(v).view(1, 3, 1, 1) for v in (model.cfg.std, model.cfg.mean))
    assert (bright * std + mean).max() <= 1 + 1e-6  # clamped to [0, 1] after the brightness factor


class _Moving(SequenceList):
    """A synthetic video: a red square moving right on noise."""

    def __init__(self, n=3, length=40):
        super().__init__([f"moving{i}" for i in range(n)])
        self.length = length

    def _read(self, index):
        boxes = np.array([[100 + 3 * t, 120, 40, 40] for t in range(self.length)], np.float32)
        return Sequence(self.names[index], boxes, visible=np.ones(self.length, bool), render=lambda t: self.frame(boxes, t))

    def frame(self, boxes, frame_id):
        return _frame_with_target(boxes[frame_id], size=(300, 400))


def test_samples_are_a_function_of_seed_and_index():
    a = PairDataset([_Moving()], None, Augmentation(), 16, seed=5)
    b = PairDataset([_Moving()], None, Augmentation(), 16, seed=5)
    for i in (0, 7, 123456):
        for key in ("template", "search", "search_box", "brightness"):
            np.testing.assert_array_equal(a[i][key], b[i][key])
    assert not np.array_equal(a[0]["search"], a[1]["search"])


def test_dataset_ratios_are_respected():
    class Tagged(_Moving):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def frame(self, boxes, frame_id):
            return np.full((300, 400, 3), self.tag, np.uint8)

    pairs = PairDataset([Tagged(0), Tagged(200)], [1, 3], PLAIN, 200)
    tags = [int(pairs[i]["template"][0, 0, 0] > 100) for i in range(200)]
    assert 0.6 < np.mean(tags) < 0.9


def test_rank_sampler_splits_epochs_disjointly():
    shards = [list(RankSampler(10, rank=r, world_size=2)) for r in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(10))
    sampler = RankSampler(10, rank=1, world_size=2)
    sampler.set_epoch(3)
    assert list(sampler) == [31, 33, 35, 37, 39]


def test_bad_ratios_are_refused():
    with pytest.raises(ValueError, match="ratios"):
        PairDataset([_Moving()], [1, 2], Augmentation(), 4)
