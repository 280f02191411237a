"""Training AsymTrack with the official recipe (torch; nothing in the runtime imports this).

``train(TrainConfig(...))`` or ``asymtrack-deploy train``; the ``--data`` specifications
(``data``: datasets in their published layouts and the procedural set, read by the data layer
``asymtrack_deploy.datasets``), the pair sampler and augmentation (``pairs``), the loss
(``losses``), optimiser and schedule (``recipe``) and the EfficientMod-xxs backbone
initialisation (``pretrained``).
"""
from .data import DATASET_NAMES, DataSpec, build_dataset, parse_data_spec
from .losses import TrainingDiverged, generalized_iou, tracking_loss
from .pairs import Augmentation, PairDataset, RankSampler, make_pair, normalize_crops, sample_frame_ids
from .pretrained import PretrainedError, load_pretrained_backbone, map_efficientmod_keys
from .recipe import RECIPES, Recipe, build_optimizer, drop_epoch, init_weights, lr_scale
from .trainer import TrainConfig, Trainer, checkpoint_path, train, train_step

__all__ = [
    "Augmentation", "DATASET_NAMES", "DataSpec", "PairDataset", "PretrainedError", "RECIPES", "RankSampler", "Recipe",
    "TrainConfig", "Trainer", "TrainingDiverged", "build_dataset", "build_optimizer", "checkpoint_path", "drop_epoch", "generalized_iou",
    "init_weights", "load_pretrained_backbone", "lr_scale", "make_pair", "map_efficientmod_keys", "normalize_crops",
    "parse_data_spec", "sample_frame_ids", "tracking_loss", "train", "train_step",
]  # fmt: skip
