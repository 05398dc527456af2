#!/usr/bin/env bash
# build.sh — build Till for macOS: a universal (arm64 + x86_64) Till.app in a
# .dmg, needing nothing installed on the user's Mac.
#
# *** This script runs on a macOS host only. It has NOT been built or run on
# *** the Linux machines this repository is developed on (macOS cannot be
# *** cross-built there: no clang for Darwin, no SDK). It was checked with
# *** `bash -n` and shellcheck only; the first run on a Mac is its first test.
#
# Steps (each prints what it does):
#   1. libusb, built from its release tarball (checksum pinned) for arm64 and
#      for x86_64 as static libraries, so the app links it in;
#   2. `go build` per architecture with CGO_ENABLED=1, the version stamped;
#   3. `lipo -create` of the two into one universal binary;
#   4. `go tool fyne package -os darwin -exe <universal binary>`: Till.app
#      (Info.plist and icon from FyneApp.toml);
#   5. codesign: with $MACOS_SIGN_IDENTITY (a "Developer ID Application: …"
#      identity in the login keychain) and the hardened runtime, else ad hoc;
#      optional notarisation with $MACOS_NOTARY_PROFILE, a keychain profile
#      made once with `xcrun notarytool store-credentials` (so no password is
#      ever on a command line);
#   6. `hdiutil create`: $OUT/till-$VERSION-macos-universal.dmg holding
#      Till.app and an Applications symlink.
#
# Run from the repository root:
#   VERSION=1.2.3 OUT=dist assets/packaging/macos/build.sh
# Needs: Xcode or the Command Line Tools (xcode-select --install), Go 1.26+,
# curl, make. See README.md beside this script.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'macos/build.sh: error: %s\n' "$*" >&2
	exit 1
}

[[ -f go.mod && -f assets/packaging/macos/build.sh ]] || die "run from the repository root"
[[ $(uname -s) == Darwin ]] || die "this script builds on macOS only (this is $(uname -s)); see its header"

VERSION=${VERSION:-0.0.0-dev}
OUT=${OUT:-dist}
GO=${GO:-go}
# Go 1.26 itself needs macOS 12 (Monterey) or later.
export MACOSX_DEPLOYMENT_TARGET=${MACOSX_DEPLOYMENT_TARGET:-12.0}
LIBUSB_VERSION=1.0.27
LIBUSB_SHA256=ffaa41d741a8a3bee244ac8e54a72ea05bf2879663c098c82fc5757853441575
LIBUSB_URL=https://github.com/libusb/libusb/releases/download/v$LIBUSB_VERSION/libusb-$LIBUSB_VERSION.tar.bz2
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
export CGO_ENABLED=1

[[ $VERSION =~ ^v?[0-9]+(\.[0-9]+)*([-+~._A-Za-z0-9]*)$ ]] ||
	die "VERSION '$VERSION' is not a version like 1.2.3, 0.0.0-dev or 1.2.3-4-gabcdef"
# fyne's --app-version (CFBundleShortVersionString) takes x.y.z only.
if [[ ${VERSION#v} =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
	appver="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
else
	appver=0.0.0
fi

# ---- Tools -------------------------------------------------------------------
xcode-select -p >/dev/null 2>&1 ||
	die "no Xcode command line tools: run 'xcode-select --install', then run this again"
for tool in clang lipo codesign hdiutil curl make shasum; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (it comes with macOS or the Xcode command line tools)"
done
command -v "$GO" >/dev/null 2>&1 || die "Go not found: install Go 1.26 or newer from https://go.dev/dl/"
sdk=$(xcrun --sdk macosx --show-sdk-path) || die "no macOS SDK found by xcrun"
log "clang $(clang --version | head -n1); SDK $sdk; Go $("$GO" env GOVERSION); deployment target $MACOSX_DEPLOYMENT_TARGET"

repo=$(pwd -P)
mkdir -p "$OUT"
out=$(cd "$OUT" && pwd -P)
work=$(mktemp -d "${TMPDIR:-/tmp}/till-macos.XXXXXX")
trap 'rm -rf "$work"' EXIT
jobs=$(sysctl -n hw.ncpu 2>/dev/null || echo 2)

# ---- 1. libusb, static, per architecture ------------------------------------
log "fetching libusb $LIBUSB_VERSION"
curl -fsSL --retry 3 -o "$work/libusb.tar.bz2" "$LIBUSB_URL"
echo "$LIBUSB_SHA256  $work/libusb.tar.bz2" | shasum -a 256 -c - >/dev/null ||
	die "libusb tarball checksum mismatch (want $LIBUSB_SHA256)"

# build_libusb ARCH (arm64|x86_64): static libusb in $work/libusb-ARCH.
build_libusb() {
	local arch=$1 host
	case $arch in
	arm64) host=aarch64-apple-darwin ;;
	x86_64) host=x86_64-apple-darwin ;;
	*) die "unknown arch $arch" ;;
	esac
	log "building libusb for $arch (static)"
	rm -rf "$work/src-$arch"
	mkdir "$work/src-$arch"
	tar -xjf "$work/libusb.tar.bz2" -C "$work/src-$arch" --strip-components=1
	(
		cd "$work/src-$arch"
		./configure --quiet --host="$host" --prefix="$work/libusb-$arch" \
			--enable-static --disable-shared --disable-dependency-tracking \
			CC="clang -arch $arch" \
			CFLAGS="-O2 -mmacosx-version-min=$MACOSX_DEPLOYMENT_TARGET -isysroot $sdk"
		make -j"$jobs" >/dev/null
		make install >/dev/null
	) || die "libusb build for $arch failed"
	[[ -f $work/libusb-$arch/lib/libusb-1.0.a ]] || die "no libusb-1.0.a for $arch"
}

# gousb asks `pkg-config libusb-1.0` for its flags. This one-package
# pkg-config answers with the static archive and the frameworks libusb needs
# on macOS (its Libs.private), so no pkg-config or Homebrew is needed and the
# binary never references a libusb dylib.
write_pkg_config() {
	cat >"$work/pkg-config" <<'EOF'
#!/bin/sh
# pkg-config for libusb-1.0 only, static; prefix from $TILL_LIBUSB_PREFIX.
want=""
for a in "$@"; do
	case $a in
	--cflags) want=cflags ;;
	--libs) want=libs ;;
	--modversion) want=version ;;
	--exists | --print-errors | --short-errors | --static | --) ;;
	libusb-1.0) ;;
	*) echo "pkg-config (till, macOS): unsupported argument $a" >&2; exit 1 ;;
	esac
done
case $want in
cflags) echo "-I$TILL_LIBUSB_PREFIX/include/libusb-1.0" ;;
libs) echo "$TILL_LIBUSB_PREFIX/lib/libusb-1.0.a -lobjc -framework IOKit -framework CoreFoundation -framework Security" ;;
version) echo "@LIBUSB_VERSION@" ;;
esac
EOF
	sed -i '' "s/@LIBUSB_VERSION@/$LIBUSB_VERSION/" "$work/pkg-config"
	chmod 0755 "$work/pkg-config"
}

build_libusb arm64
build_libusb x86_64
write_pkg_config

# ---- 2. go build per architecture -------------------------------------------
ldflags="-s -w -X github.com/tillpos/till/app.Version=$VERSION"
for arch in arm64 x86_64; do
	goarch=$arch
	[[ $arch == x86_64 ]] && goarch=amd64
	log "go build darwin/$goarch"
	env GOOS=darwin GOARCH="$goarch" CGO_ENABLED=1 \
		CC="clang -arch $arch" \
		CGO_CFLAGS="-O2 -mmacosx-version-min=$MACOSX_DEPLOYMENT_TARGET" \
		CGO_LDFLAGS="-mmacosx-version-min=$MACOSX_DEPLOYMENT_TARGET" \
		PKG_CONFIG="$work/pkg-config" TILL_LIBUSB_PREFIX="$work/libusb-$arch" \
		"$GO" build -trimpath -ldflags "$ldflags" -o "$work/till-$arch" .
	if otool -L "$work/till-$arch" | grep -q libusb; then
		die "till-$arch links a libusb dylib; it should be static"
	fi
done

# ---- 3. Universal binary -----------------------------------------------------
mkdir -p "$work/universal"
bin=$work/universal/till
log "lipo -create $bin"
lipo -create -output "$bin" "$work/till-arm64" "$work/till-x86_64"
lipo -verify_arch "$bin" arm64 x86_64 || die "$bin is not arm64 + x86_64"
got=$("$bin" --version)
[[ $got == "till $VERSION" ]] || die "$bin --version printed '$got', want 'till $VERSION'"
log "$bin --version: $got ($(lipo -archs "$bin"))"

# ---- 4. Till.app ---------------------------------------------------------------
# fyne writes <Name>.app into its working directory: run it in a scratch one.
log "fyne package -os darwin --app-version $appver"
"$GO" build -o "$work/fyne" fyne.io/tools/cmd/fyne
mkdir "$work/app"
(cd "$work/app" && "$work/fyne" package -os darwin -exe "$bin" --src "$repo" --app-version "$appver")
app=$work/app/Till.app
[[ -x $app/Contents/MacOS/till ]] || die "fyne package made no $app/Contents/MacOS/till"
cmp -s "$bin" "$app/Contents/MacOS/till" || die "the binary in Till.app is not the universal one"

# ---- 5. Signing ------------------------------------------------------------------
if [[ -n ${MACOS_SIGN_IDENTITY:-} ]]; then
	log "codesign (hardened runtime) with the identity in MACOS_SIGN_IDENTITY"
	codesign --force --timestamp --options runtime --sign "$MACOS_SIGN_IDENTITY" "$app/Contents/MacOS/till"
	codesign --force --timestamp --options runtime --sign "$MACOS_SIGN_IDENTITY" "$app"
else
	log "codesign ad hoc (set MACOS_SIGN_IDENTITY to sign for distribution)"
	codesign --force --sign - "$app"
fi
codesign --verify --strict --verbose=2 "$app"

# ---- 6. The .dmg -----------------------------------------------------------------
dmg=$out/till-$VERSION-macos-universal.dmg
log "hdiutil create $dmg"
mkdir "$work/dmg"
cp -R "$app" "$work/dmg/"
ln -s /Applications "$work/dmg/Applications"
rm -f "$dmg"
hdiutil create -volname "Till $VERSION" -srcfolder "$work/dmg" -fs HFS+ -format UDZO -ov "$dmg" >/dev/null
if [[ -n ${MACOS_SIGN_IDENTITY:-} ]]; then
	codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$dmg"
fi
if [[ -n ${MACOS_NOTARY_PROFILE:-} ]]; then
	[[ -n ${MACOS_SIGN_IDENTITY:-} ]] || die "notarisation needs MACOS_SIGN_IDENTITY too"
	log "notarising $dmg (keychain profile from MACOS_NOTARY_PROFILE)"
	xcrun notarytool submit "$dmg" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
	xcrun stapler staple "$dmg"
fi
hdiutil verify "$dmg" >/dev/null
log "done:"
ls -l "$dmg" >&2
