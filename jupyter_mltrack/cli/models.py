"""``mltrack models``: the model registry from a terminal.

::

    mltrack models list                          registered models, their versions and aliases
    mltrack models show NAME                     its versions, newest first, with run and metrics
    mltrack models show NAME@ALIAS|NAME/VERSION  one version: run, format, signature, load call
    mltrack models register NAME RUN/ARTIFACT    add a run's model as the next version
    mltrack models alias NAME ALIAS VERSION      point (or move) an alias; --delete removes it
    mltrack models delete-version NAME VERSION   refused while an alias points at it (--force)
    mltrack models delete NAME                   the model, its versions and aliases (--force)
    mltrack models lineage REF                   how a model version was built

The registry's rules (numbering, which alias names are allowed, what deleting a version
does to its aliases) are the store's (:mod:`..store.registry_records`), references are read
by :mod:`..models.refs` and lineage is built by :mod:`..models.lineage`: this module only
reads arguments and prints, so the CLI, the REST API and ``mltrack.*`` always agree.
``--json`` prints what the REST API answers.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

from ..models.refs import PREFIX, ModelRefError, load_call, parse, resolve
from ..store import Store
from ..store.entities import ModelVersion
from ..store.names import InvalidName
from .common import (
    MAX_METRICS_CELL,
    CliError,
    _bytes,
    _cut,
    _html_destination,
    _number,
    _Parser,
    _plural,
    _print_json,
    _publish,
    _run_label,
    _when,
    table,
)
from .lineage import LINEAGE_HELP, lineage_ref, lineage_tree, render, shape_text, version_text

RUN_REF_HELP = "a run number (with -e), run id or unique id prefix, '/', the artifact's name"


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    models = commands.add_parser(
        "models",
        help="the model registry: list, show, register, alias, describe, tag, delete, lineage",
        description="Registered models, their versions and aliases. A version is a model a"
        " run logged (mltrack.log_model); an alias such as 'production' names one version"
        " and moves in one step; mltrack.load_model('models:/NAME@ALIAS') loads it.",
        parents=[store_opt],
    )
    sub = models.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_Parser)
    sub.required = True

    listing = sub.add_parser(
        "list",
        help="registered models: versions, latest, aliases, tags",
        parents=[store_opt, json_opt],
    )
    _tag_option(listing, "only the models whose own tags hold this value (repeat: all of them)")
    listing.set_defaults(func=cmd_models_list)

    show = sub.add_parser(
        "show",
        help="a model's versions, newest first, with their runs, aliases and metrics; "
        "one version's run, format, signature and the call that loads it",
        parents=[store_opt, json_opt],
    )
    show.add_argument(
        "name",
        metavar="NAME",
        help="registered model name; NAME@ALIAS, NAME/VERSION or models:/... for one version",
    )
    show.set_defaults(func=cmd_models_show)

    register = sub.add_parser(
        "register",
        help="add a run's model as the next version of NAME (created if new)",
        description="Add the model artifact REF (logged with mltrack.log_model) as the next"
        " version of NAME, creating NAME if new, and print the version. Registering the same"
        " artifact again prints the version it already is.",
        parents=[store_opt, json_opt],
    )
    register.add_argument("name", metavar="NAME", help="model name, e.g. churn")
    register.add_argument("ref", metavar="RUN/ARTIFACT", help=RUN_REF_HELP)
    register.add_argument(
        "--experiment", "-e", metavar="E", help="experiment a run number refers to"
    )
    register.add_argument("--description", "-d", default="", metavar="TEXT")
    _tag_option(register, "a tag of the version (repeat for more), set as it is registered")
    register.set_defaults(func=cmd_models_register)

    alias = sub.add_parser(
        "alias",
        help="point an alias (e.g. production) at a version, moving it; or --delete it",
        description="Point ALIAS of model NAME at VERSION, moving it from the version it"
        " named (the line printed says from which); with --delete, remove ALIAS. Aliases are"
        " names ('production', 'staging'), not numbers.",
        parents=[store_opt, json_opt],
    )
    alias.add_argument("name", metavar="NAME", help="registered model name")
    alias.add_argument("alias", metavar="ALIAS", help="alias name, e.g. production")
    alias.add_argument("version", metavar="VERSION", nargs="?", type=_version_arg)
    alias.add_argument("--delete", action="store_true", help="remove the alias")
    alias.set_defaults(func=cmd_models_alias)

    describe = sub.add_parser(
        "describe",
        help="describe a model, or one version of it",
        description="Set the description of model NAME or, with --version, of one of its"
        " versions: what it predicts, what changed. 'mltrack models show' prints it.",
        parents=[store_opt, json_opt],
    )
    describe.add_argument("name", metavar="NAME", help="registered model name")
    describe.add_argument("text", metavar="TEXT", help="the description ('' clears it)")
    describe.add_argument("--version", "-v", metavar="VERSION", type=_version_arg)
    describe.set_defaults(func=cmd_models_describe)

    tag = sub.add_parser(
        "tag",
        help="set or --delete tags of a model (team=growth) or of a version (validation=passed)",
        description="Set tags KEY=VALUE on version VERSION of NAME or, without VERSION, on"
        " model NAME itself, replacing those keys' values, and remove the keys given with"
        " --delete: what a team records of a version outside its run (validation=passed,"
        " approved_by=ana), or of the model (team=growth, task=churn). One transaction.",
        parents=[store_opt, json_opt],
    )
    tag.add_argument("name", metavar="NAME", help="registered model name")
    tag.add_argument(
        "items",
        metavar="[VERSION] KEY=VALUE",
        nargs="*",
        help="the version (3 or v3; none: the model's own tags), then the tags to set",
    )
    tag.add_argument(
        "--delete", "-D", metavar="KEY", action="append", default=[], help="remove tag KEY"
    )
    tag.set_defaults(func=cmd_models_tag)

    delete = sub.add_parser(
        "delete-version",
        help="delete a version (refused while an alias points at it, unless --force)",
        parents=[store_opt],
    )
    delete.add_argument("name", metavar="NAME", help="registered model name")
    delete.add_argument("version", metavar="VERSION", type=_version_arg)
    delete.add_argument(
        "--force", action="store_true", help="delete it even if aliases point at it (them too)"
    )
    delete.set_defaults(func=cmd_models_delete_version)

    remove = sub.add_parser(
        "delete",
        help="delete a model, its versions and aliases (refused while an alias points into"
        " it, unless --force)",
        description="Delete model NAME with its versions and aliases; the runs keep the models"
        " they logged. Registered again later, NAME is a new model whose versions start at 1.",
        parents=[store_opt],
    )
    remove.add_argument("name", metavar="NAME", help="registered model name")
    remove.add_argument(
        "--force", action="store_true", help="delete it even if aliases point into it (them too)"
    )
    remove.set_defaults(func=cmd_models_delete)

    lineage = sub.add_parser(
        "lineage",
        help="how a model version was built: run, code, data, params, environment",
        description=LINEAGE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[store_opt, json_opt],
    )
    lineage.add_argument(
        "ref", metavar="REF", help="NAME@ALIAS, NAME/VERSION, models:/…, RUN/ARTIFACT"
    )
    lineage.add_argument(
        "--experiment", "-e", metavar="E", help="experiment a RUN number refers to"
    )
    lineage.add_argument("--code", action="store_true", help="show the run's code in full")
    lineage.add_argument(
        "--html",
        metavar="FILE",
        help="also write the lineage graph (what went into the model, the runs that used it) as"
        " one standalone HTML file",
    )
    lineage.set_defaults(func=cmd_models_lineage)


def _version_arg(text: str) -> int:
    """A version as typed: ``3`` or ``v3``."""
    digits = text[1:] if text[:1] in ("v", "V") else text
    if not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"a version is a positive number such as 3, not {text!r}")
    return int(digits)


def _tag_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--tag/-t KEY=VALUE``, repeatable, into ``args.tags`` as ``(key, value)`` pairs."""
    parser.add_argument(
        "--tag",
        "-t",
        dest="tags",
        action="append",
        default=[],
        type=_tag_arg,
        metavar="KEY=VALUE",
        help=help,
    )


def _tag_arg(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as typed (the value may hold ``=``; it may be empty)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"a tag is KEY=VALUE, not {text!r}")
    return key, value


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """What is wrong with the command line exits 2 (a reference that cannot be read, a
    name the registry cannot keep); the store's other refusals reach :func:`..main`."""
    try:
        yield
    except (ModelRefError, InvalidName) as exc:
        raise CliError(str(exc), 2) from None


# list / show ----------------------------------------------------------------------------------


def _aliases_text(aliases: Mapping[str, int]) -> str:
    return " ".join(f"@{a}=v{v}" for a, v in sorted(aliases.items())) or "-"


def models_table(models: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        [
            _cut(m["name"]),
            str(m["versions"]),
            f"v{m['latest']}" if m["latest"] is not None else "-",
            _cut(_aliases_text(m["aliases"]), MAX_METRICS_CELL),
            _cut(" ".join(f"{k}={v}" for k, v in sorted(m.get("tags", {}).items())) or "-"),
            _when(m["updated_at"]),
        ]
        for m in models
    ]
    headers = ["MODEL", "VERSIONS", "LATEST", "ALIASES", "TAGS", "UPDATED"]
    return table(headers, rows, frozenset({1}))


def cmd_models_list(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..server.models import list_models

    answer = list_models(store, {"tag": [f"{k}={v}" for k, v in args.tags]})
    if args.json:
        _print_json(answer, out)
    elif not answer["models"] and args.tags:
        wanted = " ".join(f"{k}={v}" for k, v in args.tags)
        out.write(f"no registered model has the tags {wanted}\n")
    elif not answer["models"]:
        out.write(
            "no registered models yet (register one: mltrack models register NAME RUN/ARTIFACT)\n"
        )
    else:
        out.write(models_table(answer["models"]) + "\n")
    return 0


def model_report(model: Mapping[str, Any]) -> str:
    """``models show``: a heading, the aliases, and a row per version, newest first."""
    versions = model["versions"]
    head = f"Model {model['name']}: {_plural(len(versions), 'version')}"
    if model["latest"] is not None:
        head += f", latest v{model['latest']}"
    lines = [head]
    if model["description"]:
        lines.append(f"  {' '.join(model['description'].split())}")
    if model.get("tags"):
        lines.append("  tags: " + " ".join(f"{k}={v}" for k, v in sorted(model["tags"].items())))
    if model["aliases"]:
        lines.append("  aliases: " + _aliases_text(model["aliases"]))
    if not versions:
        return "\n".join(lines)
    rows = []
    for v in versions:
        metrics = " ".join(f"{k}={_number(x)}" for k, x in v["metrics"].items())
        rows.append(
            [
                f"v{v['version']}",
                "-" if v["run_number"] is None else str(v["run_number"]),
                _cut(v["experiment"] or "-", 24),
                _cut(v["run_name"] or "-", 24),
                v["run_id"][:8],
                _cut(v["artifact"], 24),
                _when(v["created_at"]),
                " ".join(f"@{a}" for a in v["aliases"]) or "-",
                _cut(metrics, MAX_METRICS_CELL) or "-",
            ]
        )
    headers = [
        "VERSION",
        "RUN",
        "EXPERIMENT",
        "RUN NAME",
        "RUN ID",
        "ARTIFACT",
        "REGISTERED",
        "ALIASES",
        "METRICS",
    ]
    lines += ["", table(headers, rows, right=frozenset({0, 1}))]
    notes = [(v["version"], _notes(v)) for v in versions]
    if any(text for _, text in notes):
        lines.append("")
        lines += [f"  v{number}  {text}" for number, text in notes if text]
    return "\n".join(lines)


def _notes(version: Mapping[str, Any]) -> str:
    """A version's description (on one line, cut) and tags, for the lines under a model's
    table; empty when it has neither."""
    said = _cut(" ".join(str(version.get("description") or "").split()), 80)
    tags = " ".join(f"{k}={_cut(v, 40)}" for k, v in sorted((version.get("tags") or {}).items()))
    return "  ".join(x for x in (said, f"[{tags}]" if tags else "") if x)


def cmd_models_show(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..server.models import get_model

    if args.name.startswith(PREFIX) or any(c in args.name for c in "@/"):
        return _show_version(store, args, out)
    model = get_model(store, args.name)
    if args.json:
        _print_json(model, out)
    else:
        out.write(model_report(model) + "\n")
    return 0


def _show_version(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    """``models show NAME@ALIAS`` (or ``NAME/VERSION``): the one version as a card, ending
    with the call that loads it, ``trusted=`` included: what a serving script copies (the
    alias form when an alias was asked, so the script follows the alias)."""
    from ..models.lineage import lineage

    with _refusals():
        ref = lineage_ref(store, args.name)
        if not ref.registered:
            raise ModelRefError(
                f"{args.name!r} is not a registered model's version: give NAME, NAME@ALIAS "
                "or NAME/VERSION (a run's model: mltrack models lineage RUN/ARTIFACT)"
            )
        data = lineage(store, ref)
    card = {
        "model": data["model"],
        "artifact": data["artifact"],
        "run": {k: data["run"][k] for k in ("id", "number", "experiment", "name", "status")},
        "metrics": data["metrics"],
        "load": load_call(ref.text, data["artifact"]),
    }
    if args.json:
        _print_json(card, out)
    else:
        out.write(version_card(card) + "\n")
    return 0


def version_card(card: Mapping[str, Any]) -> str:
    """:func:`_show_version`'s text: a heading, then a labelled line per fact."""
    model, art, run = card["model"], card["artifact"], card["run"]
    head = f"{version_text(model)}  ({model['ref']}, registered {_when(model['created_at'])})"
    named = f" {run['name']!r}" if run["name"] else ""
    metrics = " ".join(f"{k}={_number(v)}" for k, v in card["metrics"].items())
    ran = f"#{run['number']} of {run['experiment']}{named} ({run['id'][:8]}): {run['status']}"
    library = " ".join(x for x in (art["flavor"], art["library_version"]) if x)
    stored = f"{art['name']!r}: {art['format'] or 'unknown format'}"
    stored += f" ({library})" if library else ""
    stored += f", {_plural(len(art['files']), 'file')}, {_bytes(art['size'])}"
    rows = []
    if model.get("description"):
        rows.append(("about", " ".join(model["description"].split())))
    if model.get("tags"):
        rows.append(("tags", " ".join(f"{k}={v}" for k, v in sorted(model["tags"].items()))))
    rows += [
        ("run", ran + (f"  {_cut(metrics, MAX_METRICS_CELL)}" if metrics else "")),
        ("artifact", stored),
        ("inputs", _signature_text(art["inputs"])),
        ("outputs", _signature_text(art["outputs"])),
    ]
    if art["unsafe"]:
        rows.append(("trust", "UNSAFE: a pickle, loading it can run code"))
    rows.append(("load", card["load"]))
    width = max(len(label) for label, _ in rows)
    return "\n".join([head, *(f"  {label:<{width}}  {text}" for label, text in rows)])


def _signature_text(spec: Mapping[str, Any] | None) -> str:
    """A signature's inputs or outputs on one line: a frame's columns and dtypes, an
    array's dtype and shape; "not recorded" without ``signature_from``."""
    if not spec:
        return "not recorded (log_model(..., signature_from=X[:5]) records them)"
    kind = str(spec.get("type") or "value")
    columns = spec.get("columns")
    if isinstance(columns, list):
        shown = ", ".join(f"{c.get('name')} {c.get('dtype')}" for c in columns[:12])
        more = f", … {len(columns) - 12} more" if len(columns) > 12 else ""
        return f"{kind} of {_plural(len(columns), 'column')}: {shown}{more}"
    parts = [kind, str(spec["dtype"]) if spec.get("dtype") else ""]
    if spec.get("shape"):
        parts.append(f"({shape_text(spec['shape'])})")
    return " ".join(p for p in parts if p)


# changes --------------------------------------------------------------------------------------


def cmd_models_register(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    with _refusals():
        parsed = parse(args.ref)
        artifact, _ = resolve(store, parsed, args.experiment)
        known = {
            (v.model, v.artifact)
            for v in store.versions_of_runs([artifact.run_id]).get(artifact.run_id, [])
        }
        version = store.register_model_version(
            args.name,
            artifact.run_id,
            artifact.name,
            description=args.description,
            tags=dict(args.tags),
        )
    if args.json:
        _print_json(_version_dict(version), out)
        return 0
    what = f"artifact {artifact.name!r} of {_run_label(store, artifact.run_id)}"
    if (args.name, artifact.name) in known:
        out.write(f"{what} is already {args.name} v{version.version}\n")
    else:
        out.write(f"registered {args.name} v{version.version}: {what}\n")
    out.write(f"load it with mltrack.load_model({version.ref!r})\n")
    return 0


def cmd_models_alias(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    alias = args.alias[1:] if args.alias.startswith("@") else args.alias
    if args.delete and args.version is not None:
        raise CliError("give VERSION or --delete, not both", 2)
    if not args.delete and args.version is None:
        raise CliError("give the VERSION the alias should name (or --delete to remove it)", 2)
    before = store.get_registered_model(args.name).aliases.get(alias)
    with _refusals():
        if args.delete:
            store.delete_model_alias(args.name, alias)
        else:
            store.set_model_alias(args.name, alias, args.version)
    if args.json:
        from ..server.models import get_model

        _print_json(get_model(store, args.name), out)
    elif args.delete:
        out.write(f"deleted {args.name}@{alias} (it named v{before})\n")
    elif before is None:
        out.write(f"set {args.name}@{alias} to v{args.version}\n")
    elif before == args.version:
        out.write(f"{args.name}@{alias} already names v{args.version}\n")
    else:
        out.write(f"moved {args.name}@{alias} from v{before} to v{args.version}\n")
    return 0


def _version_dict(version: ModelVersion) -> dict[str, Any]:
    """A version as ``--json`` prints it: the API's fields."""
    return {**version.to_dict(), "ref": version.ref}


def cmd_models_describe(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    with _refusals():
        if args.version is None:
            store.set_model_description(args.name, args.text)
        else:
            version = store.update_model_version(args.name, args.version, description=args.text)
    if args.json:
        from ..server.models import get_model

        shown = get_model(store, args.name) if args.version is None else _version_dict(version)
        _print_json(shown, out)
        return 0
    what = args.name if args.version is None else f"{args.name} v{args.version}"
    out.write(f"{'cleared the description of' if not args.text else 'described'} {what}\n")
    return 0


def cmd_models_tag(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    items = list(args.items)
    number = None
    if items and "=" not in items[0]:  # a version first; a tag always holds '='
        try:
            number = _version_arg(items.pop(0))
        except argparse.ArgumentTypeError as exc:
            raise CliError(f"{exc} (tags are KEY=VALUE)", 2) from None
    try:
        tags = dict(_tag_arg(item) for item in items)
    except argparse.ArgumentTypeError as exc:
        raise CliError(str(exc), 2) from None
    if not tags and not args.delete:
        raise CliError("give tags as KEY=VALUE, or --delete KEY", 2)
    with _refusals():
        if number is None:
            model = store.update_registered_model(args.name, set_tags=tags, delete_tags=args.delete)
            now, what = model.tags, args.name
        else:
            version = store.update_model_version(
                args.name, number, set_tags=tags, delete_tags=args.delete
            )
            now, what = version.tags, f"{args.name} v{number}"
    if args.json:
        from ..server.models import get_model

        _print_json(get_model(store, args.name) if number is None else _version_dict(version), out)
        return 0
    shown = " ".join(f"{k}={v}" for k, v in sorted(now.items())) or "none"
    out.write(f"{what} tags: {shown}\n")
    return 0


def cmd_models_delete_version(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    held = store.resolve_model_version(args.name, version=args.version).aliases
    store.delete_model_version(args.name, args.version, force=args.force)
    word = "alias" if len(held) == 1 else "aliases"
    gone = f" and its {word} {', '.join(f'@{a}' for a in held)}" if held else ""
    out.write(f"deleted {args.name} v{args.version}{gone}\n")
    return 0


def cmd_models_delete(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    """``models delete``: one line naming what went (the versions, the aliases)."""
    model = store.get_registered_model(args.name)
    store.delete_registered_model(args.name, force=args.force)
    gone = [_plural(len(model.versions), "version")] if model.versions else []
    if model.aliases:
        word = "alias" if len(model.aliases) == 1 else "aliases"
        gone.append(f"{word} {', '.join(f'@{a}' for a in sorted(model.aliases))}")
    what = f" with its {' and '.join(gone)}" if gone else " (it had no versions)"
    out.write(f"deleted model {args.name}{what}\n")
    return 0


# lineage --------------------------------------------------------------------------------------


def cmd_models_lineage(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..models.lineage import lineage

    html_dest = _html_destination(args.html) if args.html else None
    with _refusals():
        ref = lineage_ref(store, args.ref)
        data = lineage(store, ref, args.experiment)
    if html_dest is not None:
        from ..models.graph import lineage_graph
        from .report import lineage_html

        with _refusals():
            graph = lineage_graph(store, ref, args.experiment)
        page = lineage_html(data, graph.to_dict())
        _publish(html_dest, lambda tmp: tmp.write_text(page, encoding="utf-8"), force=True)
        where = sys.stderr if args.json else out
        size = html_dest.stat().st_size
        nodes = len(graph.nodes)
        where.write(f"wrote {html_dest} ({size:,} bytes): the lineage graph, {nodes} nodes\n")
    if args.json:
        _print_json(data, out)
    else:
        out.write("\n".join(render(lineage_tree(data, full_code=args.code))) + "\n")
    return 0
