"""kr_keras as a pip package, and the Makefile's set-up of a fresh machine.

The wheel is built offline (`pip wheel --no-build-isolation --no-index`, with
the setuptools of the running environment) from a copy of the package's
sources, installed without index or dependencies into a new venv that sees
this environment's site-packages (TensorFlow etc.) through a `.pth` file, and
used from a directory outside the checkout with no `PYTHONPATH`.
"""

import ast
import importlib.util
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile

import pytest
from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARIES = ("train_teacher", "distill", "evaluate", "tune", "export", "reproduce", "figures", "demo")
SCRIPTS = {f"kr-{b.replace('_', '-')}": f"experiments.{b}:run" for b in BINARIES}
OFFLINE = ("--no-index", "--disable-pip-version-check")


def source_version():
    """`__version__` as written in kr_keras/__init__.py (read, not imported)."""
    with open(os.path.join(ROOT, "kr_keras", "__init__.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("kr_keras/__init__.py sets no __version__")


def clean_env(**extra):
    """This environment without PYTHONPATH: imports must come from the install."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built offline from a copy of what pyproject.toml packages."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("No setuptools in this environment: pip install -r requirements.txt")
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("kr_keras", "experiments"):
        shutil.copytree(os.path.join(ROOT, name), src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", *OFFLINE,
         "-w", str(dist), str(src)],
        cwd=src, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = z.read(f"{info}/METADATA").decode()
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    return names, meta, entry_points


def test_wheel_ships_both_packages_scripts_and_version(wheel):
    names, meta, entry_points = metadata(wheel)
    for binary in BINARIES:
        assert f"experiments/{binary}.py" in names
    assert "kr_keras/__init__.py" in names and "kr_keras/distillers/kr_distiller.py" in names
    assert "experiments/lib/__init__.py" in names and "experiments/lib/training.py" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "docs/"))]
    version = re.search(r"^Version: (.+)$", meta, re.M).group(1)
    assert version == source_version()
    scripts = dict(re.findall(r"^(\S+) = (\S+)$", entry_points.split("[console_scripts]")[1], re.M))
    assert scripts == SCRIPTS


def test_wheel_requirements_match_requirements_txt(wheel):
    """Every range of requirements.txt is a runtime dependency or an extra of
    the package, with the same specifier, and the other way round (`gpu` is
    `tensorflow[and-cuda]` with tensorflow's range)."""
    _, meta, _ = metadata(wheel)
    declared = {}
    for line in re.findall(r"^Requires-Dist: (.+)$", meta, re.M):
        req = Requirement(line)
        extra = re.search(r'extra == "([^"]+)"', str(req.marker)) if req.marker else None
        declared[(req.name, extra.group(1) if extra else None)] = req
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        listed = [Requirement(line.split("#")[0].strip()) for line in f if line.split("#")[0].strip()]
    build_only = {"setuptools", "wheel"}
    listed = {r.name: r.specifier for r in listed if r.name not in build_only}
    runtime = {name: req.specifier for (name, extra), req in declared.items() if extra is None}
    dev = {name: req.specifier for (name, extra), req in declared.items() if extra == "dev"}
    assert {**runtime, **dev} == listed
    gpu = declared[("tensorflow", "gpu")]
    assert gpu.extras == {"and-cuda"} and gpu.specifier == runtime["tensorflow"]


def test_wheel_installs_offline_and_runs_outside_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # This environment's packages (TensorFlow, ...) after the venv's own.
    ours = {*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    with open(os.path.join(purelib, "_kr_keras_test_deps.pth"), "w") as f:
        f.write("\n".join(sorted(ours)) + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", *OFFLINE, str(wheel)],
        env=clean_env(), capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    for script in SCRIPTS:
        assert (venv / "bin" / script).is_file(), script

    # One process (one TensorFlow import): import kr_keras, then run the
    # installed kr-evaluate script file itself with --help.
    script = str(venv / "bin" / "kr-evaluate")
    code = (
        "import importlib.metadata, runpy, sys\n"
        "import kr_keras\n"
        "print('VERSION', kr_keras.__version__, importlib.metadata.version('kr-keras'))\n"
        "print('FILE', kr_keras.__file__)\n"
        "sys.argv = [sys.argv[1], '--help']\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run([python, "-c", code, script], cwd=elsewhere, env=clean_env(),
                         capture_output=True, text=True, timeout=180)
    out = run.stdout + run.stderr
    version = source_version()
    assert f"VERSION {version} {version}" in run.stdout, out
    installed_file = re.search(r"^FILE (.+)$", run.stdout, re.M).group(1)
    assert installed_file.startswith(purelib), out  # the wheel's copy, not the checkout
    # absl's --help exits 1 after printing the binary's docstring and its own
    # flags (listed under the script's path), as `python -m` does.
    with open(os.path.join(ROOT, "experiments", "evaluate.py")) as f:
        summary = ast.get_docstring(ast.parse(f.read())).splitlines()[0]
    assert summary in out, out
    assert re.search(rf"^{re.escape(script)}:\n  --", out, re.M), out
    assert "\n  --model:" in out, out


APPLICATION_ONLY = ("absl", "keras_tuner")


def test_library_imports_nothing_of_the_experiments():
    """No module under kr_keras/ names absl or keras_tuner, at any depth of its code."""
    offenders = []
    for directory, _, files in os.walk(os.path.join(ROOT, "kr_keras")):
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(directory, name)
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{os.path.relpath(path, ROOT)}: {m}" for m in modules
                              if m.split(".")[0] in APPLICATION_ONLY]
    assert not offenders, offenders


def test_every_library_module_imports_without_absl_and_keras_tuner():
    """Imports each kr_keras module in a process where keras_tuner cannot be
    imported at all (a meta-path finder refuses it) and absl cannot be
    imported by kr_keras code (TensorFlow itself imports absl, so an import
    hook refuses it only to importers named kr_keras.*)."""
    code = f"""
import builtins, importlib, importlib.abc, pkgutil, sys
BLOCKED = {APPLICATION_ONLY!r}
class RefuseKerasTuner(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_tuner":
            raise ImportError(f"{{name}} is blocked")
sys.meta_path.insert(0, RefuseKerasTuner())
plain_import = builtins.__import__
def refusing_import(name, globals=None, *args, **kwargs):
    importer = (globals or {{}}).get("__name__", "")
    if importer.split(".")[0] == "kr_keras" and name.split(".")[0] in BLOCKED:
        raise ImportError(f"{{importer}} imports {{name}}")
    return plain_import(name, globals, *args, **kwargs)
builtins.__import__ = refusing_import
import kr_keras
names = ["kr_keras"] + [m.name for m in pkgutil.walk_packages(kr_keras.__path__, "kr_keras.")]
for name in names:
    importlib.import_module(name)
assert "keras_tuner" not in sys.modules
print("IMPORTED", len(names))
"""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "IMPORTED" in run.stdout, run.stdout + run.stderr


def fake_tools(tmp_path, has_ensurepip):
    """A PATH with stub `python`, `apt-get`, `apt-cache` and `sudo`: the stub
    Python lacks ensurepip until the stub apt-get installs a package."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log, marker = tmp_path / "apt.log", tmp_path / "installed"
    if has_ensurepip:
        marker.touch()
    stubs = {
        "python": f"""case "$*" in *ensurepip*) [ -f {marker} ] || exit 1;; esac
exec {sys.executable} "$@"
""",
        "apt-get": f"""echo "apt-get $*" >> {log}
case "$*" in *install*) touch {marker};; esac
""",
        "apt-cache": 'case "$*" in *python3.*-venv*) exit 0;; esac\nexit 100\n',
        "sudo": '"$@"\n',
    }
    for name, body in stubs.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # when run by `make test`
        env.pop(name, None)
    return bin_dir / "python", log, env


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def run_python3_venv_step(tmp_path, has_ensurepip):
    """Runs the Makefile's `python3-venv` step with stand-in tools; returns
    the log of their calls (a path that exists only if one was called)."""
    python, log, env = fake_tools(tmp_path, has_ensurepip=has_ensurepip)
    run = subprocess.run(["make", "-s", "python3-venv", f"PYTHON={python}", f"VENV={tmp_path / 'venv'}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return log


@needs_make
def test_makefile_installs_python3_venv_when_ensurepip_is_missing(tmp_path):
    calls = run_python3_venv_step(tmp_path, has_ensurepip=False).read_text().splitlines()
    ver = "%d.%d" % sys.version_info[:2]
    assert calls[0].startswith("apt-get update"), calls
    assert calls[1].startswith("apt-get install") and calls[1].split()[-2:] == ["python3-venv", f"python{ver}-venv"]


@needs_make
def test_makefile_leaves_apt_alone_when_ensurepip_is_there(tmp_path):
    assert not run_python3_venv_step(tmp_path, has_ensurepip=True).exists()


@needs_make
def test_makefile_setup_checks_ensurepip_before_creating_the_venv(tmp_path):
    python, _, env = fake_tools(tmp_path, has_ensurepip=True)
    venv = tmp_path / "venv"
    plan = subprocess.run(["make", "-n", "setup", f"PYTHON={python}", f"VENV={venv}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    lines = plan.stdout.splitlines()
    check = next(i for i, l in enumerate(lines) if "import ensurepip" in l)
    create = next(i for i, l in enumerate(lines) if f"-m venv {venv}" in l)
    install = next(i for i, l in enumerate(lines) if "pip install" in l and "-e ." in l)
    assert check < create < install, plan.stdout
