# Shegong Academy — `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
SYS_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
TEST_PACKAGES := chromium poppler-utils
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run serve worker test lint bench dist sysdeps testdeps translations bytecode messages clean

## install: system packages when missing, .venv, the project, compiled translations and bytecode
install: sysdeps $(VENV)/.installed translations bytecode

# System libraries WeasyPrint needs, and the CJK fonts of the certificates.
sysdeps:
	@$(call ensure_debs,$(SYS_PACKAGES))

# Chromium for the browser tests, poppler for checking PDFs.
testdeps:
	@$(call ensure_debs,$(TEST_PACKAGES))

define ensure_debs
missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "installing system packages:$$missing"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
  else \
    echo "Missing system packages. Run:"; echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
  fi; \
fi
endef

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $@

# The application's bytecode, as installing a wheel writes it: where PYTHONDONTWRITEBYTECODE is set (as on
# these machines), Python would otherwise compile every module of the app at each start of each process,
# 0.3 s of every `lms` command. Only changed modules are compiled again; a stale file is never used.
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q app migrations wsgi.py >/dev/null

# Compiled only when a catalogue changed: two test runs at once (CI) never rewrite a .mo the other reads.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard app/translations/*/LC_MESSAGES/messages.po))
translations: $(MO_FILES)

app/translations/%/LC_MESSAGES/messages.mo: app/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	@$(BIN)/pybabel -q compile -d app/translations -l $* -i $< -o $@

## run: migrate, load the demo world into an empty database, serve on http://127.0.0.1:5000 with a job worker beside
run: install
	$(FLASK) db upgrade
	$(FLASK) lms demo --if-empty
	@mkdir -p instance
	@$(FLASK) lms worker --concurrency 1 > instance/worker.log 2>&1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	echo "job worker started (log: instance/worker.log)"; \
	$(FLASK) run --host $(HOST) --port $(PORT)

## serve: gunicorn in production mode (LMS_MODE=production; see docs/deploy.md for the variables it needs)
serve: install
	HOST=$(HOST) PORT=$(PORT) LMS_MODE=production $(BIN)/gunicorn -c gunicorn.conf.py

## worker: one job worker (same environment as serve)
worker: install
	$(FLASK) lms worker

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## test: ruff, then the whole pytest suite (browser tests included)
test: install testdeps lint
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

## bench: the benchmarks under bench/, printing figures
bench: install
	@found=0; for b in bench/bench_*.py; do [ -e "$$b" ] || continue; found=1; $(BIN)/python $$b || exit 1; done; \
	[ $$found = 1 ] || echo "no benchmarks yet (they come with the coverage and certificate features)"

## dist: the wheel and sdist in dist/ (templates, designs, content, migrations, translations inside)
dist: install
	rm -rf dist build
	$(BIN)/python -m build --no-isolation --outdir dist .

## messages: refresh the catalogues after changing strings in code or templates
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k N_ --ignore-dirs='.* __pycache__ .venv' -o app/translations/messages.pot .
	$(BIN)/pybabel -q update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache dist build
