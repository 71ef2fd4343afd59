"""The command line: `python -m stt_models pull NAME --home DIR` and
`python -m stt_models import SOURCE --home DIR [--name NAME] [--precision P]` (see the
package doc)."""

import argparse
import os
import sys

try:  # before the modules that need them, so that a missing package is one clear line
    import numpy  # noqa: F401
    import onnx  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    sys.stderr.write(
        f"error: stt_models needs numpy, onnx and onnxruntime ({exc}); "
        "install them with: python -m pip install numpy onnx onnxruntime\n"
    )
    sys.exit(1)

from . import Failure  # noqa: E402
from . import __doc__ as PACKAGE_DOC  # noqa: E402
from .convert import PRECISION_SUFFIXES  # noqa: E402
from .importer import import_model  # noqa: E402
from .pull import KNOWN_MODELS, pull  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stt_models", description=PACKAGE_DOC.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pull_cmd = commands.add_parser("pull", help="download and convert a known model")
    pull_cmd.add_argument("name", help=" | ".join(sorted(KNOWN_MODELS)))
    import_cmd = commands.add_parser("import", help="install a Whisper model the user already has")
    import_cmd.add_argument("source", help="a CTranslate2, transformers or ONNX directory, or owner/name in the HF cache")
    import_cmd.add_argument("--name", help="installed name (default: from the source, e.g. large-v3)")
    import_cmd.add_argument("--precision", choices=list(PRECISION_SUFFIXES),
                            help="only this precision (default: the checkpoint's own, and int8)")
    for command in (pull_cmd, import_cmd):
        command.add_argument("--home", default=os.path.join("~", ".cache", "stt"), help="data directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "pull":
            print(pull(args.name, args.home))
        else:
            print(import_model(args.source, args.home, args.name, args.precision))
    except Failure as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the CLI, whatever went wrong
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
