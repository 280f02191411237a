"""Training AsymTrack with the official recipe (torch; nothing in the runtime imports this).

``train(TrainConfig(...))`` or ``asymtrack-deploy train``; datasets in their published layouts
(``datasets``), a procedural dataset built from real photographs (``procedural``), the pair
sampler and augmentation (``pairs``), the loss (``losses``), optimiser and schedule (``recipe``)
and the EfficientMod-xxs backbone initialisation (``pretrained``).
"""
from .data import DATASET_NAMES, DataSpec, build_dataset, parse_data_spec
from .datasets import COCO, GOT10k, AnnotationError, LaSOT, SequenceFolder, SequenceInfo, TrackingDataset, TrackingNet
from .losses import generalized_iou, tracking_loss
from .pairs import Augmentation, PairDataset, RankSampler, make_pair, normalize_crops, sample_frame_ids
from .pretrained import PretrainedError, load_pretrained_backbone, map_efficientmod_keys
from .recipe import RECIPES, Recipe, build_optimizer, drop_epoch, init_weights, lr_scale
from .trainer import TrainConfig, Trainer, checkpoint_path, train, train_step

__all__ = [
    "AnnotationError", "Augmentation", "COCO", "DATASET_NAMES", "DataSpec", "GOT10k", "LaSOT", "PairDataset",
    "PretrainedError", "RECIPES", "RankSampler", "Recipe", "SequenceFolder", "SequenceInfo", "TrackingDataset",
    "TrackingNet", "TrainConfig", "Trainer", "build_dataset", "build_optimizer", "checkpoint_path",
    "drop_epoch",
    "generalized_iou", "init_weights", "load_pretrained_backbone", "lr_scale", "make_pair", "map_efficientmod_keys",
    "normalize_crops", "parse_data_spec", "sample_frame_ids", "tracking_loss", "train", "train_step",
]  # fmt: skip
