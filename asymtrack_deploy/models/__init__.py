"""The PyTorch reference AsymTrack (torch only; the runtime side never imports this)."""
from .asymtrack import (
    VARIANTS,
    AsymTrack,
    TemplateState,
    VariantConfig,
    build_model,
    count_flops,
    explicit_attention,
    parameter_count,
    scaled_etm_mix,
)
from .checkpoint import (
    CheckpointError,
    checkpoint_filter_fn,
    is_deploy_form,
    load_checkpoint,
    load_model,
    read_state_dict,
    save_checkpoint,
)

__all__ = [
    "AsymTrack",
    "CheckpointError",
    "TemplateState",
    "VARIANTS",
    "VariantConfig",
    "build_model",
    "checkpoint_filter_fn",
    "count_flops",
    "explicit_attention",
    "is_deploy_form",
    "load_checkpoint",
    "load_model",
    "parameter_count",
    "read_state_dict",
    "save_checkpoint",
    "scaled_etm_mix",
]
