"""The command line: `python -m stt_models pull NAME --home DIR` and
`python -m stt_models convert CT2_DIR OUT_DIR` (see the package doc)."""

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

from . import Failure, log  # noqa: E402
from . import __doc__ as PACKAGE_DOC  # noqa: E402
from .convert import convert_into  # noqa: E402
from .layout import is_complete  # noqa: E402
from .pull import KNOWN_MODELS, pull  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stt_models", description=PACKAGE_DOC.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pull_cmd = commands.add_parser("pull", help="download and convert a known model")
    pull_cmd.add_argument("name", help=" | ".join(sorted(KNOWN_MODELS)))
    pull_cmd.add_argument("--home", default=os.path.join("~", ".cache", "stt"), help="data directory")
    convert_cmd = commands.add_parser("convert", help="convert a CTranslate2 Whisper directory")
    convert_cmd.add_argument("ct2_dir")
    convert_cmd.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "pull":
            print(pull(args.name, args.home))
        else:
            if os.path.exists(args.out_dir) and os.listdir(args.out_dir):
                if not is_complete(args.out_dir):
                    raise Failure(f"{args.out_dir} exists and is not an stt model directory; remove it first")
                log(f"replacing {args.out_dir}")
            convert_into(args.ct2_dir, args.out_dir)
            print(os.path.abspath(args.out_dir))
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
