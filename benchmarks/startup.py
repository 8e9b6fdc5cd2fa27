"""Start-up cost of a new user's first commands: ``import bessgym`` and ``bessgym --help`` in a fresh interpreter
(targets 1 s and 1.5 s), beside ``import bessgym.envs.core`` (the compiled kernels, loaded from numba's on-disk
cache after the first run) for scale.

    python benchmarks/startup.py            # best of 5 fresh processes each
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

COMMANDS = {
    "import bessgym": [sys.executable, "-c", "import bessgym"],
    "bessgym --help": [sys.executable, "-m", "experiments.cli", "--help"],
    "import bessgym.envs.core (kernels)": [sys.executable, "-c", "import bessgym.envs.core"],
}
TARGETS_S = {"import bessgym": 1.0, "bessgym --help": 1.5}


def wall_s(command: list[str], repeat: int) -> float:
    """Best wall time of ``repeat`` fresh processes [s] (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    script = shutil.which("bessgym")
    if script:  # the console script itself, as a user types it
        COMMANDS["bessgym --help"] = [script, "--help"]
    for name, command in COMMANDS.items():
        wall_s(command, 1)  # warm the file cache and numba's kernel cache
        target = f"  (target {TARGETS_S[name]:g} s)" if name in TARGETS_S else ""
        print(f"{name:<36} {wall_s(command, args.repeat):6.2f} s{target}")


if __name__ == "__main__":
    main()
