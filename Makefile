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
	requirements-grading.txt tools/build_assignment.py autograder/run_autograder \
	$(wildcard autograder/gradekit/*.py)

.PHONY: help setup data assign autograder student-zip grade test report bench check-generated clean \
	browser

help:
	@echo "make grade     grade every submission in SUBMISSIONS (default: submissions/)"
	@echo "make test      run the kit's test suite"
	@echo "make assign    regenerate the student notebook, solution notebook and zips"
	@echo "make report    catalogue detection report"
	@echo "make bench     grading speed and memory benchmark"
	@echo "make clean     remove the environment and build products"

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

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
