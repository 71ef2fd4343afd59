"""The release's artifacts as scripts/package.sh leaves them in dist/: their names and checksums,
what their binaries link and which glibc they need, and the `stt` archive unpacked and run on a
machine with neither Rust nor the set-up (the SDK suites install the wheel and the npm packages).
"""

import hashlib
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("STT_DIST", REPO / "dist"))
FIXTURES = Path(os.environ.get("STT_FIXTURES", REPO.parent / "shared" / "fixtures" / "audio"))
VERSION = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
ARCH = platform.machine()
TARGET = f"{ARCH}-unknown-linux-gnu"
NODE_ARCH = {"x86_64": "x64", "aarch64": "arm64"}[ARCH]
STT_HOME = Path(os.environ.get("STT_HOME", Path.home() / ".cache" / "stt"))
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."

# What a manylinux_2_28 binary may link (PEP 600's list, less what nothing here uses), and the
# newest glibc symbol version it may ask for.
ALLOWED_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
}
GLIBC_FLOOR = (2, 28)


def artifact(name: str) -> Path:
    path = DIST / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/package.sh", pytrace=False)
    return path


def wheel() -> Path:
    return artifact(f"stt-{VERSION}-cp39-abi3-manylinux_2_28_{ARCH}.whl")


def archive() -> Path:
    return artifact(f"stt-{VERSION}-{TARGET}.tar.gz")


def test_every_artifact_has_the_version_and_its_checksum():
    expected = {
        wheel().name,
        f"stt-{VERSION}.tar.gz",
        f"stt-node-{VERSION}.tgz",
        f"stt-node-linux-{NODE_ARCH}-gnu-{VERSION}.tgz",
        archive().name,
    }
    present = {path.name for path in DIST.iterdir()} - {"SHA256SUMS"}
    assert expected <= present, f"missing: {expected - present}"
    sums = dict(reversed(line.split("  ", 1)) for line in (DIST / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == present
    for name, digest in sums.items():
        assert hashlib.sha256((DIST / name).read_bytes()).hexdigest() == digest, name


def dynamic_needs(binary: Path) -> tuple[set[str], tuple[int, int]]:
    """The libraries `binary` links and the newest GLIBC_x.y symbol version it asks for."""
    dynamic = subprocess.run(["readelf", "-dW", binary], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dynamic))
    symbols = subprocess.run(["readelf", "-VW", binary], capture_output=True, text=True, check=True).stdout
    versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+)", symbols)}
    return needed, max(versions)


def unpack(root: Path, arch: str) -> Path:
    """The binaries of one machine's artifacts, unpacked under `root`."""
    node_arch = {"x86_64": "x64", "aarch64": "arm64"}[arch]
    with tarfile.open(artifact(f"stt-{VERSION}-{arch}-unknown-linux-gnu.tar.gz")) as tar:
        tar.extractall(root, filter="data")
    with zipfile.ZipFile(artifact(f"stt-{VERSION}-cp39-abi3-manylinux_2_28_{arch}.whl")) as whl:
        module = next(name for name in whl.namelist() if name.startswith("stt/_native"))
        whl.extract(module, root / "wheel")
    with tarfile.open(artifact(f"stt-node-linux-{node_arch}-gnu-{VERSION}.tgz")) as tar:
        tar.extractall(root / "npm", filter="data")
    return root


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    return unpack(tmp_path_factory.mktemp("release"), ARCH)


def built_machines() -> list[str]:
    """This machine, and every other one that dist/ has artifacts for (package.sh TARGET...)."""
    others = {path.name.removeprefix(f"stt-{VERSION}-").removesuffix("-unknown-linux-gnu.tar.gz")
              for path in DIST.glob(f"stt-{VERSION}-*-unknown-linux-gnu.tar.gz")}
    return [ARCH] + sorted(others - {ARCH})


def test_the_binaries_need_glibc_2_28_and_nothing_outside_the_manylinux_policy(tmp_path):
    for arch in built_machines():
        root = unpack(tmp_path / arch, arch)
        node_arch = {"x86_64": "x64", "aarch64": "arm64"}[arch]
        binaries = [
            root / f"stt-{VERSION}-{arch}-unknown-linux-gnu" / "stt",
            next((root / "wheel" / "stt").glob("_native*.so")),
            root / "npm" / "package" / f"stt.linux-{node_arch}-gnu.node",
        ]
        machine = {"x86_64": "X86-64", "aarch64": "AArch64"}[arch]
        for binary in binaries:
            header = subprocess.run(["readelf", "-hW", binary], capture_output=True, text=True,
                                    check=True).stdout
            assert re.search(rf"Machine:.*\b{machine}$", header, re.M), f"{binary} is not for {arch}"
            needed, newest = dynamic_needs(binary)
            assert needed <= ALLOWED_LIBRARIES, f"{binary.name} links {needed - ALLOWED_LIBRARIES}"
            assert newest <= GLIBC_FLOOR, f"{binary.name} needs GLIBC_{newest[0]}.{newest[1]}"


def test_the_archive_holds_the_binary_its_runtime_and_the_licences(unpacked):
    names = {path.name for path in (unpacked / f"stt-{VERSION}-{TARGET}").iterdir()}
    assert {"stt", "LICENSE", "README.md", "CHANGELOG.md", "onnxruntime-LICENSE",
            "onnxruntime-ThirdPartyNotices.txt"} <= names
    assert any(re.fullmatch(r"libonnxruntime\.so\.1\.\d+\.\d+", name) for name in names), names


def without_rust_or_python(home: Path) -> dict[str, str]:
    """An environment with no cargo, rustc or Python on the PATH and a cache with models only."""
    kept = [d for d in os.environ["PATH"].split(os.pathsep)
            if not any(shutil.which(tool, path=d) for tool in ("cargo", "rustc", "python3", "python"))]
    env = {key: value for key, value in os.environ.items()
           if key not in ("STT_PYTHON", "STT_ORT_LIB", "ORT_DYLIB_PATH", "PYTHONPATH")}
    return env | {"PATH": os.pathsep.join(kept), "STT_HOME": str(home)}


def test_the_archived_stt_transcribes_on_the_runtime_beside_it(unpacked, tmp_path):
    stt = unpacked / f"stt-{VERSION}-{TARGET}" / "stt"
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    for model in ("base", "silero-vad"):
        (home / "models" / model).symlink_to(STT_HOME / "models" / model)
    env = without_rust_or_python(home)
    version = subprocess.run([stt, "--version"], capture_output=True, text=True, env=env, check=True)
    assert version.stdout.strip() == f"stt {VERSION}"
    result = subprocess.run(
        [stt, "transcribe", "--without-timestamps", "--format", "txt", FIXTURES / "jfk.flac"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == JFK


def test_pulling_without_python_says_what_the_conversion_needs(unpacked, tmp_path):
    stt = unpacked / f"stt-{VERSION}-{TARGET}" / "stt"
    env = without_rust_or_python(tmp_path / "home")
    result = subprocess.run([stt, "models", "pull", "tiny.en"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode != 0
    assert "needs Python 3 with numpy and onnx" in result.stderr, result.stderr
    assert "STT_PYTHON" in result.stderr
