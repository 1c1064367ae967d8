"""The `mvclass` command. Each subcommand lives in its own module of this package and
exposes ``register(subparsers)``, which adds its parser and sets ``func`` (args -> exit code)."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 ("5", not "5.0", "-5" or "five")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def writable_dir(path) -> "Path":
    """Create ``path`` (and parents) if needed and check that files can be written there, so that a
    command fails before its work rather than after it."""
    import tempfile
    from pathlib import Path

    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".mvclass-write-test-"):
            pass
    except OSError as e:
        raise ValueError(f"output directory {out} is not writable ({e.strerror or e})") from None
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mvclass", description=__import__("mvclass").__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mvclass {__import__('mvclass').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (OSError, ValueError) as e:  # user errors (missing or unwritable files too): one line, no traceback
        print(f"mvclass {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line and the shell's 128 + SIGINT
        print(f"mvclass {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
