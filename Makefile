.PHONY: test bench lint

test:
	.venv/bin/pytest

bench:
	.venv/bin/python -m bench.run

lint:
	.venv/bin/ruff check src tests bench alembic && .venv/bin/ruff format --check src tests bench alembic && .venv/bin/mypy
