# Two commands do everything on a fresh machine with Python 3.11:
#   make book   build the course book into _build/html  (creates .venv, installs, gets the data)
#   make test   run every test: lint (ruff), unit tests, notebooks (nbval), strict book build, browser check
# and one to regenerate the students' copy after editing notebooks/src (commit the result):
#   make student  write notebooks/student/NN_name.ipynb: exercises as stubs, no solutions
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export NO_ALBUMENTATIONS_UPDATE := 1
# A copy of the data beside the checkout (as in CI) is used as is; otherwise the user cache.
SHARED_DATA := $(abspath ../shared/data/isbi2012)
ifeq ($(ATTNLIB_DATA),)
  ifneq ($(wildcard $(SHARED_DATA)/SHA256SUMS),)
    export ATTNLIB_DATA := $(SHARED_DATA)
  endif
endif

.PHONY: venv data book test student clean
venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

data: venv  ## verify the ISBI 2012 files (ATTNLIB_DATA), or download them into the user cache
	$(BIN)/python -m attnlib data

book: data
	$(BIN)/jupyter-book build book

test: data
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

student: venv  ## the student edition; the instructor one: scripts/nb.py build NAME --execute
	$(BIN)/python scripts/nb.py student

clean:
	rm -rf _build .pytest_cache
