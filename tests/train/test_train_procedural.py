"""The procedural set as a training source: ``--data procedural=SEED`` renders on the fly,
``--data procedural=DIR`` reads a rendered tree, and two training iterations run on it. (The
renderer itself is tested in ``tests/datasets/test_procedural.py``.)"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage", reason="the procedural dataset needs scikit-image's sample photographs")

from asymtrack_deploy.datasets import ProceduralDataset, SequenceFolder, render_sequences  # noqa: E402
from asymtrack_deploy.train import TrainConfig, Trainer, build_dataset, parse_data_spec  # noqa: E402


def test_dataset_spec_with_a_folder_reads_the_rendered_tree(tmp_path):
    render_sequences(tmp_path, num_sequences=2, length=8, seed=3)
    assert isinstance(build_dataset(parse_data_spec(f"procedural={tmp_path}")), SequenceFolder)


def test_dataset_spec_with_a_seed_renders_on_the_fly():
    ds = build_dataset(parse_data_spec("procedural=5"), procedural_sequences=10, procedural_length=30)
    assert isinstance(ds, ProceduralDataset) and len(ds) == 10
    assert ds[4].boxes.shape == (30, 4) and ds[4].usable.all()


def test_two_training_iterations_on_procedural_data(tmp_path):
    config = TrainConfig(variant="tiny", data=("procedural=0",), out=tmp_path, epochs=1, batch_size=2,
                         samples_per_epoch=4, workers=0, threads=1, progress=False, procedural_sequences=20,
                         procedural_length=40)  # fmt: skip
    trainer = Trainer(config)
    last = trainer.run()
    trainer.close()
    assert last.is_file() and np.isfinite(trainer.info["loss"])
