"""One export pipeline for every target; each target is a small converter.

``export_bundle(target, ...)`` does, for any target, in a staging folder that becomes the
bundle only if every step passes (``staged_folder``):

1. check the options against the target's catalogue entry, make the int8 calibration crops
   (a bad source fails here, before anything is written) and let the converter check that its
   libraries are installed;
2. load the model once (``model_source.prepare_model``);
3. write the fp32 ONNX graphs and their manifest (``onnx_graphs``), and check them in ONNX
   Runtime against the PyTorch model on real crops (``parity.crops``, fp32 tolerance);
4. for a converting target: calibration feeds from the crops (int8), the converter's files, the
   derived manifest (the fp32 ONNX graphs stay in the bundle as ``source_onnx``);
5. the export-time parity of what the target's backend runs (loaded through the runtime
   registry; or, for a runtime that cannot run here, what the converter's stand-in gives: the
   outputs of a vendor's simulator), recorded in the manifest with the time the export took.

A converter (``Converter``) only turns the staged ONNX graphs into its files and says what the
manifest records; adding a target is one converter module and one registry entry (``catalogue``).
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .. import catalogue
from ..bundle import MANIFEST_NAME, Bundle, GraphSpec, Manifest, SourceSpec, load_bundle, write_manifest
from ..limits import check_batch
from ..outputs import check_writable
from ..parity import ParityCrops, compare_on_crops, parity_crops, tolerance_for
from ..runtimes import Backend, load_backend
from .calibration import DEFAULT_COUNT, CalibrationSet, calibration_set
from .calibration_feeds import CalibrationFeeds, calibration_feeds
from .onnx_graphs import DEFAULT_OPSET, check_opset, onnx_manifest, write_graphs
from .simplify import DEFAULT_SIMPLIFIER
from ..staged_folder import staged_bundle
from .model_source import prepare_model

__all__ = [
    "SOURCE_ROLE",
    "Conversion",
    "ConversionJob",
    "Converter",
    "ExportOptions",
    "export_bundle",
    "export_onnx",
    "parity_pairs",
]

SOURCE_ROLE = "source_onnx"  # the fp32 ONNX graphs a converted bundle was made from
SOURCE_PARITY_PAIRS = 4  # the fp32 check of the ONNX graphs
CONVERTED_PARITY_PAIRS = 8  # reduced precisions: errors vary per crop, so a few more pairs


# -- what a converter sees and returns ------------------------------------------------------------


@dataclass(frozen=True)
class ConversionJob:
    """The staged fp32 ONNX graphs (``source``: their manifest) to convert at ``precision``;
    ``feeds`` are the calibration inputs of an int8 export (None otherwise)."""

    stage: Path
    source: Manifest
    precision: str
    feeds: CalibrationFeeds | None = None
    model: object = None  # the AsymTrack being exported (fp32, eval mode), for converters that trace again
    simplifier: str = DEFAULT_SIMPLIFIER  # the source graphs' simplifier, for graphs traced again
    parity_crops: ParityCrops | None = None  # the crops of the export-time parity that follows the conversion

    def onnx_path(self, graph: str) -> Path:
        return self.stage / self.source.graph(graph).files["onnx"]


@dataclass(frozen=True)
class Conversion:
    """A converter's result: graph -> role -> file name (written into the stage), and the
    manifest's ``export`` and ``runtime`` records; ``extra_files`` are hashed too."""

    files: dict[str, dict[str, str]]
    export: dict
    runtime: dict
    extra_files: tuple[str, ...] = ()


class Converter(ABC):
    """One export target's conversion. Target-specific keyword options (``device``,
    ``workspace``...) are the subclass's constructor arguments.

    A target that delivers something around a bundle (a Triton repository) sets
    ``bundle_target`` / ``parity_backend`` to the bundle's own, and rearranges the verified
    bundle in ``finish``; ``bundle_path`` then says where the bundle lies in the delivery.
    """

    target: str = ""
    bundle_target: str | None = None  # the manifest's target (None: this target)
    parity_backend: str | None = None  # the backend of the parity check (None: the catalogue's)
    marker: str = MANIFEST_NAME  # the file that marks an earlier delivery that --force may replace
    delivery: str = "a bundle"  # what the export writes, as error messages name it

    def prepare(self, precision: str) -> None:
        """Check that the libraries this conversion needs are installed (before any work)."""

    @abstractmethod
    def convert(self, job: ConversionJob) -> Conversion: ...

    def backend_options(self) -> dict:
        """Options of the target's backend for the export-time parity check."""
        return {}

    def parity_stand_in(self, job: ConversionJob, manifest: Manifest) -> Backend | None:
        """A backend standing for the target's runtime in the export-time parity where that
        runtime cannot run on this machine (an NPU that its vendor's toolkit only simulates here:
        the outputs the simulator gave on ``job.parity_crops``); None: the target's backend,
        loaded over the stage."""
        return None

    def finish(self, stage: Path, job: ConversionJob) -> None:
        """Turn the verified bundle in ``stage`` into the delivery (default: it is the bundle)."""

    def bundle_path(self, out_dir: Path) -> Path:
        return out_dir

    def stock_server_graph(self, proto):
        """The ONNX graph (a proto) as the stock Triton backend of this target's runtime must
        read it (the ``triton`` target's dynamic-batch search model); default: unchanged."""
        return proto


# -- options --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportOptions:
    """What every target takes. ``precision`` None: the target's first (fp32 where it has it);
    ``box_tolerance`` None: the precision's (``parity.tolerances``)."""

    checkpoint: str | os.PathLike | None
    variant: str
    out_dir: str | os.PathLike
    batch: int = 1
    force: bool = False
    precision: str | None = None
    opset: int = DEFAULT_OPSET
    simplifier: str = DEFAULT_SIMPLIFIER
    random_weights: bool = False
    seed: int = 0
    parity_pairs: int | None = None
    box_tolerance: float | None = None
    calib: str | os.PathLike | None = None
    calib_count: int = DEFAULT_COUNT
    calib_seed: int = 0
    calib_box: tuple | list | None = None

    def check(self, entry: catalogue.TargetEntry) -> None:
        """Usage errors, as ValueErrors that name the option and what it accepts."""
        check_batch(self.batch)
        check_opset(self.opset)
        if self.precision not in entry.precisions:
            raise ValueError(_precision_message(entry, self.precision))
        if self.precision != "int8" and (self.calib is not None or self.calib_box is not None):
            raise ValueError(f"--calib is for int8 exports (--precision int8), not {self.precision}")
        parity_pairs(self.batch, self.parity_pairs, SOURCE_PARITY_PAIRS)


def _precision_message(entry: catalogue.TargetEntry, precision: str) -> str:
    if precision not in catalogue.PRECISIONS:
        return f"precision {precision!r} is not one of {', '.join(catalogue.PRECISIONS)} (target {entry.name})"
    others = [t.name for t in catalogue.targets().values() if precision in t.precisions]
    return f"--target {entry.name} is {', '.join(entry.precisions)} only; for {precision} use --target {' or '.join(others)}"


def parity_pairs(batch: int, pairs: int | None, minimum: int = CONVERTED_PARITY_PAIRS) -> int:
    """The export-time parity pairs: ``pairs``, or at least ``minimum``, a multiple of ``batch``."""
    if pairs is not None:
        if pairs < batch or pairs % batch:
            raise ValueError(f"parity_pairs must be a positive multiple of batch ({batch}), got {pairs}")
        return pairs
    return batch * math.ceil(minimum / batch)


def _split_options(target: str, options: dict) -> tuple[ExportOptions, dict]:
    names = {f.name for f in dataclasses.fields(ExportOptions)}
    common = {k: v for k, v in options.items() if k in names}
    missing = [k for k in ("checkpoint", "variant", "out_dir") if k not in common]
    if missing:
        raise ValueError(f"export_bundle({target!r}) needs {', '.join(missing)}")
    return ExportOptions(**common), {k: v for k, v in options.items() if k not in names}


def _converter(entry: catalogue.TargetEntry, options: dict) -> Converter | None:
    """The target's converter with its own options; an option it does not take is a usage error."""
    cls = catalogue.load_object(entry.converter) if entry.converter else None
    takes = set(inspect.signature(cls).parameters) if cls else set()
    unknown = sorted(set(options) - takes)
    if unknown:
        names = ", ".join("--" + k.replace("_", "-") for k in unknown)
        offered = ", ".join("--" + k.replace("_", "-") for k in sorted(takes)) or "none"
        raise ValueError(f"{names}: not an option of --target {entry.name} (its own options: {offered})")
    return cls(**options) if cls else None


def _calibration(opts: ExportOptions) -> CalibrationSet | None:
    """The calibration crops of an int8 export, made before anything is written."""
    if opts.precision != "int8":
        return None
    from ..models import VARIANTS

    if opts.variant not in VARIANTS:
        raise ValueError(f"unknown variant {opts.variant!r}: expected one of {', '.join(VARIANTS)}")
    return calibration_set(VARIANTS[opts.variant], opts.calib, opts.calib_count, opts.calib_seed, opts.calib_box)


# -- the pipeline ---------------------------------------------------------------------------------


def _silent(step: str, total: int | None = None) -> None:
    """No progress wanted: the pipeline itself never prints."""


def _no_tick() -> None:
    """No counted progress wanted."""


@dataclass
class _Run:
    """One export in progress: the staging folder, the model and the parity reference."""

    stage: Path
    opts: ExportOptions
    model: object  # models.AsymTrack, fp32, eval mode
    source: SourceSpec
    reference: Backend  # the torch backend over ``model``
    crops: ParityCrops
    started: float
    extra_files: tuple[str, ...] = ()
    job: ConversionJob | None = None
    say: Callable[..., None] = _silent  # the progress callback: told each step as it starts (and its count)
    tick: Callable[[], None] = _no_tick  # one more unit of a counted step done

    def parity(self, backend: str, options: dict, pairs: int, tolerance: float, stand_in: Backend | None = None) -> dict:
        crops = self.first_crops(pairs)
        with stand_in or load_backend(backend, bundle=self.stage, **options) as candidate:
            return compare_on_crops(self.reference, candidate, crops, tolerance)

    def first_crops(self, pairs: int) -> ParityCrops:
        return replace(self.crops, templates=self.crops.templates[:pairs], searches=self.crops.searches[:pairs])


def export_bundle(target: str, progress: Callable[..., None] | None = None, advance: Callable[[], None] | None = None,
                  **options) -> Bundle:
    """``export_bundle("onnx", checkpoint=PATH, variant="tiny", out_dir=DIR, batch=1)``; the
    common options are ``ExportOptions``' fields, the rest go to the target's converter.
    ``progress(step)`` is called as each step starts (what to show; the pipeline prints nothing),
    ``progress(step, total=N)`` for a counted step (int8 calibration), ``advance()`` per unit of it.

    Raises ValueError (CheckpointError included) for bad input, FileExistsError when ``out_dir``
    exists without ``force``, ParityError when the exported graphs miss the PyTorch boxes by
    more than the tolerance, BackendUnavailable (an ImportError naming the pip extra) for a
    missing library. On any error no bundle is written and an existing one is kept.
    """
    entry = catalogue.target_entry(target)
    opts, specific = _split_options(target, options)
    if opts.precision is None:
        opts = replace(opts, precision=entry.precisions[0])
    converter = _converter(entry, specific)
    opts.check(entry)
    check_writable(opts.out_dir, "the bundle", folder=True, beside=True)  # staged beside it, before the work
    if converter is not None:
        converter.prepare(opts.precision)
    say = progress or _silent
    if opts.precision == "int8":
        say(f"int8 calibration crops ({opts.calib_count} pairs)")
    calib = _calibration(opts)
    delivery = converter or Converter
    with staged_bundle(opts.out_dir, opts.force, delivery.marker, delivery.delivery) as stage:
        say("loading the model")
        run = _start(stage, opts, converter, say)
        run.tick = advance or _no_tick
        manifest = _source_graphs(run, converter is None)
        if converter is not None:
            manifest = _convert(run, manifest, converter, entry, calib)
        _finish(run, manifest)
        if converter is not None:
            if type(converter).finish is not Converter.finish:
                say(f"{target} delivery")
            converter.finish(stage, run.job)
    return load_bundle(converter.bundle_path(Path(opts.out_dir)) if converter is not None else opts.out_dir)


def export_onnx(checkpoint, variant: str, out_dir, batch: int = 1, force: bool = False, **options) -> Bundle:
    """The ``onnx`` target: ``export_bundle("onnx", ...)`` with positional essentials."""
    return export_bundle("onnx", checkpoint=checkpoint, variant=variant, out_dir=out_dir, batch=batch, force=force,
                         **options)


def _start(stage: Path, opts: ExportOptions, converter: Converter | None, say: Callable[[str], None]) -> _Run:
    started = time.perf_counter()
    model, source = prepare_model(opts.variant, opts.checkpoint, opts.random_weights, opts.seed)
    minimum = SOURCE_PARITY_PAIRS if converter is None else CONVERTED_PARITY_PAIRS
    pairs = max(parity_pairs(opts.batch, opts.parity_pairs, minimum), parity_pairs(opts.batch, None, SOURCE_PARITY_PAIRS))
    reference = load_backend(catalogue.reference_backend(), model=model, batch=opts.batch)
    return _Run(stage, opts, model, source, reference, parity_crops(model.cfg, pairs=pairs), started, say=say)


def _source_graphs(run: _Run, is_bundle: bool) -> Manifest:
    """The fp32 ONNX graphs and manifest in the stage, checked in ONNX Runtime. When they are
    the whole bundle (``is_bundle``), ``parity_pairs`` and ``box_tolerance`` apply to them."""
    opts = run.opts
    run.say("fp32 ONNX graphs (trace, simplify, check)")
    graphs = write_graphs(run.stage, run.model, opts.batch, opts.opset, opts.simplifier)
    manifest = write_manifest(run.stage, onnx_manifest(run.model, graphs, opts.batch, opts.opset, run.source, opts.simplifier))
    given = opts.parity_pairs if is_bundle else None
    pairs = parity_pairs(opts.batch, given, SOURCE_PARITY_PAIRS)
    tolerance = opts.box_tolerance if is_bundle and opts.box_tolerance is not None else tolerance_for("fp32").box
    run.say(f"parity of the ONNX graphs against PyTorch ({pairs} crop pairs)")
    source_backend = catalogue.backend_entry(catalogue.target_entry("onnx").backend)  # what runs the onnx target
    on_cpu = {source_backend.device_option: "cpu"} if source_backend.device_option else {}
    return replace(manifest, parity=run.parity(source_backend.name, on_cpu, pairs, tolerance))


def _convert(run: _Run, source: Manifest, converter: Converter, entry, calib: CalibrationSet | None) -> Manifest:
    """The target's files and the derived manifest, written into the stage, with its parity."""
    opts = run.opts
    feeds = _calibration_feeds(run, source, calib, entry.name) if calib is not None else None
    run.say(f"{'int8 calibration and ' if calib is not None else ''}conversion to {entry.name} {opts.precision}",
            total=len(feeds.search) if feeds is not None else None)
    pairs = parity_pairs(opts.batch, opts.parity_pairs, CONVERTED_PARITY_PAIRS)
    run.job = ConversionJob(run.stage, source, opts.precision, feeds, run.model, opts.simplifier, run.first_crops(pairs))
    conversion = converter.convert(run.job)
    _check_roles(entry, conversion)
    bundle_target = converter.bundle_target or entry.name
    manifest = derived_manifest(source, bundle_target, opts.precision, conversion, feeds)
    manifest = write_manifest(run.stage, manifest, extra_files=conversion.extra_files)
    tolerance = tolerance_for(opts.precision, bundle_target).box if opts.box_tolerance is None else opts.box_tolerance
    run.say(f"parity of the {entry.name} {opts.precision} graphs against PyTorch ({pairs} crop pairs)")
    parity = run.parity(converter.parity_backend or entry.backend, converter.backend_options(), pairs, tolerance,
                        converter.parity_stand_in(run.job, manifest))
    run.extra_files = conversion.extra_files
    return replace(manifest, parity=parity)


def _calibration_feeds(run: _Run, source: Manifest, calib: CalibrationSet, target: str) -> CalibrationFeeds:
    """The int8 calibration inputs, made and then consumed by the quantizer with a count shown."""
    batches = len(calib) // run.opts.batch
    run.say(f"int8 calibration: template states of {batches * run.opts.batch} crop pairs", total=batches)
    return calibration_feeds(run.stage, source, calib, run.tick).reporting(run.tick)


def _check_roles(entry: catalogue.TargetEntry, conversion: Conversion) -> None:
    """A converter writes only the file roles its catalogue entry declares."""
    roles = {role for files in conversion.files.values() for role in files}
    if not roles <= set(entry.roles):
        raise RuntimeError(f"target {entry.name!r} wrote file roles {sorted(roles - set(entry.roles))} "
                           f"that its registry entry does not declare ({', '.join(entry.roles)})")


def derived_manifest(source: Manifest, target: str, precision: str, conversion: Conversion,
                     feeds: CalibrationFeeds | None) -> Manifest:
    """The fp32 ONNX manifest turned into the target's: its files (the ONNX graphs kept as
    ``source_onnx``), records, and the source graphs' parity kept in the export record."""
    graphs = {
        name: GraphSpec({SOURCE_ROLE: spec.files["onnx"], **conversion.files[name]}, spec.inputs, spec.outputs)
        for name, spec in source.graphs.items()
    }
    source_export = {k: v for k, v in source.export.items() if k != "seconds"}
    return replace(
        source,
        target=target,
        precision=precision,
        graphs=graphs,
        export={**source_export, "source_onnx_parity": source.parity, **conversion.export},
        parity={},
        runtime=conversion.runtime,
        calibration=feeds.record if feeds is not None else None,
    )


def _finish(run: _Run, manifest: Manifest) -> None:
    export = {**manifest.export, "seconds": round(time.perf_counter() - run.started, 2)}
    write_manifest(run.stage, replace(manifest, export=export), extra_files=run.extra_files)
