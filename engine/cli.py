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

from kiln_lab.engine.commands import COMMAND_MODULES
from kiln_lab.engine.errors import KilnError
from kiln_lab.engine.export.formats import ALL_FORMATS, QUANTISATIONS

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors are bad input too
        raise KilnError(f"{message[0].upper()}{message[1:]}.", hint=f"See '{self.prog} --help'.")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command`` (the one named on it), other commands get their
    help line only: ``train``'s one flag per config setting (`add_config_flags`) costs 30-60 ms
    that ``kiln inspect`` would otherwise pay to read nothing of it."""
    parser = _Parser(prog="kiln", description="Kiln: train from scratch or fine-tune, head to head.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model and save it with its run record")
    train.add_argument("--out", required=True, type=Path, help="run folder: model.keras, history.json, run.json")
    train.add_argument("--config", type=Path, help="a run config (TOML or JSON); flags given here override it")
    train.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    train.add_argument("--overwrite", action="store_true", help="replace the run already in --out with a new one")
    _add_trust_file(train)
    if command in (None, "train"):
        add_config_flags(train)

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
    export.add_argument("--format", required=True, choices=list(ALL_FORMATS))
    export.add_argument("--out", required=True, type=Path)
    export.add_argument(
        "--quantize", choices=list(QUANTISATIONS),
        help="TFLite post-training quantisation (int8 calibrates on the run's training data); "
        "the file is checked against the model on the run's test split",
    )
    _add_trust(export)

    commands.add_parser("backbones", help="list the backbone catalogue")
    commands.add_parser(
        "config-schema", help="print the JSON schema of a run config (every setting, its range and help)"
    )
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"kiln_lab.engine.commands.{module_name}").register(commands)
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
        help="trust the model file named here (by its hash), and the SavedModel folders it opens (named on "
        "stderr first): its Kiln SavedModel layers may run; Lambda layers stay refused",
    )
    _add_trust_file(parser)


def trust_named_files(items: Sequence[str | Path]) -> None:
    """Record the files, SavedModel folders and hub handles the person typed after --trust-file (by hash)."""
    from kiln_lab.engine import api

    api.trust_files([str(item) for item in items], flag="--trust-file")


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
        args = build_parser(_command_named(argv)).parse_args(argv)
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
            "config-schema": cmd_config_schema,
        }[args.command]
        return handler(args)
    except KilnError as exc:
        print(terminal_paragraph(exc.sentence), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the last line of defence of a command-line tool
        if debug:
            raise
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print(terminal_paragraph(f"Kiln failed: {type(exc).__name__}: {first_line}"), file=sys.stderr)
        print("Run again with --debug for the full traceback.", file=sys.stderr)
        return EXIT_FAILED


def _command_named(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is not an option), or None."""
    return next((word for word in argv if not word.startswith("-")), None)


def terminal_paragraph(sentence: str, width: int = 100) -> str:
    """``sentence`` as one paragraph for a terminal.

    Control characters (a class name's newline or ESC) are shown escaped, a giant word (a
    50 MB value quoted back) is cut before anything looks at it whole, and a path is never
    split at its hyphens, so it can be copied back from the terminal.
    """
    from kiln_lab.engine.data.files import printable

    words = [w if len(w) <= 400 else f"{w[:200]}... ({len(w):,} characters)" for w in sentence.split(" ")]
    text = printable(" ".join(words), limit=20_000)
    return textwrap.fill(text, width=width, break_on_hyphens=False, break_long_words=False)


def load_tensorflow() -> None:
    """Import TensorFlow (seconds, hundreds of MB) without its native start-up chatter on stderr."""
    from kiln_lab.engine import api

    api.load_engine()


def check_data_source(source: str | None) -> None:
    """A data path that does not exist, as a sentence, before anything slow happens."""
    if not source or source.strip().startswith("demo:"):
        return
    try:
        exists = Path(source.strip()).expanduser().exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL character
        reason = getattr(exc, "strerror", None) or str(exc)
        raise KilnError(
            f"The data source {source} cannot be opened ({reason}).", hint="Check the path, or choose it again."
        ) from None
    if not exists:
        raise KilnError(
            f"The data source {source} does not exist.", hint="Check the path, or choose the folder or file again."
        )


# -- train --------------------------------------------------------------------------------

# Every flag for a config setting is made from the setting's declaration (`engine.params`):
# its name (``--learning-rate``, or the declared one such as ``--init``), type, choices and
# help. A setting declared with ``cli=None`` has no flag (a layer list: use --config).
CONFIG_SECTIONS = {"data": "data", "model": "model (from scratch and fine-tuning)", "train": "training"}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per declared config setting, grouped by section; dest is the config path ("train.epochs")."""
    from kiln_lab.engine.params import declared, default_at, field_type
    from kiln_lab.engine.training.config import RunConfig

    for section, title in CONFIG_SECTIONS.items():
        group = parser.add_argument_group(title)
        for name, spec in declared(field_type(RunConfig, section)).items():
            flag = spec.cli_flag(name)
            if flag is None:
                continue
            path = f"{section}.{name}"
            options = flag_options(name, field_type(RunConfig, path), spec, default_at(RunConfig, path))
            group.add_argument(flag, dest=path, default=None, **options)


def flag_options(name: str, hint: Any, spec: Any, default: Any) -> dict[str, Any]:
    """argparse options for setting ``name`` of type ``hint`` declared by ``spec`` (a `engine.params.Param`)."""
    import dataclasses
    import typing

    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) is not tuple and args else hint
    help_text = spec.describe()
    if dataclasses.is_dataclass(base):  # a nested section typed as one flag (--augment flip,zoom=0.1)
        return {"type": base.parse, "help": _escape(f"{help_text}: {base.parse_help()}"), "metavar": "LIST"}
    if base is bool:
        return {"action": argparse.BooleanOptionalAction, "help": _escape(f"{help_text} [new config: {default}]")}
    options: dict[str, Any] = {}
    if typing.get_origin(base) is tuple:
        sizes = typing.get_args(base)
        options.update(nargs=len(sizes), type=sizes[0], metavar=("H", "W") if len(sizes) == 2 else None)
    else:
        options.update(type=base, metavar={int: "N", float: "X"}.get(base, name.upper()))
    names = spec.names()
    if names:
        options.update(choices=list(names), metavar="NAME")
        help_text += f"; one of: {', '.join(map(str, names))}"
    if default not in (None, ()):
        help_text += f" [new config: {default}]"
    return {**options, "help": _escape(help_text)}


def _escape(text: str) -> str:
    return text.replace("%", "%%")


def config_from_args(args: argparse.Namespace) -> Any:
    """The run config: ``--config`` (or the run folder's own when resuming), then the flags on top."""
    from kiln_lab.engine.params import declared, field_type
    from kiln_lab.engine.training.config import RunConfig

    if args.config:
        config = RunConfig.load(args.config)
    elif args.resume and (args.out / "config.toml").exists():
        config = RunConfig.load(args.out / "config.toml")
    else:
        config = RunConfig()
    changes: dict[str, dict[str, Any]] = {section: {} for section in CONFIG_SECTIONS}
    for section in CONFIG_SECTIONS:
        for name in declared(field_type(RunConfig, section)):
            value = getattr(args, f"{section}.{name}", None)
            if value is not None:
                changes[section][name] = tuple(value) if isinstance(value, list) else value
    seed = changes["train"].get("seed")
    if seed is not None:  # --seed is the whole run's; --split-seed / --init-seed override their part
        changes["data"].setdefault("seed", seed)
        changes["model"].setdefault("seed", seed)
    if changes["model"].get("backbone"):
        changes["model"].setdefault("kind", "finetune")
    if not (changes["data"].get("source") or args.config or args.resume):
        raise KilnError("Say which data to train on with --data.", hint="For example: --data demo:digits.")
    return config.replace(**{k: v for k, v in changes.items() if v}, name=args.out.name or "run")


def parse_augment(text: str) -> Any:
    """``--augment flip,zoom=0.1`` as an `AugmentConfig` (kept for callers of the old name)."""
    from kiln_lab.engine.data.config import AugmentConfig

    return AugmentConfig.parse(text)


def cmd_config_schema(_args: argparse.Namespace) -> int:
    """The run config's JSON schema, made from the settings' declarations (docs/config-schema.json)."""
    from kiln_lab.engine.training.config import RunConfig

    print(json.dumps(RunConfig.json_schema(), indent=2))
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api
    from kiln_lab.engine.training.progress import TerminalProgress
    from kiln_lab.engine.training.starting import is_table_source, table_defaults

    # Nothing is written before the whole config is valid and the folder may take this run;
    # the job writes config.toml itself once the model is built. The folder is this process's
    # from the check to the save: a second `train --out` on it is refused (training/run_lock.py).
    with api.run_folder_lock(str(args.out)):
        config = config_from_args(args)
        if not (args.config or args.resume) and is_table_source(config.data.source):
            # A table starts with the table defaults, except what a flag set (issue 20.10): a
            # generated flag's dest is its config path and its default None (add_config_flags).
            keep = {path for path, value in vars(args).items() if "." in path and value is not None}
            config = table_defaults(config, keep=keep)
        config = config.validate()
        api.check_run_folder(str(args.out), config, resume=args.resume, overwrite=args.overwrite)
        trust_named_files(args.trust_file)
        check_data_source(config.data.source)
        load_tensorflow()
        with TerminalProgress() as progress:
            result = api.train(config, sink=progress, out_dir=str(args.out), resume=args.resume)
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
    from kiln_lab.engine import api
    from kiln_lab.engine.training.config import DataConfig

    report = api.scan_dataset(DataConfig(source=args.data, target=args.target)).summary()
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
    """The model named on the command line (an `engine.results.ModelHandle`), through the trust gate;
    ``--trust`` trusts that file only."""
    from kiln_lab.engine import api

    trust_named_files(getattr(args, "trust_file", []))
    if not Path(args.model).exists():
        raise KilnError(f"The model {args.model} does not exist.", hint="Check the path of the .keras/.h5 file.")
    if args.trust:
        _say_which_folders_trust_covers(Path(args.model))
    load_tensorflow()
    return api.open_model(str(args.model), trusted=args.trust)


def _say_which_folders_trust_covers(model: Path) -> None:
    """--trust covers the SavedModel folders the file opens, which its hash does not: name them first."""
    from kiln_lab.engine import api
    from kiln_lab.engine.data.files import printable

    folders = api.trust_covers(str(model))
    if folders:
        shown = ", ".join(printable(folder, 300) for folder in folders)
        print(
            terminal_paragraph(
                f"note: --trust also trusts the SavedModel folder(s) {model.name} opens, by their hashes as they "
                f"are now: {shown}. Their TensorFlow graphs will run."
            ),
            file=sys.stderr,
        )


def cmd_evaluate(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api
    from kiln_lab.engine.training.config import DataConfig

    check_data_source(args.data)
    model = _load(args)
    # Every sample, read with the model's own encoder, scaling and class order (its run record).
    result = api.evaluate(model, DataConfig(source=args.data, target=args.target), split="all", pictures=0)
    report = result["report"]
    print(api.strict_json({"metrics": report.metrics, "per_class": report.per_class}))
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api

    if args.top_k < 1:
        raise KilnError(f"--top-k must be 1 or more, not {args.top_k}.")
    for item in args.inputs:
        if Path(item).is_dir() and not api.input_files([item]):
            raise KilnError(
                f"The folder {item} holds no image files to predict.", hint="Name image files or a folder of images."
            )
    model = _load(args)
    # One JSON line per sample: a folder stands for its images, a CSV file for its rows. One file
    # at a time, so the lines before a file that cannot be read are printed.
    for source in api.input_files(list(args.inputs)):
        for found in api.predict_inputs(model, [source], k=args.top_k):
            top_k = [{"label": n, "score": round(p, 6)} for n, p in found["top_k"]]
            print(json.dumps({"input": found["input"], "top_k": top_k}))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api
    from kiln_lab.engine.models.licence import record_export_warning

    check_output_path(args.out)
    model = _load(args)
    record = model.record or None

    licence_note = record_export_warning(record)
    if licence_note:  # before writing: the person sees the terms of what they are about to ship
        print(f"warning: {licence_note}", file=sys.stderr)
    if args.format not in ("onnx", "tflite"):
        if args.quantize:
            raise KilnError(f"--quantize applies to TFLite exports, not {args.format}.")
        path = api.export_model(model, str(args.out), format=args.format, record=record)
        print(f"Exported {args.format} to {path}")
        return EXIT_OK
    exported = api.export_for_deployment(model, str(args.out), format=args.format, record=record,
                                         quantize=args.quantize)
    if exported["random_inputs"]:
        print("note: the run's data is not available here, so the file is checked on random inputs "
              "(outputs only, no accuracy).", file=sys.stderr)
    path, check = exported["path"], exported["check"]
    print(f"Exported {args.format} to {path}")
    print(check["sentence"], file=sys.stdout if check.get("within_margin", True) else sys.stderr)
    return EXIT_OK


def cmd_backbones(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api

    for entry in api.catalogue():
        where = "offline" if entry.offline else "download"
        size = f"{entry.input_size[0]}x{entry.input_size[1]}"
        print(f"{entry.name:<24} {entry.source:<20} {size:>8} {entry.params:>12,} params  {where:<8}  {entry.licence}")
    return EXIT_OK
