.PHONY: sandbox test lint bench docs dist

sandbox:  ## install everything and run the demo shop on http://127.0.0.1:8000/
	scripts/sandbox

test:  ## install everything and run the whole test suite
	scripts/test

lint:
	scripts/test -e lint

docs:  ## build the documentation into docs/_build/html/ (warnings are errors)
	scripts/docs

dist:  ## build the sdist and the wheel into dist/ and check them (twine check, LICENSE)
	scripts/release
