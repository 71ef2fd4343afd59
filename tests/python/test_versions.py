"""One version for the whole release: the workspace's (`[workspace.package]` in Cargo.toml) is
every crate's and the wheel's (maturin reads it from Cargo), and must be the npm package's, the
newest CHANGELOG entry's and `stt --version`'s. The SDK suites check `stt.__version__` and the
Node `version`; tests/release the artifacts' names.
"""

import json
import re
import subprocess
import tomllib

from stt_testing import REPO

WORKSPACE = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]
VERSION = WORKSPACE["package"]["version"]


def test_every_crate_takes_the_workspace_version():
    for member in WORKSPACE["members"]:
        package = tomllib.loads((REPO / member / "Cargo.toml").read_text())["package"]
        assert package["version"] == {"workspace": True}, member


def test_the_wheel_takes_its_version_from_cargo():
    project = tomllib.loads((REPO / "stt-py" / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


def test_the_npm_package_has_the_workspace_version():
    assert json.loads((REPO / "stt-node" / "package.json").read_text())["version"] == VERSION


def test_the_newest_changelog_entry_is_the_workspace_version():
    entries = re.findall(r"^## (\S+)", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert entries and entries[0] == VERSION, entries[:1]


def test_stt_version_prints_it():
    printed = subprocess.run([REPO / "target" / "release" / "stt", "--version"], capture_output=True,
                             text=True, check=True).stdout
    assert printed.strip() == f"stt {VERSION}"
