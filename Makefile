# Two commands for a fresh clone (Python 3.11 and pip only):
#   make demo   creates .venv if needed, installs, runs `python -m dynamic_inference demo`
#   make test   installs if needed, then ruff, pytest tests/ and pytest --nbval notebooks/
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install data demo test lint unit notebooks clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# MiniActions videos are not in git: materialise them from the recipe (about 2 min, once)
data: $(STAMP)
	$(PY) -c "from dynamic_inference.data.mini import ensure_mini; ensure_mini()"

demo: data
	$(PY) -m dynamic_inference demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

unit: data
	$(PY) -m pytest tests/ -q -n auto --dist loadscope

# pytest exits 5 when it collects nothing (no notebooks yet): that is not a failure.
notebooks: data
	$(PY) -m pytest --nbval notebooks/ -q -n auto --dist loadfile --nbval-sanitize-with notebooks/sanitize.cfg; \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "no notebooks collected"; exit 0; fi; exit $$rc

test: lint unit notebooks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
