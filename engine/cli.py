"""The headless command line: ``python main.py <command> ...`` (or ``kiln <command>``).

Exit status: 0 on success, 2 for bad input (one readable paragraph on stderr, no
traceback), 1 for anything else.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.commands import COMMAND_MODULES
from engine.errors import KilnError
from engine.export.records import find_run_record, model_image_size  # noqa: F401 - also used by engine.commands

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors are bad input too
        raise KilnError(f"{message[0].upper()}{message[1:]}.", hint=f"See '{self.prog} --help'.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kiln", description="Kiln: train from scratch or fine-tune, head to head.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model and save it with its run record")
    train.add_argument("--data", help="image folder, CSV, .npz/.npy, .h5, or demo:NAME")
    train.add_argument("--out", required=True, type=Path, help="run folder: model.keras, history.json, run.json")
    train.add_argument("--config", type=Path, help="a run config (TOML or JSON); flags given here override it")
    train.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    train.add_argument("--overwrite", action="store_true", help="replace the run already in --out with a new one")
    _add_trust_file(train)
    scratch = train.add_argument_group("model from scratch")
    scratch.add_argument("--arch", help="preset: mlp, cnn, resnet")
    scratch.add_argument("--init", dest="kernel_initializer", help="kernel initializer, e.g. he_normal, glorot_uniform")
    scratch.add_argument("--bias-init", dest="bias_initializer", help="bias initializer, e.g. zeros")
    scratch.add_argument("--init-scale", type=float, help="std / limit of plain random_normal / random_uniform")
    scratch.add_argument("--depth", type=int, help="number of blocks / hidden layers")
    scratch.add_argument("--width", type=int, help="units / base filters")
    scratch.add_argument("--activation", help="relu, gelu, tanh, selu, ...")
    scratch.add_argument("--dropout", type=float)
    scratch.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None)
    finetune = train.add_argument_group("fine-tuning")
    finetune.add_argument("--backbone", help="catalogue name, TF Hub URL, Kaggle handle, SavedModel folder, .keras/.h5")
    finetune.add_argument("--cut-layer", help="for your own model file: the layer to cut at")
    finetune.add_argument("--freeze", help="all | none | top:N | from:LAYER")
    finetune.add_argument("--two-phase", action=argparse.BooleanOptionalAction, default=None)
    finetune.add_argument("--head-epochs", type=int, help="two-phase: epochs with the backbone frozen")
    finetune.add_argument("--backbone-lr-mult", type=float, help="backbone learns at this fraction of the rate")
    finetune.add_argument("--l2sp", type=float, help="L2-SP strength (pull towards the pretrained weights)")
    finetune.add_argument("--source-task", help="the backbone's original task (a data source): the forgetting "
                          "monitor measures how much of it is kept each epoch")
    data = train.add_argument_group("data")
    data.add_argument("--target", help="CSV label column (default: the last)")
    data.add_argument("--x-key", help="inputs array in .npz / HDF5 (default: x)")
    data.add_argument("--y-key", help="labels array in .npz / HDF5 (default: y)")
    data.add_argument("--val-split", type=float)
    data.add_argument("--test-split", type=float)
    data.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"))
    data.add_argument("--augment", help="comma list: flip,rotation=0.05,zoom=0.1,contrast=0.2")
    fit = train.add_argument_group("training")
    fit.add_argument("--epochs", type=int)
    fit.add_argument("--batch-size", type=int)
    fit.add_argument("--learning-rate", type=float)
    fit.add_argument("--optimizer", help="adam, adamw, sgd, rmsprop")
    fit.add_argument("--schedule", help="constant, step, cosine, plateau")
    fit.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    fit.add_argument("--class-weights", action=argparse.BooleanOptionalAction, default=None)
    fit.add_argument("--seed", type=int)
    fit.add_argument("--distribution", help="auto, none, mirrored, multiworker (uses TF_CONFIG)")
    fit.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None)
    fit.add_argument("--xla", action=argparse.BooleanOptionalAction, default=None)
    fit.add_argument(
        "--tensorboard", action=argparse.BooleanOptionalAction, default=None,
        help="write TensorBoard logs into OUT/tensorboard (watch with: tensorboard --logdir OUT/tensorboard)",
    )

    inspect = commands.add_parser("inspect", help="report on a dataset without training")
    inspect.add_argument("--data", required=True)
    inspect.add_argument("--target")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on a dataset")
    evaluate.add_argument("model", type=Path)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--target")
    _add_trust(evaluate)

    predict = commands.add_parser("predict", help="top-k predictions as JSON lines")
    predict.add_argument("model", type=Path)
    predict.add_argument("inputs", nargs="+", help="image files, or CSV rows like '5.1,3.5,1.4'")
    predict.add_argument("--top-k", type=int, default=3)
    _add_trust(predict)

    export = commands.add_parser("export", help="convert a saved model")
    export.add_argument("model", type=Path)
    export.add_argument("--format", required=True, choices=["keras", "h5", "savedmodel", "tflite"])
    export.add_argument("--out", required=True, type=Path)
    _add_trust(export)

    commands.add_parser("backbones", help="list the backbone catalogue")
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"engine.commands.{module_name}").register(commands)
    return parser


def _add_trust_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-file",
        action="append",
        default=[],
        metavar="PATH",
        help="trust this model file, SavedModel folder or TF Hub / Kaggle handle (by its hash) so its SavedModel "
        "graph may run; repeatable",
    )


def _add_trust(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust",
        action="store_true",
        help="trust the model file named here (by its hash): its Kiln SavedModel layers may run; "
        "Lambda layers stay refused",
    )
    _add_trust_file(parser)


def trust_named_files(items: Sequence[str | Path]) -> None:
    """Record the files, SavedModel folders and hub handles the person typed after --trust-file (by hash)."""
    from engine.export.trust import trust

    for item in items:
        path = Path(item).expanduser()
        if not path.exists():
            from engine.models.backbones.hub import is_hub_handle, resolve_handle

            if is_hub_handle(str(item)):
                trust(resolve_handle(str(item)))  # downloaded once, then trusted by the folder's hash
                continue
            raise KilnError(f"--trust-file {path}: there is no such file or folder.")
        if path.is_dir() and not (path / "saved_model.pb").is_file():
            raise KilnError(f"--trust-file {path}: a folder can only be trusted when it is a SavedModel folder.")
        trust(path)


def check_output_path(path: Path, flag: str = "--out") -> None:
    """Refuse an output path that lies under a file (a file cannot hold anything)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise KilnError(f"{flag} {path} lies under {parent}, which is a file.", hint=f"Pick another {flag}.")
            return


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("KILN_DEBUG") == "1"
    try:
        args = build_parser().parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is not None:  # commands in their own modules get TensorFlow up front, quietly
            load_tensorflow()
        # Built-in commands check their arguments, paths and config first and load TensorFlow
        # only then (`load_tensorflow`), so a typo is reported at once; inspect never loads it.
        handler = handler or {
            "train": cmd_train,
            "inspect": cmd_inspect,
            "evaluate": cmd_evaluate,
            "predict": cmd_predict,
            "export": cmd_export,
            "backbones": cmd_backbones,
        }[args.command]
        return handler(args)
    except KilnError as exc:
        print(textwrap.fill(exc.sentence, width=100), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the last line of defence of a command-line tool
        if debug:
            raise
        print(f"Kiln failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        print("Run again with --debug for the full traceback.", file=sys.stderr)
        return EXIT_FAILED


def load_tensorflow() -> None:
    """Import TensorFlow (seconds, hundreds of MB) without its native start-up chatter on stderr."""
    from engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()


def check_data_source(source: str | None) -> None:
    """A data path that does not exist, as a sentence, before anything slow happens."""
    if source and not source.strip().startswith("demo:") and not Path(source.strip()).expanduser().exists():
        raise KilnError(
            f"The data source {source} does not exist.", hint="Check the path, or choose the folder or file again."
        )


# -- train --------------------------------------------------------------------------------

_SECTIONS = {
    "model": [
        "arch",
        "kernel_initializer",
        "bias_initializer",
        "init_scale",
        "depth",
        "width",
        "activation",
        "dropout",
        "batch_norm",
        "backbone",
        "cut_layer",
        "freeze",
        "two_phase",
        "head_epochs",
        "backbone_lr_mult",
        "l2sp",
        "source_task",
    ],
    "data": ["target", "x_key", "y_key", "val_split", "test_split"],
    "train": [
        "epochs",
        "batch_size",
        "learning_rate",
        "optimizer",
        "schedule",
        "early_stopping",
        "class_weights",
        "seed",
        "distribution",
        "mixed_precision",
        "xla",
        "tensorboard",
    ],
}


def config_from_args(args: argparse.Namespace) -> Any:
    """The run config: ``--config`` (or the run folder's own when resuming), then the flags on top."""
    from engine.training.config import RunConfig

    if args.config:
        config = RunConfig.load(args.config)
    elif args.resume and (args.out / "config.toml").exists():
        config = RunConfig.load(args.out / "config.toml")
    else:
        config = RunConfig()
    changes: dict[str, dict[str, Any]] = {section: {} for section in _SECTIONS}
    for section, names in _SECTIONS.items():
        for name in names:
            value = getattr(args, name, None)
            if value is not None:
                changes[section][name] = value
    if args.data:
        changes["data"]["source"] = args.data
    if args.image_size:
        changes["data"]["image_size"] = tuple(args.image_size)
    if args.augment:
        changes["data"]["augment"] = parse_augment(args.augment)
    if args.seed is not None:
        changes["data"]["seed"] = args.seed
        changes["model"]["seed"] = args.seed
    if args.backbone:
        changes["model"]["kind"] = "finetune"
    if not (args.data or args.config or args.resume):
        raise KilnError("Say which data to train on with --data.", hint="For example: --data demo:digits.")
    return config.replace(**{k: v for k, v in changes.items() if v}, name=args.out.name or "run")


def parse_augment(text: str) -> Any:
    from engine.training.config import AugmentConfig

    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, number = item.partition("=")
        if name == "flip":
            values["flip"] = True
        elif name in ("rotation", "zoom", "contrast"):
            try:
                values[name] = float(number) if number else {"rotation": 0.05, "zoom": 0.1, "contrast": 0.2}[name]
            except ValueError:
                raise KilnError(f"--augment {name} needs a number, not '{number}'.") from None
        else:
            raise KilnError(f"'{name}' is not an augmentation.", hint="Use flip, rotation=F, zoom=F, contrast=F.")
    return AugmentConfig(**values)


def cmd_train(args: argparse.Namespace) -> int:
    from engine.training.checkpoint import check_run_folder
    from engine.training.job import run_training
    from engine.training.progress import TerminalProgress
    from engine.training.starting import is_table_source, table_defaults

    # Nothing is written before the whole config is valid and the folder may take this run;
    # the job writes config.toml itself once the model is built.
    check_run_folder(args.out, resume=args.resume, overwrite=args.overwrite)
    config = config_from_args(args)
    if not (args.config or args.resume) and is_table_source(config.data.source):
        # A table starts with the table defaults, except what a flag set (issue 20.10).
        flags = (("train", "epochs"), ("train", "early_stopping"), ("train", "learning_rate"), ("model", "depth"),
                 ("model", "width"), ("model", "dropout"))
        keep = {f"{section}.{name}" for section, name in flags if getattr(args, name, None) is not None}
        config = table_defaults(config, keep=keep)
    config = config.validate()
    trust_named_files(args.trust_file)
    check_data_source(config.data.source)
    load_tensorflow()
    with TerminalProgress() as progress:
        result = run_training(config, sink=progress, out_dir=args.out, resume=args.resume)
    if result.reason == "nan":
        raise KilnError(
            "The loss stopped being a finite number (NaN or infinity), so training stopped; the weights of the "
            f"last finite epoch were saved to {args.out}/model.keras.",
            hint="Lower the learning rate, or pick He/Glorot initialisation, and train again.",
        )
    summary = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items())
    print(f"{result.reason.replace('_', ' ')}: {summary}")
    print(f"{result.samples_per_second:.0f} samples/s over {result.seconds:.1f} s. Saved to {args.out}/model.keras")
    return EXIT_OK


# -- inspect / evaluate / predict / export --------------------------------------------------


def cmd_inspect(args: argparse.Namespace) -> int:
    from engine.data import load_dataset
    from engine.training.config import DataConfig

    dataset = load_dataset(DataConfig(source=args.data, target=args.target))
    report = dataset.summary()
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(
        f"{report['source']}: {report['source_kind']}, {report['task']}, {report['num_samples']} samples, "
        f"input {tuple(report['input_shape'])}"
    )
    for name, count in report["class_counts"].items():
        print(f"  {name:<24} {count}")
    for split, info in report["splits"].items():
        print(f"  split {split}: {info['size']}")
    for problem in report["problems"]:
        print(f"  note: {problem}")
    if report["skipped"]:
        print(f"  {len(report['skipped'])} skipped:")
        for item in report["skipped"]:
            print(f"    {item['path']}: {item['reason']}")
    return EXIT_OK


def _load(args: argparse.Namespace) -> Any:
    """The model named on the command line, through the trust gate; ``--trust`` trusts that file only."""
    from engine.export import load_model
    from engine.models.custom_objects import kiln_custom_objects

    trust_named_files(getattr(args, "trust_file", []))
    if not Path(args.model).exists():
        raise KilnError(f"The model {args.model} does not exist.", hint="Check the path of the .keras/.h5 file.")
    load_tensorflow()
    return load_model(args.model, trusted=args.trust, custom_objects=kiln_custom_objects())


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.analysis.evaluation import evaluate_model
    from engine.data import load_dataset
    from engine.training.config import DataConfig

    check_data_source(args.data)
    model = _load(args)
    record = find_run_record(args.model)
    # The model's own encoder, scaling and class order, so new data is read as the training data was.
    preprocessing = record.get("dataset", {}).get("preprocessing") or None
    dataset = load_dataset(DataConfig(source=args.data, target=args.target, val_split=0.0), preprocessing=preprocessing)
    dataset.splits = {"all": np.arange(dataset.num_samples)}
    _check_inputs_fit(model, dataset, args)
    size = record.get("model", {}).get("image_size") or model_image_size(model)
    report = evaluate_model(model, dataset, split="all", image_size=tuple(size) if size else None)
    from engine.export.save import strict_json

    print(strict_json({"metrics": report.metrics, "per_class": report.per_class}))
    return EXIT_OK


def _check_inputs_fit(model: Any, dataset: Any, args: argparse.Namespace) -> None:
    """Images for an image model, rows of the right width for a table model; else a sentence."""
    wanted = tuple(model.input_shape[1:])
    have = tuple(dataset.input_shape)
    model_images, data_images = len(wanted) == 3, len(have) == 3
    if model_images != data_images:
        kind = "images" if model_images else f"rows of {wanted[-1]} numbers"
        given = "images" if data_images else "a table"
        raise KilnError(
            f"{args.model.name} takes {kind}, but {args.data} holds {given}.",
            hint="Evaluate it on data of the kind it was trained on.",
        )
    if not model_images and wanted and wanted[-1] and have and have[-1] != wanted[-1]:
        raise KilnError(
            f"{args.model.name} takes {wanted[-1]} input columns, but {args.data} gives {have[-1]}.",
            hint="Evaluate it on data with the columns it was trained on.",
        )


def cmd_predict(args: argparse.Namespace) -> int:
    from engine.analysis.evaluation import predict_top_k
    from engine.data.inputs import expand_folders, load_inputs_for_prediction

    if args.top_k < 1:
        raise KilnError(f"--top-k must be 1 or more, not {args.top_k}.")
    for item in args.inputs:
        if Path(item).is_dir() and not expand_folders([item]):
            raise KilnError(
                f"The folder {item} holds no image files to predict.", hint="Name image files or a folder of images."
            )
    model = _load(args)
    record = find_run_record(args.model)
    summary = record.get("dataset", {})
    if not summary:  # a model copied away from its run record: what it takes is read from the model itself
        if len(model.input_shape) != 4:
            raise KilnError(
                f"{args.model.name} was trained on a table, and predicting needs the column encoding in its run "
                "record, which is not beside it.",
                hint=f"Copy run.json (or {args.model.stem}.run.json) from its run folder next to the model.",
            )
        summary = {"input_kind": "image", "input_shape": list(model.input_shape[1:])}
    size = record.get("model", {}).get("image_size") or model_image_size(model)
    names = summary.get("class_names") or []
    if not names and summary.get("task") != "regression":
        names = [str(i) for i in range(int(model.output_shape[-1]) if model.output_shape[-1] > 1 else 2)]
    # One JSON line per sample: a folder stands for its images, a CSV file for its rows.
    for source in expand_folders(args.inputs):
        inputs = load_inputs_for_prediction([source], summary, tuple(size) if size else None)
        labels = [str(source)] if len(inputs) == 1 else [f"{source}[{i}]" for i in range(len(inputs))]
        for label, top in zip(labels, predict_top_k(model, inputs, names, k=args.top_k)):
            print(json.dumps({"input": label, "top_k": [{"label": n, "score": round(p, 6)} for n, p in top]}))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from engine.export import save_model

    check_output_path(args.out)
    model = _load(args)
    record = find_run_record(args.model) or None
    from engine.models.licence import record_export_warning

    licence_note = record_export_warning(record)
    if licence_note:  # before writing: the person sees the terms of what they are about to ship
        print(f"warning: {licence_note}", file=sys.stderr)
    path = save_model(model, args.out, format=args.format, record=record)
    print(f"Exported {args.format} to {path}")
    return EXIT_OK


def cmd_backbones(args: argparse.Namespace) -> int:
    from engine.models.catalogue import load_catalogue

    for entry in load_catalogue():
        where = "offline" if entry.offline else "download"
        size = f"{entry.input_size[0]}x{entry.input_size[1]}"
        print(f"{entry.name:<24} {entry.source:<20} {size:>8} {entry.params:>12,} params  {where:<8}  {entry.licence}")
    return EXIT_OK
