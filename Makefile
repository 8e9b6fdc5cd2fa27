# bessgym: `make run` (main job on the synthetic market, then the quick leaderboard) and `make test` (ruff +
# pytest) on a fresh machine.
# Both create .venv when missing and install everything with constraints.txt, where torch is pinned.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
# pytest-xdist processes (the 2 cores of CI); a test module (a docs page: a class) stays on one worker, in order
TEST_WORKERS ?= 2
# threads per worker for torch's and the BLAS's pools: two workers with a pool of two threads each spun on each
# other's core (the suite took 9 min 03 s with the default pools, 7 min 33 s with one thread each)
TEST_THREADS ?= 1

.PHONY: install run test test-long lint bench calibrate leaderboard clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, from the pin, so that nothing pulls a CUDA build
	$(PIP) install --quiet -c constraints.txt torch
	$(PIP) install --quiet -c constraints.txt -e ".[dev,ray]"
	# the envs' numba kernels, compiled once into their disk cache (not by each test worker at once)
	$(BIN)/python -m bessgym.envs.precompile
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/bessgym run -c experiments/configs/intraday_clone.yaml --out runs/main
	$(BIN)/bessgym benchmark run --quick --workers 2 --out runs/benchmark-quick

test: $(STAMP)
	$(BIN)/ruff check bessgym agents experiments tests benchmarks scripts
	OMP_NUM_THREADS=$(TEST_THREADS) OPENBLAS_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS) \
		$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=20 \
		-m "not long"

# benchmark truth on 28 days x 3 seeds of every task (tests marked long; about an hour on 2 cores)
test-long: $(STAMP)
	OMP_NUM_THREADS=$(TEST_THREADS) OPENBLAS_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS) \
		$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m long --durations=0

# the published leaderboard: every agent of every task over its whole test market, three seeds, into the committed
# benchmarks/results (resumable: a rerun skips what is there), then docs/leaderboard.md from those files; the
# real-data tasks too where BESSGYM_REAL_DATA names the folder of their files. Days of 2 cores (docs/benchmark.md)
LEADERBOARD_AGENTS ?= all
leaderboard: $(STAMP)
	$(BIN)/bessgym benchmark run --agent $(LEADERBOARD_AGENTS) --workers $(TEST_WORKERS) --out benchmarks/results
	$(BIN)/bessgym benchmark table --out benchmarks/results --readme docs/leaderboard.md

lint: $(STAMP)
	$(BIN)/ruff check bessgym agents experiments tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/lp_speed.py
	$(BIN)/python benchmarks/control_cycle.py
	$(BIN)/python benchmarks/startup.py

calibrate: $(STAMP)
	$(BIN)/bessgym data synth --start 2024-01-01 --end 2025-01-01 --seed 0 --out runs/synthetic_2024.parquet
	$(BIN)/bessgym data calibrate --synthetic runs/synthetic_2024.parquet --png runs/calibration.png

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
