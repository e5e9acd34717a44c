"""Inference backends: onnxruntime and native PyTorch (reference §5).

Each backend has ``name()``, ``version()``, ``image_format()``, ``load(path, inputs, outputs)``,
``predict(feed) -> list of numpy arrays`` in the order of ``outputs``, ``inputs``/``outputs``
lists and ``fixed_batch`` (the batch size the model accepts when its batch dimension is fixed,
else ``None``).
"""

from __future__ import annotations

import os
from typing import Any

from .errors import NotFoundError, OdBenchError, RunError, UsageError, missing_module

_FALSY = {"0", "false", "off", "no"}


def _use_gpu() -> bool:
    # the reference's switch: USE_GPU (default yes) unless it is one of 0/false/off/no
    return os.environ.get("USE_GPU", "yes").strip().lower() not in _FALSY


class OnnxRuntimeBackend:
    """onnxruntime ``InferenceSession``; CUDA only when this onnxruntime build has it."""

    def __init__(self) -> None:
        try:
            import onnxruntime as rt
        except ImportError as exc:  # pragma: no cover
            raise missing_module("onnxruntime", exc) from exc
        self.rt = rt
        self.sess: Any = None
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.fixed_batch: int | None = None
        self.providers: list[str] = []

    def name(self) -> str:
        """Backend name as in results.json ``runtime``."""
        return "onnxruntime"

    def version(self) -> str:
        """onnxruntime version."""
        return self.rt.__version__

    def image_format(self) -> str:
        """Default data layout when neither --data-format nor the profile says."""
        return "NCHW"

    def select_providers(self) -> list[str]:
        """CUDA then CPU when CUDA is available (and USE_GPU allows it), else CPU only.

        The reference asks ``get_all_providers()``, which lists CUDA even in CPU wheels and
        makes onnxruntime warn on every run; ``get_available_providers()`` is the real list.
        """
        available = self.rt.get_available_providers()
        if "CUDAExecutionProvider" in available and _use_gpu():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def load(
        self, model_path: str, inputs: list[str] | None = None, outputs: list[str] | None = None
    ) -> OnnxRuntimeBackend:
        """Open the session and read input/output names and a fixed batch size."""
        if not os.path.isfile(model_path):
            raise NotFoundError(f"model file '{model_path}' not found", hint="check --model")
        opt = self.rt.SessionOptions()
        if os.environ.get("HOST_PLATFORM_FLAVOR", "") == "aarch64":
            # reference: accuracy issue with the default level on aarch64
            opt.graph_optimization_level = self.rt.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        self.providers = self.select_providers()
        try:
            self.sess = self.rt.InferenceSession(model_path, opt, providers=self.providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise RunError(f"onnxruntime cannot load '{model_path}': {exc}") from exc
        model_inputs = self.sess.get_inputs()
        self.inputs = list(inputs) if inputs else [m.name for m in model_inputs]
        self.outputs = list(outputs) if outputs else [m.name for m in self.sess.get_outputs()]
        known_out = {m.name for m in self.sess.get_outputs()}
        unknown = [o for o in self.outputs if o not in known_out]
        if unknown:
            raise UsageError(
                f"model '{model_path}' has no output(s) {unknown}",
                hint=f"its outputs are {sorted(known_out)}; fix --outputs or the --profile",
            )
        by_name = {m.name: m for m in model_inputs}
        if self.inputs[0] not in by_name:
            raise UsageError(
                f"model '{model_path}' has no input '{self.inputs[0]}'",
                hint=f"its inputs are {sorted(by_name)}; fix --inputs or the --profile",
            )
        dim0 = by_name[self.inputs[0]].shape[0] if by_name[self.inputs[0]].shape else None
        self.fixed_batch = dim0 if isinstance(dim0, int) and dim0 > 0 else None
        return self

    def predict(self, feed: dict[str, Any]) -> list[Any]:
        """Run the session; outputs in the order of ``self.outputs``."""
        return self.sess.run(self.outputs, feed)


class PyTorchNativeBackend:
    """A whole pickled ``nn.Module`` (``torch.load``), a TorchScript file, or an SSD-ResNet50
    state dict (the automotive ``.pth``, see ``ssd_resnet50``); CUDA if available."""

    def __init__(self) -> None:
        try:
            import torch
        except ImportError as exc:  # pragma: no cover
            raise missing_module("torch", exc) from exc
        self.torch = torch
        self.device = "cuda:0" if torch.cuda.is_available() and _use_gpu() else "cpu"
        self.model: Any = None
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.fixed_batch: int | None = None
        # SSD-ResNet50 model config for state-dict checkpoints (None: the 8 MP baseline)
        self.model_config: str | None = None

    def name(self) -> str:
        """Backend name as in results.json ``runtime``."""
        return "pytorch-native"

    def version(self) -> str:
        """torch version."""
        return self.torch.__version__

    def image_format(self) -> str:
        """PyTorch models take NCHW."""
        return "NCHW"

    def load(
        self, model_path: str, inputs: list[str] | None = None, outputs: list[str] | None = None
    ) -> PyTorchNativeBackend:
        """Load TorchScript if the file is one, else ``torch.load(weights_only=False)``; a state
        dict is loaded strictly into ``ssd_resnet50`` built from ``self.model_config``."""
        torch = self.torch
        if not os.path.isfile(model_path):
            raise NotFoundError(f"model file '{model_path}' not found", hint="check --model")
        try:
            model = torch.jit.load(model_path, map_location=self.device)
        except (RuntimeError, ValueError):
            # a whole pickled module; the reference's need its python/models package,
            # which refmodels re-implements and registers as `models` during the load
            from .refmodels import load_pickled

            try:
                model = load_pickled(model_path, map_location=self.device)
            except OdBenchError:
                raise
            except Exception as exc:
                raise RunError(f"torch cannot load '{model_path}': {exc}") from exc
        if isinstance(model, dict):
            # a state dict: the only one od-bench knows is the automotive SSD-ResNet50 .pth
            from .ssd_resnet50 import model_from_state_dict

            model = model_from_state_dict(model, model_path, self.device, self.model_config)
        model.eval()
        self.model = model.to(self.device)
        self.inputs = list(inputs) if inputs else ["image"]
        self.outputs = list(outputs) if outputs else []
        return self

    def predict(self, feed: dict[str, Any]) -> list[Any]:
        """Run the model on the first feed entry; returns numpy arrays."""
        torch = self.torch
        key = next(iter(feed))
        x = torch.as_tensor(feed[key]).float().to(self.device)
        with torch.no_grad():
            out = self.model(x)
        if isinstance(out, torch.Tensor):
            out = [out]
        elif isinstance(out, dict):
            out = [out[k] for k in (self.outputs or list(out))]
        return [self._to_numpy(o) for o in out]

    def _to_numpy(self, value: Any) -> Any:
        # the reference SSDs return lists with one tensor per image (ragged)
        if isinstance(value, self.torch.Tensor):
            return value.detach().cpu().numpy()
        if isinstance(value, (list, tuple)):
            return [self._to_numpy(v) for v in value]
        return value


BACKENDS = {"onnxruntime": OnnxRuntimeBackend, "pytorch-native": PyTorchNativeBackend}


def get_backend(name: str) -> Any:
    """A new backend object for ``name`` (see ``profiles.BACKEND_ALIASES``)."""
    from .profiles import BACKEND_ALIASES

    key = BACKEND_ALIASES.get(name)
    if key is None:
        raise UsageError(
            f"unknown backend '{name}'", hint="choose one of: " + ", ".join(BACKEND_ALIASES)
        )
    return BACKENDS[key]()
