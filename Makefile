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
	$(wildcard autograder/gradekit/checks/*.py) tools/generated_prose.py \
	autograder/mnist_measured.json README.md autograder/GRADING.md

.PHONY: help setup lock data assign autograder student-zip grade test lint question report \
	bench check-generated clean browser container-tools

help:
	@echo "make grade     grade every submission in SUBMISSIONS (default: submissions/)"
	@echo "make test      run the kit's test suite (and make lint)"
	@echo "make lint      ruff check (rules in ruff.toml)"
	@echo "make assign    regenerate the student notebook, solution notebook and zips"
	@echo "make question  scaffold a new question (see tools/new_question.py)"
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
	$(UV_COMPILE) requirements/student.in --excludes requirements/student-not-imported.txt \
		--constraints requirements/grading.txt -o assignment/requirements.txt

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

test: $(STAMP) browser container-tools lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The linter's rules are in ruff.toml.
lint: | $(VENV)/.installed
	$(VENV)/bin/ruff check .

# Headless Chromium (Debian's package) renders the class report in one test. `make test` says
# what it does: uses the one on PATH, installs it with apt-get (as root), or skips with the
# reason, and then that test is skipped and says why. NO_BROWSER=1 never installs it.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  echo "browser: using $$(command -v chromium || command -v chromium-browser) to render the class report in the tests"; \
	elif [ -n "$(NO_BROWSER)" ]; then \
	  echo "browser: not installing Chromium (NO_BROWSER is set): the class report's rendering test will be skipped"; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: not installing Chromium (needs root and apt-get): the class report's rendering test will be skipped"; \
	else \
	  echo "browser: installing Debian's chromium package with apt-get to render the class report in the tests; NO_BROWSER=1 skips this"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
	  || echo "browser: apt-get could not install chromium: the class report's rendering test will be skipped"; \
	fi

# Scaffold a question (tools/new_question.py says what it writes), e.g.
#   make question ID=tanh_derivative TITLE="the tanh derivative" POINTS=5 FROM=q3 \
#        EXPRESSION="1 - np.tanh(z) ** 2"
question: | $(VENV)/.installed
	$(PY) tools/new_question.py $(ID) --title "$(TITLE)" --points $(POINTS) --take-from $(FROM) \
		--expression "$(EXPRESSION)" $(if $(AFTER),--after $(AFTER))

# runc and debootstrap (Debian's packages) build and run the Gradescope-like container of
# tests/test_container.py and `make bench`. Where they cannot be installed (no apt-get, not
# root), that test and bench section are skipped and say why.
CONTAINER_TOOLS := runc debootstrap
container-tools:
	@command -v runc >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && export DEBIAN_FRONTEND=noninteractive \
	  && echo "installing $(CONTAINER_TOOLS) with apt-get: the Gradescope-like container test needs them" \
	  && { apt-get install -y -q $(CONTAINER_TOOLS) >/dev/null || { apt-get update -q >/dev/null \
	  && apt-get install -y -q $(CONTAINER_TOOLS) >/dev/null; }; }; } \
	  || echo "$(CONTAINER_TOOLS) not installed: the container test will be skipped"

report: $(STAMP)
	$(PY) tools/catalogue_report.py

bench: $(STAMP) container-tools
	$(PY) tools/bench.py

check-generated: $(STAMP)
	$(PY) tools/build_assignment.py --check

clean:
	rm -rf $(VENV) build results data/mnist.npz autograder/autograder.zip assignment/backprop-student.zip
