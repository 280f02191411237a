"""The ``echo`` backend: ONNX Runtime's backend under another name (a stand-in for a runtime
written outside asymtrack-deploy); it runs the ``onnx`` files of ``echo`` bundles."""
from asymtrack_deploy.runtimes.onnxruntime_backend import OnnxRuntimeBackend


class EchoBackend(OnnxRuntimeBackend):
    name = "echo"
    export_target = "echo"

    def describe(self) -> str:
        return "echo over " + super().describe()
