"""The ``echo`` export target: the ``onnxruntime`` target's conversion, written as an ``echo``
bundle (its manifest's target is ``echo``, so the echo backend runs it)."""
from asymtrack_deploy.export.onnxruntime_target import OnnxRuntimeConverter


class EchoConverter(OnnxRuntimeConverter):
    target = "echo"
