"""Benchmark: how long `flask --app wsgi lms …` takes to start, beside the floor `python -c "import flask"`.

Target (issue 16): the lms command starts in ≤ 0.5 s. Each round runs, one after the other, the
floor, Flask's own command line with no app (its plugins loaded), the app factory alone, two
cheap commands (``lms --help``, ``lms report --help``: the group is a plugin command, so they load
no application) and one that loads the application and reads the database (``lms db current``):
interleaved, so a busy moment of the machine touches them all alike. Printed: the median wall and
processor time of each, and their ratio to the floor. The app runs in the embedded mode with a
scratch instance folder. The app's bytecode is what ``make install`` compiled (``make bench`` runs it
first): without it, where PYTHONDONTWRITEBYTECODE is set, every start compiles the app's modules again
(``lms db current`` 1.47 s instead of 1.08 s on the machine of 2026-12-02).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ROUNDS = 5
TARGET_S = 0.5

COMMANDS = {
    "floor: python -c 'import flask'": [sys.executable, "-c", "import flask"],
    "flask --help (no app)": [str(BIN / "flask"), "--help"],
    "create_app()": [sys.executable, "-c", "from shegong_academy import create_app; create_app()"],
    "flask --app wsgi lms --help": [str(BIN / "flask"), "--app", "wsgi", "lms", "--help"],
    "flask --app wsgi lms report --help": [str(BIN / "flask"), "--app", "wsgi", "lms", "report", "--help"],
    "flask --app wsgi lms db current": [str(BIN / "flask"), "--app", "wsgi", "lms", "db", "current"],
}
CLI = ("flask --app wsgi lms --help", "flask --app wsgi lms report --help")


def _run(args: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Run one command; return its wall and processor time (user + system) in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        print(f"{' '.join(args)} failed: {result.stderr.decode()[-400:]}", file=sys.stderr)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LMS_", "FLASK_"))}
        env["LMS_INSTANCE_PATH"] = f"{tmp}/instance"
        no_app = Path(tmp) / "empty"  # `flask --help` there finds no app to load
        no_app.mkdir()
        cwd = {name: no_app if "no app" in name else ROOT for name in COMMANDS}
        _run(COMMANDS[CLI[0]], env, ROOT)  # warm-up: the files in the page cache, the instance folder made
        walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
        cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(ROUNDS):
            for name, args in COMMANDS.items():
                wall, cpu = _run(args, env, cwd[name])
                walls[name].append(wall)
                cpus[name].append(cpu)
    floor = next(iter(COMMANDS))
    floor_wall = statistics.median(walls[floor])
    print(f"start-up, median of {ROUNDS} interleaved runs (wall / processor time, ratio to the floor's wall):")
    for name in COMMANDS:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"  {name:<36} {wall:6.2f} s / {cpu:5.2f} s  {wall / floor_wall:5.1f}x")
    for name in CLI:
        wall = statistics.median(walls[name])
        verdict = "met" if wall <= TARGET_S else "NOT met"
        print(f"{name}: {wall:.2f} s (target <= {TARGET_S} s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
