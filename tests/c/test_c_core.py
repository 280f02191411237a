"""The C core against its Python/OpenCV counterparts, bit for bit: OpenCV's uint8 INTER_LINEAR
resize over many sizes, the whole crop (window, padding, edge quirk, colour) against crop.py,
SHA-256 against hashlib, the JSON and manifest readers against Python's."""
from __future__ import annotations

import ctypes
import hashlib
import json

import cv2
import numpy as np
import pytest

from asymtrack_deploy.c_tracker import PIXEL_FORMATS, Box
from asymtrack_deploy.crop import crop_square, to_rgb

_BUF = 512


@pytest.fixture(scope="module")
def kit(c_build):
    lib = ctypes.CDLL(str(c_build.testkit))
    p, i32, i64, sz = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64, ctypes.c_size_t
    lib.atk_resize.argtypes = [p, ctypes.c_int, ctypes.c_int, i64, ctypes.c_int, p, ctypes.c_int, ctypes.c_int, p, sz]
    lib.atk_crop.argtypes = [p, i32, i32, i64, i32, ctypes.POINTER(Box), ctypes.c_double, ctypes.c_int, p,
                             ctypes.POINTER(ctypes.c_double), p, sz]
    lib.atk_sha256.argtypes = [p, sz, ctypes.c_char_p]
    lib.atk_sha256.restype = None
    lib.atk_sha256_file.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64), p, sz]
    lib.atk_manifest.argtypes = [ctypes.c_char_p, sz, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double), p, sz]
    lib.atk_json_number.argtypes = [ctypes.c_char_p, sz, ctypes.POINTER(ctypes.c_double), p, sz]
    return lib


def c_resize(kit, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    channels = 1 if image.ndim == 2 else image.shape[2]
    out = np.zeros((size[1], size[0]) + image.shape[2:], np.uint8)
    message = ctypes.create_string_buffer(_BUF)
    h, w = image.shape[:2]
    status = kit.atk_resize(image.ctypes.data, w, h, image.strides[0], channels, out.ctypes.data, size[0], size[1],
                            message, _BUF)
    assert status == 0, message.value
    return out


def c_crop(kit, frame: np.ndarray, box, factor: float, size: int, fmt: str) -> tuple[np.ndarray, float]:
    out = np.zeros((size, size, 3), np.uint8)
    message, factor_out = ctypes.create_string_buffer(_BUF), ctypes.c_double()
    h, w = frame.shape[:2]
    status = kit.atk_crop(frame.ctypes.data, w, h, frame.strides[0], PIXEL_FORMATS[fmt], ctypes.byref(Box(*box)),
                          factor, size, out.ctypes.data, ctypes.byref(factor_out), message, _BUF)
    assert status == 0, message.value
    return out, factor_out.value


SQUARE_SIDES = sorted(set(range(1, 300)) | set(range(500, 530)) | set(range(300, 3001, 37)) | {1023, 1024, 1025, 2048})


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("out_size", [256, 128])
def test_resize_matches_opencv_on_every_square_side(kit, channels, out_size):
    """Down- and up-scaling, the exact 2x downscale (OpenCV's area path: 256 -> 128, 512 -> 256),
    the same size (a copy), around 256 and 512 and up to 3000."""
    rng = np.random.default_rng(out_size + channels)
    for side in SQUARE_SIDES:
        shape = (side, side) if channels == 1 else (side, side, 3)
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = cv2.resize(image, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
        got = c_resize(kit, image, (out_size, out_size))
        assert np.array_equal(got, expected), f"side {side}: {np.count_nonzero(got != expected)} values differ"


def test_resize_matches_opencv_on_other_shapes(kit):
    rng = np.random.default_rng(7)
    for _ in range(300):
        w, h, dw, dh = (int(v) for v in rng.integers(1, 90, 4))
        channels = int(rng.integers(1, 5))
        image = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        expected = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_LINEAR).reshape(dh, dw, channels)
        assert np.array_equal(c_resize(kit, image, (dw, dh)), expected), (w, h, dw, dh, channels)


FORMATS = {
    "bgr": (lambda f: f, "bgr"),
    "rgb": (lambda f: np.ascontiguousarray(f[:, :, ::-1]), "rgb"),
    "bgra": (lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2BGRA), "bgr"),
    "rgba": (lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGBA), "rgb"),
    "gray": (lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), "bgr"),
}


def _boxes(rng, width: int, height: int, count: int):
    """Ordinary boxes, boxes over each border and far outside, tiny and huge ones, and boxes
    whose window ends exactly on the right/bottom edge (the one-pixel-short quirk)."""
    for _ in range(count):
        w, h = rng.uniform(0.5, 1.2 * width), rng.uniform(0.5, 1.2 * height)
        yield (rng.uniform(-w - 50, width + 50), rng.uniform(-h - 50, height + 50), w, h)
    yield (width - 30.0, height - 30.0, 15.0, 15.0)
    yield (-1e4, -1e4, 5.0, 5.0)
    yield (0.0, 0.0, 0.3, 0.2)
    yield (0.0, 0.0, 5 * width, 5 * height)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_crop_matches_crop_py(kit, fmt):
    rng = np.random.default_rng(len(fmt))
    for height, width in ((97, 131), (480, 640), (1, 1), (3, 200)):
        make, order = FORMATS[fmt]
        frame = make(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        strided = np.zeros((height, width + 7) + frame.shape[2:], np.uint8)[:, 3 : 3 + width]  # rows with a gap
        strided[...] = frame
        for box in _boxes(rng, width, height, 40):
            for factor, size in ((2.0, 128), (4.0, 256), (3.0, 127)):  # 127: an odd last column
                expected, expected_factor = crop_square(frame, box, factor, size)
                got, got_factor = c_crop(kit, strided, box, factor, size, fmt)
                assert got_factor == expected_factor
                assert np.array_equal(got, to_rgb(expected, order)), (fmt, frame.shape, box, factor)


def test_sha256_matches_hashlib(kit, tmp_path):
    rng = np.random.default_rng(0)
    hex_out = ctypes.create_string_buffer(65)
    for length in list(range(0, 200)) + [1000, 65535, 65536, 65537, 300000]:
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        kit.atk_sha256(data, length, hex_out)
        assert hex_out.value.decode() == hashlib.sha256(data).hexdigest(), length
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    size, message = ctypes.c_uint64(), ctypes.create_string_buffer(_BUF)
    assert kit.atk_sha256_file(str(path).encode(), hex_out, ctypes.byref(size), message, _BUF) == 0
    assert hex_out.value.decode() == hashlib.sha256(data).hexdigest() and size.value == len(data)


@pytest.mark.parametrize("text", ["0.485", "0.229", "1e-7", "-2.5E+3", "123456789012345678901234567890", "0.1",
                                  "2.2250738585072014e-308", "1.7976931348623157e308", "5e-324", "0.30000000000000004",
                                  "9007199254740993", "3.141592653589793238462643383279"])
def test_json_numbers_convert_like_python(kit, text):
    value, message = ctypes.c_double(), ctypes.create_string_buffer(_BUF)
    assert kit.atk_json_number(text.encode(), len(text), ctypes.byref(value), message, _BUF) == 0, message.value
    assert value.value == float(json.loads(text))


def test_manifest_reader_reads_an_exported_manifest(kit, demo_bundle):
    text = (demo_bundle / "manifest.json").read_bytes()
    margin, threshold, message = ctypes.c_double(), ctypes.c_double(), ctypes.create_string_buffer(_BUF)
    assert kit.atk_manifest(text, len(text), ctypes.byref(margin), ctypes.byref(threshold), message, _BUF) == 0, message.value
    assert (margin.value, threshold.value) == (10.0, 0.25)
