.PHONY: sandbox test lint bench

sandbox:  ## install everything and run the demo shop on http://127.0.0.1:8000/
	scripts/sandbox

test:  ## install everything and run the whole test suite
	scripts/test

lint:
	scripts/test -e lint
