"""Rewrites of the staged ONNX graphs for ONNX Runtime's CPU kernels (the ``onnxruntime`` target).

ONNX Runtime's own optimisations (``onnxruntime_target``) fuse LayerNormalization, GELU,
MatMul + Add and the QDQ pairs, and at load, on the CPU it runs on, block the convolutions into
NCHWc. What they leave is measured with its profiler (``benchmarks/profile_cpu.py``, RESULTS.md):
on the channels-last search graph, ``Tile`` nodes that only feed a product. EfficientMod's
modulation repeats its context ``ratio`` times along the channels (``ctx.repeat``) and multiplies
the MLP's hidden tensor by it; traced, that is a ``Tile`` writing the whole hidden tensor
(64 x 64 x 192 floats at stage 1, 3 MB, more than a core's L2) only for the ``Mul`` to read it
again. ``broadcast_tiled_products`` views the hidden tensor as (..., ratio, C) and multiplies it
by the context viewed as (..., 1, C): the same products, element for element (exact), without
the repeated copy. Measured (search graph, fp32, ONNX Runtime 1.32 at ORT_ENABLE_ALL, one thread,
CPU time per step, interleaved rounds in one process, shared 2-core Intel Xeon at load average
20-27): 1.04x (8 rounds, 0.94-1.13) and 1.07x (10 rounds, 0.85-1.19) as fast as the graph with
the Tiles; its int8 graph 1.07x. The outputs are bit-identical.

Each rewrite works on static shapes (the staged graphs have them: ``graph_checks``), returns a
rewritten copy and the number of places it changed, and leaves a graph it does not recognise
unchanged.
"""
from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

__all__ = ["broadcast_tiled_products", "rewrite_for_onnxruntime"]


def rewrite_for_onnxruntime(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, int]]:
    """Every rewrite of this module, in order; the rewritten copy and what each changed."""
    model, tiles = broadcast_tiled_products(model)
    return model, {"tiled_products_broadcast": tiles}


def _shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = [d.dim_value for d in dims]
    return shapes


def _last_axis_repeat(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> int | None:
    """r when ``node`` is Tile(x, [1, ..., 1, r]) with a constant repeats input, else None."""
    repeats = constants.get(node.input[1]) if node.op_type == "Tile" else None
    if repeats is None or repeats.ndim != 1 or repeats.size < 1:
        return None
    if any(int(r) != 1 for r in repeats[:-1]) or int(repeats[-1]) < 2:
        return None
    return int(repeats[-1])


def broadcast_tiled_products(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Mul(h, Tile(c, [1, .., 1, r])) -> Reshape(Mul(Reshape(h, (.., r, C)), Reshape(c, (.., 1, C))),
    h's shape), where the Tile's output is read by that Mul alone and h has the tiled shape."""
    model = copy.deepcopy(model)
    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    shapes = _shapes(model)
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for tile in graph.node:
        ratio = _last_axis_repeat(tile, constants)
        users = readers.get(tile.output[0], [])
        if ratio is None or len(users) != 1 or users[0].op_type != "Mul" or tile.output[0] in outputs:
            continue
        mul = users[0]
        other = mul.input[1] if mul.input[0] == tile.output[0] else mul.input[0]
        tiled, source = shapes.get(tile.output[0]), shapes.get(tile.input[0])
        if other == tile.output[0] or shapes.get(other) != tiled or source is None or tiled is None:
            continue
        replaced[id(mul)] = _broadcast_product(graph, mul, other, tile.input[0], tiled, source[-1], ratio)
        dropped.add(id(tile))
    nodes = []
    for node in graph.node:
        if id(node) in dropped:
            continue
        nodes.extend(replaced.get(id(node), [node]))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    unused = [t for t in graph.initializer if t.name not in used]
    for tensor in unused:
        graph.initializer.remove(tensor)
    return model, len(dropped)


def _broadcast_product(graph, mul: onnx.NodeProto, hidden: str, context: str, shape: list[int], channels: int,
                       ratio: int) -> list[onnx.NodeProto]:
    prefix = mul.name or mul.output[0]
    split = numpy_helper.from_array(np.array(shape[:-1] + [ratio, channels], np.int64), f"{prefix}/ratio_shape")
    single = numpy_helper.from_array(np.array(shape[:-1] + [1, channels], np.int64), f"{prefix}/context_shape")
    merged = numpy_helper.from_array(np.array(shape, np.int64), f"{prefix}/merged_shape")
    graph.initializer.extend([split, single, merged])
    names = [f"{prefix}/hidden_split", f"{prefix}/context_single", f"{prefix}/product_split"]
    return [
        helper.make_node("Reshape", [hidden, split.name], [names[0]], name=f"{prefix}/split_hidden"),
        helper.make_node("Reshape", [context, single.name], [names[1]], name=f"{prefix}/split_context"),
        helper.make_node("Mul", names[:2], [names[2]], name=prefix),
        helper.make_node("Reshape", [names[2], merged.name], list(mul.output), name=f"{prefix}/merge"),
    ]
