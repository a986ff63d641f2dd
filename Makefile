# Thin wrappers over CMake presets (see CMakePresets.json). PRESET=release|debug|asan|tsan.
PRESET ?= release
BUILD := build/$(PRESET)
JOBS ?= $(shell nproc)

.PHONY: all setup configure build test unit integration demo demo-offline bench format format-check clean

all: build

setup:
	@scripts/setup

configure: setup
	@test -f $(BUILD)/build.ninja || cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# Unit and integration tests. Each integration test starts its own server: mongo-java-server,
# or FerretDB with HA_TEST_SERVER=ferretdb (docs/TEST-SERVERS.md). They mostly wait on timers and
# on the server, so they run TEST_JOBS at a time (default 4) whatever the number of cores.
TEST_JOBS ?= 4

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS) $(CTEST_ARGS)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

integration: build
	@cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS) -L integration

# Only what the demo needs: scripts/setup --demo, the health-analytics target, its local server.
demo:
	@PRESET=$(PRESET) scripts/demo $(DEMO_ARGS)

demo-offline: build
	@scripts/demo-offline $(BUILD)/health-analytics

bench: build
	@$(BUILD)/ha_bench

# Every C++ file in git, formatted by Debian's clang-format (.clang-format).
FORMAT_FILES = $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'bench/*.h' 'fuzz/*.cc' 'fuzz/*.h')

format:
	@clang-format -i $(FORMAT_FILES)

# Fails (and names the files) when a file is not clang-format clean; CI runs it.
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	@rm -rf build

# The Python package (pyproject.toml, python/): the venv .venv with the pinned toolchain
# (python/requirements.txt, installed once), the CLI (tests compare against it), the package
# built and installed from this tree, then pytest (python/tests): every test, the Spark tests
# (marked spark) and the standalone cluster test (marked cluster) included. PYTEST_ARGS selects:
# '-m "not spark"' leaves out everything that starts a JVM, '-m "not cluster"' the cluster test,
# '-m cluster' runs it alone. The wheel's C++ build uses CMAKE_CXX_COMPILER_LAUNCHER (ccache)
# from the environment, as the C++ build does.
VENV ?= .venv
PYTEST_ARGS ?=
.PHONY: python-test
python-test: configure
	@cmake --build $(BUILD) -j $(JOBS) --target health-analytics
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@cmp -s python/requirements.txt $(VENV)/.requirements || { \
	  $(VENV)/bin/pip install -q -r python/requirements.txt && \
	  cp python/requirements.txt $(VENV)/.requirements; }
	@$(VENV)/bin/pip install -q --no-build-isolation -Ccmake.define.HA_WERROR=ON .
	@HA_BINARY=$(BUILD)/health-analytics $(VENV)/bin/pytest $(PYTEST_ARGS)
