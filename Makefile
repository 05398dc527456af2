# Till — build, run and test.
#
# The two set-up commands in the README are `make run` and `make test`. Each
# installs the Debian/Ubuntu packages it is missing (cgo headers for Fyne and
# gousb; Xvfb for tests that open a real window) before it builds, so a fresh
# machine with Go and apt needs no other step.

GO ?= go
# The reachable module proxy is a filtered mirror: fail clearly on a miss
# rather than falling back to git.
export GOPROXY ?= https://proxy.golang.org
export CGO_ENABLED := 1
# Every build trims its paths: release binaries carry no build machine's
# paths, and the dependencies `go vet` compiles are the very ones the Linux
# package build links (a cold CI run compiles Fyne once for both, not twice).
export GOFLAGS ?= -trimpath
# Scratch space for the screenshot and cold-start runs.
TMPDIR_TILL ?= /tmp/till-make

# Headers and tools the cgo builds need: GLFW (X11 and Wayland back ends),
# OpenGL, and libusb for gousb.
BUILD_DEBS := gcc pkg-config libc6-dev libgl1-mesa-dev libx11-dev libxcursor-dev \
	libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev libxkbcommon-dev \
	libwayland-dev libusb-1.0-0-dev
# A virtual display for tests that open a real window, and a software GL.
TEST_DEBS := $(BUILD_DEBS) xvfb xauth libgl1-mesa-dri

# apt_ensure installs the listed packages that are not installed yet. It does
# nothing where dpkg is absent (macOS, Windows), where the toolchain's own
# packages are expected instead.
define apt_ensure
	@if command -v dpkg-query >/dev/null 2>&1; then \
	  missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	  if [ -n "$$missing" ]; then \
	    echo "Installing missing packages:" $$missing; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	fi
endef

# The version stamped into binaries and packages: the nearest v* tag
# (v1.2.3 → 1.2.3; commits after it → 1.2.3-4-gabcdef), else 0.0.0-dev.
VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo "$${v\#v}" || echo 0.0.0-dev)
LDFLAGS_VERSION := -X github.com/tillpos/till/app.Version=$(VERSION)
# Where `make dist` puts the artifacts.
DIST ?= dist

.PHONY: run test deps-build deps-test build vet lint unit bench storebench screenshots coldstart \
	dist dist-linux dist-windows dist-verify

## run: install build dependencies, then run Till on its embedded defaults
## (built-in sandbox API, simulated reader), apart from any shop set-up.
## `go run .` instead starts the first-run wizard on a new machine.
run: deps-build
	$(GO) run -ldflags "$(LDFLAGS_VERSION)" . -demo

## test: install test dependencies, then go vet, staticcheck and the race-enabled tests.
test: deps-test vet lint unit

deps-build:
	$(call apt_ensure,$(BUILD_DEBS))

deps-test:
	$(call apt_ensure,$(TEST_DEBS))

build: deps-build
	$(GO) build -ldflags "$(LDFLAGS_VERSION)" -o till .

## dist: the installers this Linux machine can build — the Linux tarball
## and .deb, the Windows exe and MSI (signed) — in $(DIST)/. The macOS
## .app and .dmg need a Mac: assets/packaging/macos/build.sh.
dist: dist-linux dist-windows

dist-linux: deps-build
	VERSION=$(VERSION) OUT=$(DIST) assets/packaging/linux/build.sh

dist-windows:
	VERSION=$(VERSION) OUT=$(DIST) assets/packaging/windows/build.sh

## dist-verify: inspect and install what dist built (CI runs it; as root,
## for the throwaway Debian root the .deb is installed into).
dist-verify:
	VERSION=$(VERSION) OUT=$(DIST) assets/packaging/linux/verify.sh
	VERSION=$(VERSION) OUT=$(DIST) assets/packaging/windows/verify.sh

vet:
	$(GO) vet ./...

lint:
	$(GO) tool staticcheck ./...

# Tests run under a virtual X display so the ones that open a real window
# can; the rest do not notice it.
unit:
	mkdir -p /tmp/till-xdg && chmod 700 /tmp/till-xdg
	XDG_RUNTIME_DIR=/tmp/till-xdg xvfb-run -a $(GO) test -race -timeout 20m ./...

## bench: the package benchmarks (figures go in closing notes, never in tests).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## storebench: the store's percentile table (sale commit vs raw bbolt floor, …).
storebench:
	$(GO) run ./cmd/till-storebench

## screenshots: the real app under Xvfb on the embedded default rings up a
## sale (cart, card, decline, receipt, then offline) and saves each screen
## in docs/screenshots/.
screenshots: deps-test
	$(call apt_ensure,imagemagick)
	$(GO) build -o $(TMPDIR_TILL)/till .
	mkdir -p /tmp/till-xdg && chmod 700 /tmp/till-xdg
	rm -rf $(TMPDIR_TILL)/shots && mkdir -p $(TMPDIR_TILL)/shots
	XDG_RUNTIME_DIR=/tmp/till-xdg XDG_CONFIG_HOME=$(TMPDIR_TILL)/shots xvfb-run -a -s "-screen 0 1366x768x24" \
	  $(TMPDIR_TILL)/till -screenshots docs/screenshots -db $(TMPDIR_TILL)/shots/till.db -config $(TMPDIR_TILL)/shots/config.json

## coldstart: process start to first frame on the embedded default, a
## fresh data directory each run (under Xvfb).
coldstart: deps-test
	$(GO) build -o $(TMPDIR_TILL)/till .
	mkdir -p /tmp/till-xdg && chmod 700 /tmp/till-xdg
	XDG_RUNTIME_DIR=/tmp/till-xdg xvfb-run -a -s "-screen 0 1366x768x24" $(GO) run ./cmd/till-coldstart -bin $(TMPDIR_TILL)/till -runs 5
