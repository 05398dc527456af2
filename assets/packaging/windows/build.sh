#!/usr/bin/env bash
# build.sh — cross-builds Till for Windows x64 on Debian: a static libusb for
# mingw (cached), the GUI exe with icon, version information and manifest,
# and an MSI; signs both with osslsigncode.
#
# Run from anywhere (it works from the repository root):
#   VERSION=1.2.3 OUT=dist assets/packaging/windows/build.sh
#
# Environment:
#   VERSION   Till version (default 0.0.0-dev); see numeric_version in lib.sh
#             for how it maps to the numeric Windows/MSI version.
#   OUT       output directory (default dist), relative to the repository root.
#   TILL_SIGN_PKCS12        path to a .p12/.pfx code-signing certificate and key.
#   TILL_SIGN_PASSWORD      its password (handed to osslsigncode in a 0600 file,
#                           never on a command line).
#   TILL_SIGN_TIMESTAMP_URL RFC 3161 timestamp server (default: none, no network).
# Without TILL_SIGN_PKCS12 a throwaway self-signed test certificate signs the
# artifacts and its certificate is left in $OUT/windows/test-signing-cert.pem.
#
# Outputs: $OUT/windows/till.exe, $OUT/Till-$VERSION-x64.msi,
# $OUT/windows/build-info (for verify.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$root"

VERSION=${VERSION:-0.0.0-dev}
OUT=${OUT:-dist}
[[ $VERSION =~ ^[A-Za-z0-9._+-]+$ ]] || die "VERSION '$VERSION' has characters unfit for a file name"
numver=$(numeric_version "$VERSION")
IFS=. read -r v_major v_minor v_patch v_build <<<"$numver"
msi_name="Till-$VERSION-x64.msi"

# libusb: Debian bookworm's source package, pinned by the .dsc's SHA-256
# (the .dsc lists the SHA-256 of the other two files).
LIBUSB_VERSION=1.0.26
LIBUSB_DEBIAN_REVISION=1
LIBUSB_DSC_SHA256=3d75673e367fab1d0ca1ef29276ff4ea31dd7678c9573c10975e8d80bdbd0b14
LIBUSB_POOL=${LIBUSB_POOL:-http://deb.debian.org/debian/pool/main/libu/libusb-1.0}
MINGW=x86_64-w64-mingw32
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/till
libusb_prefix=$cache_root/libusb-mingw-$LIBUSB_VERSION

say "Till $VERSION for Windows x64 (numeric version $numver) into $OUT"
apt_ensure gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 msitools wixl osslsigncode \
	icoutils imagemagick openssl bzip2 xz-utils patch curl ca-certificates make pkg-config

tmp=$(mktemp -d "${TMPDIR:-/tmp}/till-win.XXXXXX")
syso=$root/till_windows_amd64.syso
cleanup() {
	rm -f "$syso"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One build at a time per checkout: the .syso lives in the repository root.
exec 9<"$here/build.sh"
if ! flock -n 9; then
	say "Waiting for another build.sh in this checkout to finish"
	flock 9
fi

# Take the signing password out of the environment at once, so that no
# child (go, gcc, wixl…) inherits it; printf is a shell builtin, so it never
# appears in ps either. osslsigncode reads it from this 0600 file.
if [ -n "${TILL_SIGN_PASSWORD:-}" ]; then
	(umask 077 && printf '%s' "$TILL_SIGN_PASSWORD" >"$tmp/sign-pass")
fi
unset TILL_SIGN_PASSWORD

timer_start() { t0=$(date +%s); }
timer_say() { say "$1 took $(($(date +%s) - t0)) s"; }

# --- 1. libusb for mingw, static, cached ------------------------------------
build_libusb() {
	local src=$tmp/libusb-src dl=$tmp/libusb-dl
	local dsc=libusb-1.0_$LIBUSB_VERSION-$LIBUSB_DEBIAN_REVISION.dsc
	local orig=libusb-1.0_$LIBUSB_VERSION.orig.tar.bz2
	local deb=libusb-1.0_$LIBUSB_VERSION-$LIBUSB_DEBIAN_REVISION.debian.tar.xz
	mkdir -p "$dl" "$src"
	say "Fetching Debian's libusb-1.0 $LIBUSB_VERSION-$LIBUSB_DEBIAN_REVISION source from $LIBUSB_POOL"
	local f
	for f in "$dsc" "$orig" "$deb"; do
		curl -fsSL --retry 3 -o "$dl/$f" "$LIBUSB_POOL/$f"
	done
	say "Checking $dsc against the pinned SHA-256, then the tarballs against the .dsc"
	echo "$LIBUSB_DSC_SHA256  $dl/$dsc" | sha256sum -c --quiet - || die "$dsc does not match the pinned SHA-256"
	# The Checksums-Sha256 section: " <sha256> <size> <file>" lines.
	awk '/^Checksums-Sha256:/ {on=1; next} /^[^ ]/ {on=0} on && NF==3 {print $1 "  " $3}' "$dl/$dsc" >"$dl/SHA256SUMS"
	[ "$(wc -l <"$dl/SHA256SUMS")" -eq 2 ] || die "unexpected Checksums-Sha256 section in $dsc"
	(cd "$dl" && sha256sum -c --quiet SHA256SUMS) || die "libusb source does not match $dsc"

	say "Unpacking and applying Debian's patches"
	tar -xjf "$dl/$orig" -C "$src" --strip-components=1
	tar -xJf "$dl/$deb" -C "$src"
	if [ -f "$src/debian/patches/series" ]; then
		local p
		# series: one patch per line, optional options after it, # comments.
		while read -r p _; do
			case $p in '' | '#'*) continue ;; esac
			say "  patch $p"
			patch -d "$src" -p1 --batch --forward -s <"$src/debian/patches/$p"
		done <"$src/debian/patches/series"
	else
		say "  (no debian/patches/series: nothing to apply)"
	fi

	say "Configuring and building libusb for $MINGW into $libusb_prefix"
	(
		cd "$src"
		./configure --host=$MINGW --enable-static --disable-shared \
			--disable-examples-build --disable-tests-build \
			--prefix="$libusb_prefix" >"$tmp/libusb-configure.log" 2>&1 ||
			{ tail -n 30 "$tmp/libusb-configure.log" >&2; exit 1; }
		make -j"$(nproc)" >"$tmp/libusb-make.log" 2>&1 || { tail -n 30 "$tmp/libusb-make.log" >&2; exit 1; }
		make install DESTDIR="$tmp/stage" >>"$tmp/libusb-make.log" 2>&1 ||
			{ tail -n 30 "$tmp/libusb-make.log" >&2; exit 1; }
	)
	# Move the staged install into place, then write the stamp: an
	# interrupted build never leaves a prefix that looks complete.
	mkdir -p "$cache_root"
	rm -rf "$libusb_prefix"
	mv "$tmp/stage$libusb_prefix" "$libusb_prefix"
	printf 'libusb-1.0 %s-%s dsc-sha256 %s\n' "$LIBUSB_VERSION" "$LIBUSB_DEBIAN_REVISION" "$LIBUSB_DSC_SHA256" \
		>"$libusb_prefix/.till-complete"
}

timer_start
if [ -f "$libusb_prefix/.till-complete" ] && [ -f "$libusb_prefix/lib/libusb-1.0.a" ] &&
	grep -q "$LIBUSB_DSC_SHA256" "$libusb_prefix/.till-complete"; then
	say "libusb for mingw: cached in $libusb_prefix"
else
	build_libusb
fi
[ ! -e "$libusb_prefix/lib/libusb-1.0.dll.a" ] || die "$libusb_prefix has a DLL import library: expected a static-only build"
timer_say "libusb"

# --- 2. the GUI exe -----------------------------------------------------------
# pkg-config sees only the mingw libusb (LIBDIR replaces the host's search
# path, so a host .pc can never leak in). The go command does not put
# pkg-config's output into its cache keys, but it does put CGO_LDFLAGS there:
# naming the prefix (which carries the libusb version) in CGO_LDFLAGS both
# adds the -L the link needs and makes sure no gousb object compiled against
# another libusb prefix is reused. The prefix is stable on a machine, so
# warm runs hit the cache; a new prefix rebuilds the cgo packages once.
export PKG_CONFIG_LIBDIR=$libusb_prefix/lib/pkgconfig PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR=''
export GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=$MINGW-gcc CXX=$MINGW-g++
export CGO_LDFLAGS="-O2 -g -L$libusb_prefix/lib"
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
say "pkg-config libusb-1.0: $(pkg-config --cflags --libs libusb-1.0)"

timer_start
say "Making the icon and the resources (.syso) with windres"
convert_bin=$(command -v convert-im6.q16 || command -v magick || command -v convert) ||
	die "ImageMagick is not installed"
"$convert_bin" assets/icon.png -background none -define icon:auto-resize=256,128,64,48,32,24,16 "$tmp/till.ico"
icotool -l "$tmp/till.ico" >/dev/null || die "the generated till.ico is not a valid icon"
cp "$here/till.exe.manifest" "$tmp/"
cat >"$tmp/till-version.h" <<EOF
#define TILL_VER_MAJOR $v_major
#define TILL_VER_MINOR $v_minor
#define TILL_VER_PATCH $v_patch
#define TILL_VER_BUILD $v_build
#define TILL_VERSION_STR "$VERSION"
#define TILL_NUMVER_STR "$numver"
#define TILL_YEAR "$(date -u +%Y)"
EOF
$MINGW-windres --input-format=rc --output-format=coff -I "$tmp" -I "$here" \
	-i "$here/till.rc" -o "$syso"

say "go build (GOOS=windows GOARCH=amd64, cgo with $CC, static)"
mkdir -p "$OUT/windows"
go build -trimpath \
	-ldflags "-H=windowsgui -s -w -X github.com/tillpos/till/app.Version=$VERSION -extldflags=-static" \
	-o "$tmp/till-unsigned.exe" .
rm -f "$syso"
timer_say "exe build"

# --- signing set-up -----------------------------------------------------------
sign_args=()
if [ -n "${TILL_SIGN_PKCS12:-}" ]; then
	[ -r "$TILL_SIGN_PKCS12" ] || die "TILL_SIGN_PKCS12=$TILL_SIGN_PKCS12 is not readable"
	say "Signing with the certificate in TILL_SIGN_PKCS12"
	sign_args=(-pkcs12 "$TILL_SIGN_PKCS12")
	if [ -f "$tmp/sign-pass" ]; then
		sign_args+=(-readpass "$tmp/sign-pass")
	fi
	rm -f "$OUT/windows/test-signing-cert.pem"
else
	say "TILL_SIGN_PKCS12 is not set: signing with a throwaway self-signed certificate"
	printf '\n*** TEST CERTIFICATE — not for distribution ***\n\n' >&2
	(umask 077 && openssl req -x509 -newkey rsa:3072 -sha256 -days 30 -nodes \
		-keyout "$tmp/test-key.pem" -out "$tmp/test-cert.pem" \
		-subj "/O=Till/CN=Till TEST code signing - not for distribution" \
		-addext "basicConstraints=critical,CA:FALSE" \
		-addext "keyUsage=critical,digitalSignature" \
		-addext "extendedKeyUsage=critical,codeSigning" 2>/dev/null)
	install -m 0644 "$tmp/test-cert.pem" "$OUT/windows/test-signing-cert.pem"
	sign_args=(-certs "$tmp/test-cert.pem" -key "$tmp/test-key.pem")
fi
if [ -n "${TILL_SIGN_TIMESTAMP_URL:-}" ]; then
	sign_args+=(-ts "$TILL_SIGN_TIMESTAMP_URL")
fi

# sign IN OUT [ARGS...] signs a PE or MSI file with SHA-256.
sign() {
	local in=$1 out=$2
	shift 2
	say "Signing $in -> $out"
	osslsigncode sign "${sign_args[@]}" "$@" -h sha256 -n "Till" -i "https://github.com/tillpos/till" \
		-in "$in" -out "$out" >"$tmp/sign.log" 2>&1 || { cat "$tmp/sign.log" >&2; die "signing $out failed"; }
}

sign "$tmp/till-unsigned.exe" "$OUT/windows/till.exe.new"
mv "$OUT/windows/till.exe.new" "$OUT/windows/till.exe"

# --- 3. the MSI ---------------------------------------------------------------
timer_start
say "wixl: $msi_name (ProductVersion $numver)"
# wixl 0.101 does not find absolute source paths ("Couldn't find file"):
# stage the files and give it names relative to its working directory.
mkdir -p "$tmp/msi"
cp "$OUT/windows/till.exe" "$tmp/till.ico" "$tmp/msi/"
(cd "$tmp/msi" && wixl -a x64 -D Version="$VERSION" -D ProductVersion="$numver" \
	-D ExeFile=till.exe -D IconFile=till.ico \
	-o "$tmp/till-unsigned.msi" "$here/till.wxs") 2>"$tmp/wixl.log" || { cat "$tmp/wixl.log" >&2; die "wixl failed"; }
# wixl warns through GLib about attributes it ignores; show anything else.
grep -v -e 'GLib-GObject-WARNING' -e '^$' "$tmp/wixl.log" >&2 || true

# wixl has no AllowSameVersionUpgrades: set msidbUpgradeAttributesVersionMaxInclusive
# (0x200) on the upgrade row, so a package whose version differs only in the
# fourth field (which Windows Installer ignores) still replaces the other.
(cd "$tmp" && msiinfo export till-unsigned.msi Upgrade) >"$tmp/Upgrade.idt"
awk -F'\t' -v OFS='\t' '
	NR > 3 && $7 ~ /^WIX_UPGRADE_DETECTED\r?$/ { if (int($5 / 512) % 2 == 0) $5 += 512; n++ }
	{ print }
	END { if (n != 1) { print "expected one WIX_UPGRADE_DETECTED row, found " n+0 > "/dev/stderr"; exit 1 } }
' "$tmp/Upgrade.idt" >"$tmp/Upgrade.new.idt"
mv "$tmp/Upgrade.new.idt" "$tmp/Upgrade.idt"
msibuild "$tmp/till-unsigned.msi" -i "$tmp/Upgrade.idt"
timer_say "MSI build"

# -add-msi-dse: MsiDigitalSignatureEx also covers the MSI's metadata.
sign "$tmp/till-unsigned.msi" "$OUT/$msi_name.new" -add-msi-dse
mv "$OUT/$msi_name.new" "$OUT/$msi_name"

cat >"$OUT/windows/build-info" <<EOF
VERSION=$VERSION
NUMERIC_VERSION=$numver
MSI=$msi_name
EOF

say "Done:"
ls -l "$OUT/windows/till.exe" "$OUT/$msi_name" >&2
