"""ctypes binding of the asymtrack C library (``runtime-c/``): the C tracker from Python.

``CTracker(bundle, library=PATH)`` opens a bundle with the C library built by CMake
(``libasymtrack.so``; nothing is compiled at import) and offers the C API under the same names:
``init``, ``update``, ``set_state``/``get_state``, ``get_timing``, ``last_error``. A failed C call
raises ``CTrackerError`` carrying the status name and the library's message. Frames are numpy
uint8 arrays (H, W, 3) in ``color_order`` ("bgr" or "rgb"), (H, W) grayscale or (H, W, 4); rows
may be strided. Used by the tests (C against Python on the same bundle) and the benchmark row.

numpy only.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CTracker", "CTrackerError", "CTiming", "load_library", "PIXEL_FORMATS", "STATUS_NAMES"]

# asymtrack.h: asymtrack_pixel_format and asymtrack_status
PIXEL_FORMATS = {"bgr": 1, "rgb": 2, "bgra": 3, "rgba": 4, "gray": 5}
STATUS_NAMES = {
    0: "ASYMTRACK_OK", 1: "ASYMTRACK_ERROR_INVALID_ARGUMENT", 2: "ASYMTRACK_ERROR_BAD_BUNDLE",
    3: "ASYMTRACK_ERROR_UNSUPPORTED", 4: "ASYMTRACK_ERROR_NOT_INITIALIZED", 5: "ASYMTRACK_ERROR_RUNTIME",
    6: "ASYMTRACK_ERROR_OUT_OF_MEMORY",
}


class CTrackerError(RuntimeError):
    """A C call that returned an error status; ``status`` is its name."""

    def __init__(self, status: int, message: str):
        self.status = STATUS_NAMES.get(status, f"status {status}")
        super().__init__(f"{self.status}: {message}")


class Box(ctypes.Structure):
    _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_double), ("width", ctypes.c_double), ("height", ctypes.c_double)]


class BundleInfo(ctypes.Structure):
    _fields_ = [
        ("variant", ctypes.c_char * 32), ("target", ctypes.c_char * 32), ("precision", ctypes.c_char * 16),
        ("inference_precision", ctypes.c_char * 16), ("device", ctypes.c_char * 64),
        ("openvino_version", ctypes.c_char * 128), ("template_size", ctypes.c_int32), ("search_size", ctypes.c_int32),
        ("template_factor", ctypes.c_double), ("search_factor", ctypes.c_double), ("clip_margin", ctypes.c_double),
        ("score_threshold", ctypes.c_double),
    ]


class Timing(ctypes.Structure):
    _fields_ = [
        ("updates", ctypes.c_uint64), ("last_update_ms", ctypes.c_double), ("last_inference_ms", ctypes.c_double),
        ("total_update_ms", ctypes.c_double), ("total_inference_ms", ctypes.c_double),
    ]


@dataclass(frozen=True)
class CTiming:
    """Update times measured inside C with a monotonic clock."""

    updates: int
    last_update_ms: float
    last_inference_ms: float
    total_update_ms: float
    total_inference_ms: float


_P = ctypes.c_void_p
_SIGNATURES = {
    "asymtrack_version": (ctypes.c_char_p, []),
    "asymtrack_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "asymtrack_bundle_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(_P)]),
    "asymtrack_bundle_close": (None, [_P]),
    "asymtrack_bundle_last_error": (ctypes.c_char_p, [_P]),
    "asymtrack_bundle_get_info": (ctypes.c_int, [_P, ctypes.POINTER(BundleInfo)]),
    "asymtrack_tracker_create": (ctypes.c_int, [_P, ctypes.POINTER(_P)]),
    "asymtrack_tracker_destroy": (None, [_P]),
    "asymtrack_tracker_last_error": (ctypes.c_char_p, [_P]),
    "asymtrack_tracker_init": (ctypes.c_int, [_P, _P, ctypes.c_int32, ctypes.c_int32, ctypes.c_int64, ctypes.c_int32,
                                              ctypes.POINTER(Box)]),
    "asymtrack_tracker_update": (ctypes.c_int, [_P, _P, ctypes.c_int32, ctypes.c_int32, ctypes.c_int64,
                                                ctypes.c_int32, ctypes.POINTER(Box), ctypes.POINTER(ctypes.c_float)]),
    "asymtrack_tracker_set_state": (ctypes.c_int, [_P, ctypes.POINTER(Box)]),
    "asymtrack_tracker_get_state": (ctypes.c_int, [_P, ctypes.POINTER(Box)]),
    "asymtrack_tracker_get_timing": (ctypes.c_int, [_P, ctypes.POINTER(Timing)]),
}


def load_library(path: str | os.PathLike) -> ctypes.CDLL:
    """The C library at ``path`` (``libasymtrack.so`` from the CMake build) with typed functions."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file; build the C library first (see runtime-c/README.md)")
    lib = ctypes.CDLL(str(path))
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


def _frame_args(frame, color_order: str) -> tuple:
    """(pointer, width, height, stride, format) of a numpy frame, without copying it."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise ValueError("frame must be a numpy uint8 array (H, W, 3), (H, W) or (H, W, 4)")
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    layouts = {1: "gray", 3: color_order, 4: color_order + "a"}
    if channels not in layouts:
        raise ValueError(f"frame must be H x W x 3 (or H x W, or H x W x 4), got shape {frame.shape}")
    if frame.strides[1] != channels or frame.strides[-1] != 1 or frame.strides[0] < 1:
        raise ValueError(f"frame pixels must be contiguous within each row (strides {frame.strides})")
    height, width = frame.shape[:2]
    return frame.ctypes.data, width, height, frame.strides[0], PIXEL_FORMATS[layouts[channels]]


class CTracker:
    """The C tracker over ``bundle`` (a folder), through the C library at ``library``.

    ``device``: OpenVINO device ("CPU"...); ``threads``: CPU inference threads (0: OpenVINO's
    choice); ``color_order``: of the 3- and 4-channel frames given to init/update.
    """

    def __init__(self, bundle: str | os.PathLike, library: str | os.PathLike, device: str = "CPU",
                 threads: int = 0, color_order: str = "bgr"):
        if color_order not in ("bgr", "rgb"):
            raise ValueError(f"color_order must be 'bgr' or 'rgb', got {color_order!r}")
        self.color_order = color_order
        self._lib = load_library(library)
        self._tracker = None
        self._owns_bundle = True
        handle = _P()
        status = self._lib.asymtrack_bundle_open(os.fsencode(bundle), device.encode(), int(threads), ctypes.byref(handle))
        self._bundle = handle
        if status != 0:
            message = self._lib.asymtrack_bundle_last_error(handle).decode(errors="replace")
            self.close()
            raise CTrackerError(status, message)
        self._tracker = self._create_tracker()

    def new_tracker(self) -> "CTracker":
        """Another tracker on this one's bundle: the graphs are compiled once, each tracker owns
        its template state (one target each)."""
        self._live(self._tracker)
        other = object.__new__(CTracker)
        other.color_order, other._lib, other._bundle, other._owns_bundle = self.color_order, self._lib, self._bundle, False
        other._tracker = None
        other._tracker = other._create_tracker()
        return other

    def _create_tracker(self) -> ctypes.c_void_p:
        tracker = _P()
        status = self._lib.asymtrack_tracker_create(self._bundle, ctypes.byref(tracker))
        if status != 0:
            message = self._lib.asymtrack_bundle_last_error(self._bundle).decode(errors="replace")
            self.close()
            raise CTrackerError(status, message)
        return tracker

    # -- the C API under its own names -----------------------------------------------------------
    def init(self, frame: np.ndarray, box) -> None:
        pointer, width, height, stride, fmt = _frame_args(frame, self.color_order)
        self._call(self._lib.asymtrack_tracker_init, pointer, width, height, stride, fmt, ctypes.byref(_box(box)))

    def update(self, frame: np.ndarray) -> tuple[tuple[float, float, float, float], float]:
        """The new box (x, y, w, h) and its score."""
        pointer, width, height, stride, fmt = _frame_args(frame, self.color_order)
        out, score = Box(), ctypes.c_float()
        self._call(self._lib.asymtrack_tracker_update, pointer, width, height, stride, fmt, ctypes.byref(out),
                   ctypes.byref(score))
        return (out.x, out.y, out.width, out.height), float(score.value)

    def set_state(self, box) -> None:
        self._call(self._lib.asymtrack_tracker_set_state, ctypes.byref(_box(box)))

    def get_state(self) -> tuple[float, float, float, float]:
        out = Box()
        self._call(self._lib.asymtrack_tracker_get_state, ctypes.byref(out))
        return out.x, out.y, out.width, out.height

    def get_timing(self) -> CTiming:
        out = Timing()
        self._call(self._lib.asymtrack_tracker_get_timing, ctypes.byref(out))
        return CTiming(int(out.updates), out.last_update_ms, out.last_inference_ms, out.total_update_ms,
                       out.total_inference_ms)

    def get_info(self) -> dict:
        info = BundleInfo()
        status = self._lib.asymtrack_bundle_get_info(self._live(self._bundle), ctypes.byref(info))
        if status != 0:
            raise CTrackerError(status, self._lib.asymtrack_bundle_last_error(self._bundle).decode())
        return {name: (value.decode() if isinstance(value, bytes) else value)
                for name, value in ((f, getattr(info, f)) for f, _ in BundleInfo._fields_)}

    def last_error(self) -> str:
        return self._lib.asymtrack_tracker_last_error(self._tracker).decode(errors="replace")

    @property
    def library_version(self) -> str:
        return self._lib.asymtrack_version().decode()

    def close(self) -> None:
        """Destroy the tracker and close the bundle (the C side frees the bundle when its last
        tracker is gone)."""
        if self._tracker:
            self._lib.asymtrack_tracker_destroy(self._tracker)
        if self._bundle and self._owns_bundle:
            self._lib.asymtrack_bundle_close(self._bundle)
        self._tracker = self._bundle = None

    def __enter__(self) -> "CTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_lib", None) is not None:
            self.close()

    @property
    def lib(self) -> ctypes.CDLL:
        """The loaded C library, typed: the raw C API (tests call it with deliberately bad arguments)."""
        return self._lib

    @property
    def handle(self) -> ctypes.c_void_p:
        """The ``asymtrack_tracker*`` of this tracker, for raw C calls."""
        return self._live(self._tracker)

    # -- helpers -----------------------------------------------------------------------------
    def _live(self, handle):
        if not handle:
            raise RuntimeError("this CTracker is closed; create a new one")
        return handle

    def _call(self, function, *args) -> None:
        status = function(self._live(self._tracker), *args)
        if status != 0:
            raise CTrackerError(status, self.last_error())


def _box(box) -> Box:
    """Four numbers (x, y, w, h); the C library checks finiteness and sizes itself."""
    values = [float(v) for v in box]
    if len(values) != 4:
        raise ValueError(f"box must be four numbers (x, y, w, h), got {box!r}")
    return Box(*values)

