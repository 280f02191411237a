"""The registry entries of the ``echo`` runtime: what asymtrack-deploy reads through the
``asymtrack_deploy.backends`` entry point (the classes load only when the backend is used)."""
from asymtrack_deploy.catalogue import BackendEntry, TargetEntry

ENTRIES = (
    BackendEntry("echo", "asymtrack_echo.echo_backend:EchoBackend", "onnxruntime", "onnxruntime", ("onnxruntime",),
                 device_option="providers"),
    TargetEntry("echo", "echo", ("fp32", "int8"), ("source_onnx", "onnx"), "onnxruntime",
                "asymtrack_echo.echo_target:EchoConverter", bench_precisions=("fp32", "int8")),
)
