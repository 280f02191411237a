"""The PyTorch reference AsymTrack (torch only; the runtime side never imports this)."""
from .asymtrack import (
    COUNTED,
    EAGER,
    VARIANTS,
    AsymTrack,
    GraphForm,
    TemplateState,
    VariantConfig,
    build_model,
    count_flops,
    parameter_count,
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
    "COUNTED",
    "EAGER",
    "AsymTrack",
    "GraphForm",
    "CheckpointError",
    "TemplateState",
    "VARIANTS",
    "VariantConfig",
    "build_model",
    "checkpoint_filter_fn",
    "count_flops",
    "is_deploy_form",
    "load_checkpoint",
    "load_model",
    "parameter_count",
    "read_state_dict",
    "save_checkpoint",
]
