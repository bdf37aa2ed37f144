# backprop-kit: `make grade` grades a folder of submissions; `make test` runs the kit's tests.
# Both set everything up on a fresh clone (virtual environment, data, generated assignment).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUBMISSIONS ?= submissions
RESULTS ?= results
JOBS ?= 2
PYTEST_ARGS ?=

STAMP := build/.assign-stamp
SOURCES := solutions/backprop_master.py $(wildcard assignment/*.py) \
	assignment/README.md assignment/requirements.txt \
	requirements/grading.in requirements/grading.txt tools/build_assignment.py \
	autograder/run_autograder autograder/setup.sh $(wildcard autograder/gradekit/*.py) \
	$(wildcard autograder/gradekit/checks/*.py)

.PHONY: help setup lock data assign autograder student-zip grade test report bench check-generated clean \
	browser

help:
	@echo "make grade     grade every submission in SUBMISSIONS (default: submissions/)"
	@echo "make test      run the kit's test suite"
	@echo "make assign    regenerate the student notebook, solution notebook and zips"
	@echo "make report    catalogue detection report"
	@echo "make bench     grading speed and memory benchmark"
	@echo "make lock      re-resolve requirements/*.txt from requirements/*.in (network)"
	@echo "make clean     remove the environment and build products"

# The environment: the grading lock (what Gradescope's image installs) and the dev tools on top,
# every file checked against its hash. An unsupported Python stops here, naming the range.
LOCKED_INSTALL := -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
	--only-binary=:all:
$(VENV)/.installed: requirements/grading.txt requirements/dev.txt autograder/gradekit/python_version.py
	$(PYTHON) autograder/gradekit/python_version.py
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) $(LOCKED_INSTALL) -r requirements/grading.txt
	$(PY) $(LOCKED_INSTALL) -r requirements/dev.txt
	touch $@

# One command re-resolves both locks (universal: every platform's and Python version's files).
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --generate-hashes --fork-strategy \
	fewest --python-version $$($(PY) autograder/gradekit/python_version.py --oldest) \
	--custom-compile-command "make lock"
lock: | $(VENV)/.installed
	$(UV_COMPILE) requirements/grading.in --excludes requirements/not-imported.txt \
		-o requirements/grading.txt
	$(UV_COMPILE) requirements/dev.in --constraints requirements/grading.txt -o requirements/dev.txt

setup: $(VENV)/.installed

data/mnist.npz: data/fetch_mnist.py | $(VENV)/.installed
	$(PY) data/fetch_mnist.py

data: data/mnist.npz

$(STAMP): $(SOURCES) data/mnist.npz | $(VENV)/.installed
	$(PY) tools/build_assignment.py
	@mkdir -p build && touch $@

assign autograder student-zip: $(STAMP)

grade: $(STAMP)
	$(PY) tools/grade_folder.py $(SUBMISSIONS) --out $(RESULTS) --jobs $(JOBS)

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Headless Chromium (Debian's package) renders the class report in the tests. Where it cannot be
# installed (no apt-get, not root), the rendering test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && export DEBIAN_FRONTEND=noninteractive && { apt-get install -y -q chromium >/dev/null \
	  || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } \
	  || echo "chromium not installed: the class report's rendering test will be skipped"

report: $(STAMP)
	$(PY) tools/catalogue_report.py

bench: $(STAMP)
	$(PY) tools/bench.py

check-generated: $(STAMP)
	$(PY) tools/build_assignment.py --check

clean:
	rm -rf $(VENV) build results data/mnist.npz autograder/autograder.zip assignment/backprop-student.zip
