# plugdbg build.
#
# `make plugins` turns every testplugins/<name>/ that has a config.json into a
# Docker-style plugin directory, build/plugins/<name>/{config.json,rootfs/},
# whose rootfs holds nothing but the plugin's static binary.

# go wherever the machine has it (scripts/findgo.sh): under sudo, PATH is
# secure_path, which leaves out /usr/local/go/bin. Found once, when make
# starts; a target that needs go and has none stops with the script's
# one line of advice. GO=/path/to/go overrides it.
ifeq ($(origin GO),undefined)
GO_FIND := $(shell scripts/findgo.sh 2>&1)
GO = $(if $(filter /%,$(firstword $(GO_FIND))),$(GO_FIND),$(error $(GO_FIND)))
endif
BUILD  := build
PREFIX ?= /usr/local

.PHONY: all build install cross plugins clean run test bench bench-logs bench-exec webui bench-webui bench-remote

all: build plugins

# Three binaries. plugdbgd, the daemon, and plugdbgd-monitor, the
# per-plugin monitor that is also each container's init, are linked
# statically, as runc's release binaries are: cgo stays on for
# libcontainer's nsenter, the netgo and osusergo tags keep glibc's NSS out,
# and monitors and inits start without the dynamic loader. plugdbg, the
# client, is pure Go: static without cgo, and it cross-compiles.
# integration/main_test.go builds them with the same flags.
STATIC := -tags netgo,osusergo -ldflags=-extldflags=-static

build: webui
	CGO_ENABLED=1 $(GO) build $(STATIC) -o $(BUILD)/plugdbgd ./cmd/plugdbgd
	CGO_ENABLED=1 $(GO) build $(STATIC) -o $(BUILD)/plugdbgd-monitor ./cmd/plugdbgd-monitor
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BUILD)/plugdbg ./cmd/plugdbg

# The binaries into $(DESTDIR)$(PREFIX)/bin, side by side: `plugdbg daemon`
# runs the plugdbgd beside it, and plugdbgd the plugdbgd-monitor beside it.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/plugdbgd $(BUILD)/plugdbgd-monitor $(BUILD)/plugdbg $(DESTDIR)$(PREFIX)/bin/

# The client for every platform it supports; CI builds them so that a
# client that stops cross-compiling fails. The daemon is Linux only.
CROSS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
cross:
	@set -e; for p in $(CROSS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  echo "plugdbg $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -o $(BUILD)/cross/plugdbg-$$os-$$arch$$ext ./cmd/plugdbg; \
	done

# The web UI bundle the binary embeds (webui/dist), built by esbuild from
# webui/frontend with the packages package-lock.json pins. Without it the
# binary serves a placeholder page, so `go build` and `go test` need no node.
WEBUI_SRC := $(wildcard webui/frontend/src/*) webui/frontend/build.mjs
webui: webui/dist/index.html
webui/frontend/node_modules/.package-lock.json: webui/frontend/package.json webui/frontend/package-lock.json
	cd webui/frontend && npm ci --no-audit --no-fund --loglevel=error
webui/dist/index.html: $(WEBUI_SRC) webui/frontend/node_modules/.package-lock.json
	cd webui/frontend && node build.mjs

# The daemon in the foreground with the example plugins enabled (root).
run:
	scripts/run.sh

# Installs what the tests need, then runs every test (root).
test:
	scripts/test.sh

# Lifecycle timings of plugdbg, and of dockerd where it is installed (root).
bench: build plugins
	GO=$(GO) bench/lifecycle.sh

# The log router under load: loss, follower latency, CPU and memory (root).
bench-logs: build plugins
	GO=$(GO) bench/logs.sh

# Median time of `plugdbg exec PLUGIN true`, beside `runc exec` (root).
bench-exec: build plugins
	bench/exec.sh

# The web UI: write-to-page latency at 100 and 10,000 lines/s, and the
# daemon's memory with 20 pages open (root, chromium).
bench-webui: build plugins
	bench/webui.sh

# The latency an ssh:// host adds to a probe (or ls), with and without a
# ControlMaster, beside the local socket (root, openssh-server).
bench-remote: build plugins
	bench/remote.sh

# The binary is named after the entrypoint in config.json, so the two cannot
# drift apart. This expects the entrypoint array on one line.
PLUGINS := $(patsubst testplugins/%/config.json,%,$(wildcard testplugins/*/config.json))
plugin_bin = $(notdir $(shell sed -n 's/.*"entrypoint": *\[ *"\([^"]*\)".*/\1/p' testplugins/$(1)/config.json))

# Code every plugin links in, beyond its own directory.
PLUGIN_DEPS := go.mod go.sum $(filter-out %_test.go,$(wildcard testplugins/internal/*/*.go))

# plugin_rules,NAME,BINARY: build the binary into a fresh rootfs, so a renamed
# entrypoint leaves no stale binary behind.
define plugin_rules
$(if $(2),,$(error testplugins/$(1)/config.json: no entrypoint found))
plugins: $(BUILD)/plugins/$(1)/rootfs/$(2) $(BUILD)/plugins/$(1)/config.json
$(BUILD)/plugins/$(1)/rootfs/$(2): $(filter-out %_test.go,$(wildcard testplugins/$(1)/*.go)) $(PLUGIN_DEPS)
	rm -rf $$(@D)
	CGO_ENABLED=0 $$(GO) build -trimpath -ldflags '-s -w' -o $$@ ./testplugins/$(1)
endef
$(foreach p,$(PLUGINS),$(eval $(call plugin_rules,$(p),$(call plugin_bin,$(p)))))

$(BUILD)/plugins/%/config.json: testplugins/%/config.json
	@mkdir -p $(@D)
	cp $< $@

clean:
	rm -rf $(BUILD) webui/frontend/node_modules
	find webui/dist -mindepth 1 ! -name README.md -delete
