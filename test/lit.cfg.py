# lit configuration for BP's test suites (one folder per stage).
import os
import lit.formats

config.name = "BP"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".bp", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "unit"]
config.test_source_root = os.path.dirname(__file__)

bpc = lit_config.params.get("bpc")
if not bpc:
    lit_config.fatal("run lit with --param bpc=/path/to/bpc (ctest does)")
llvm_bin = lit_config.params.get("llvm_bin", "/usr/lib/llvm-19/bin")
python = lit_config.params.get("python", "python3")

config.test_exec_root = lit_config.params.get(
    "exec_root", os.path.join(os.path.dirname(bpc), "..", "test"))
config.substitutions.append(("%bpc", bpc))
config.substitutions.append(("%python", python))
config.substitutions.append(("%bp_runtime", lit_config.params.get(
    "runtime", os.path.join(os.path.dirname(bpc), "..", "runtime", "libbp_runtime.a"))))
config.substitutions.append(("%examples",
                             os.path.join(os.path.dirname(__file__), "..", "examples")))
# The sanitizer pass (tools/sanitize.sh, --param sanitized=1) runs half of
# the random programs of the AD property tests (AD/property.test,
# AD/tensor-property.test: `--count 300 %fuzz_scale`): under ASan they are
# the suite's long pole, and the normal pass runs all of them.
sanitized = lit_config.params.get("sanitized", "0") not in ("", "0", "OFF", "FALSE")
config.substitutions.append(("%fuzz_scale", "--count-scale 0.5" if sanitized else ""))
config.environment["PATH"] = os.pathsep.join(
    [llvm_bin, os.path.dirname(bpc), config.environment.get("PATH", os.environ["PATH"])])
# Deterministic output regardless of the caller's locale.
config.environment["LC_ALL"] = "C"
# Graphviz renders `bpc emit dot --svg`; tests of it need `dot`.
import shutil
if shutil.which("dot"):
    config.available_features.add("dot")
# A headless Chromium opens the page of `bpc train --report`
# (Train/report-browser.test); without it that test is unsupported.
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if chromium:
    config.available_features.add("chromium")
    config.substitutions.append(("%chromium", chromium))
else:
    lit_config.note("chromium not found: Train/report-browser.test is "
                    "skipped (tools/setup.sh installs it)")
# Vectorised libm calls (libmvec) are used on x86-64 GNU/Linux hosts.
import platform
if platform.machine() == "x86_64" and platform.system() == "Linux":
    config.available_features.add("x86_64-linux")

# A bpc built with OpenBLAS calls cblas_dgemm for large matmuls; tests of
# that need it.
import subprocess, tempfile
with tempfile.TemporaryDirectory() as d:
    probe = os.path.join(d, "probe.bp")
    with open(probe, "w") as f:
        f.write("fn f(a: f64[64, 64], b: f64[64, 8]) -> f64[64, 8] { return a @ b }\n")
    try:
        out = subprocess.run([bpc, "emit", "llvm", probe], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    if "cblas_dgemm" in out:
        config.available_features.add("openblas")

# A bpc built with sanitizers (tools/sanitize.sh) has their runtimes first
# in its library list: tests that LD_PRELOAD a shim cannot run on it.
try:
    libs = subprocess.run(["ldd", bpc], capture_output=True, text=True,
                          timeout=60).stdout
except (OSError, subprocess.SubprocessError):
    libs = ""
if "libasan" in libs or "libubsan" in libs:
    config.available_features.add("sanitized")

# The interactive REPL test drives bpc through a pseudo-terminal.
try:
    _m, _s = os.openpty()
    os.close(_m)
    os.close(_s)
    config.available_features.add("pty")
except OSError:
    pass

def python_with(module, feature):
    """The first of the test python and Debian's /usr/bin/python3 that
    imports `module`: sets lit feature `feature` and %<feature>_python."""
    for py in [python, "/usr/bin/python3"]:
        try:
            if subprocess.run([py, "-c", "import " + module],
                              capture_output=True, timeout=120).returncode == 0:
                config.available_features.add(feature)
                config.substitutions.append(("%" + feature + "_python", py))
                return
        except (OSError, subprocess.SubprocessError):
            pass


# `bpc build --python` modules need NumPy (%numpy_python).
python_with("numpy", "numpy")

# Full-filesystem tests mount a small tmpfs (root, and a host that allows
# mounts; CI runs as root).
with tempfile.TemporaryDirectory() as d:
    try:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                          capture_output=True, timeout=30).returncode == 0:
            subprocess.run(["umount", d], capture_output=True, timeout=30)
            config.available_features.add("tmpfs-mount")
    except (OSError, subprocess.SubprocessError):
        pass

# PyTorch (Debian's python3-torch) as the independent oracle of the
# optimisers (%torch_python). CI does not install it (830 MB); tests that
# need it are then reported unsupported.
python_with("torch", "torch")

# `mpirun -np K bpc train` (docs/DISTRIBUTED.md): tests of it need Open
# MPI's mpirun and a bpc built with MPI (ctest passes --param mpi=1 or 0;
# run by hand, the bpc binary is asked which libraries it links). Without
# MPI, the tests of bpc's refusal to run under mpirun have `no-mpi`.
mpi = lit_config.params.get("mpi")
if mpi is None:
    try:
        mpi = "1" if "libmpi" in subprocess.run(
            ["ldd", bpc], capture_output=True, text=True, timeout=60).stdout else "0"
    except (OSError, subprocess.SubprocessError):
        mpi = "0"
if mpi == "1" and shutil.which("mpirun"):
    config.available_features.add("mpi")
if mpi == "0":
    config.available_features.add("no-mpi")
# mpirun as root (CI runs as root) and on more ranks than cores (the
# environment's form of --allow-run-as-root --oversubscribe).
config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
config.environment["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
