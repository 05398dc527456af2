#!/usr/bin/env bash
# verify.sh — checks the Windows artifacts that build.sh made, for CI:
#   - the MSI's tables (msiinfo): the file, the components, the directories,
#     the Start-menu shortcut, the properties (version, upgrade code, ARP),
#     the upgrade rows, the uninstall clean-up; and that msitools can dump
#     and extract all of it;
#   - the Authenticode signatures of the exe and of the MSI (osslsigncode),
#     and that a tampered copy of each, or another certificate, fails;
#   - the exe itself and the exe extracted from the MSI (cmd/till-pecheck):
#     PE32+ AMD64 GUI with ASLR and DEP, system DLLs only, icon, manifest
#     (asInvoker, per-monitor DPI aware), version resource of this version;
#   - the version mapping of lib.sh.
#
#   OUT=dist assets/packaging/windows/verify.sh
#
# Environment: OUT (default dist). VERSION, if set, must be the version that
# was built (read from $OUT/windows/build-info). The signatures are checked
# against $OUT/windows/test-signing-cert.pem when the build used the test
# certificate, else against TILL_SIGN_CAFILE (default: the system CA bundle).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$root"

OUT=${OUT:-dist}
UPGRADE_CODE='{93DFB16B-FA39-4DF3-8611-A2840A8F21AF}'

apt_ensure msitools osslsigncode openssl icoutils
command -v go >/dev/null || die "go is not on PATH"

info=$OUT/windows/build-info
[ -f "$info" ] || die "$info is missing: run assets/packaging/windows/build.sh first"
built_version=$(sed -n 's/^VERSION=//p' "$info")
numver=$(sed -n 's/^NUMERIC_VERSION=//p' "$info")
msi=$OUT/$(sed -n 's/^MSI=//p' "$info")
exe=$OUT/windows/till.exe
if [ -n "${VERSION:-}" ] && [ "$VERSION" != "$built_version" ]; then
	die "VERSION=$VERSION but $OUT holds a build of $built_version"
fi
[ "$numver" = "$(numeric_version "$built_version")" ] || die "build-info's numeric version $numver does not match $built_version"
[ -f "$exe" ] || die "$exe is missing"
[ -f "$msi" ] || die "$msi is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/till-win-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	failures=$((failures + 1))
}
ok() { printf '  ok: %s\n' "$*" >&2; }

msi_abs=$(cd "$(dirname "$msi")" && pwd)/$(basename "$msi")

# table NAME exports an MSI table as tab-separated rows, without the three
# header lines and the CRs. msiinfo (like msidump) writes the streams of
# binary columns (the Icon table) into the working directory: it runs in
# $tmp/export.
mkdir -p "$tmp/export"
table() { (cd "$tmp/export" && msiinfo export "$msi_abs" "$1") | tail -n +4 | tr -d '\r'; }

# expect_row TABLE DESCRIPTION ERE: one row of TABLE matches ERE (fields
# separated by \t in the pattern).
expect_row() {
	local rows
	rows=$(table "$1")
	if grep -Eq -- "$3" <<<"$rows"; then
		ok "$1: $2"
	else
		fail "$1: no row with $2; the table is:"
		printf '%s\n' "$rows" | sed 's/^/    /' >&2
	fi
}

say "Verifying Till $built_version for Windows ($numver): $exe, $msi"
ls -l "$exe" "$msi" >&2

say "The version mapping (numeric_version in lib.sh, documented in README.md)"
while read -r v want; do
	got=$( (numeric_version "$v") 2>/dev/null) || got=refused
	if [ "$got" = "$want" ]; then ok "$v -> $got"; else fail "numeric_version $v = $got, want $want"; fi
done <<'EOF'
0.0.0-dev 0.0.0.0
1.2.3 1.2.3.0
v1.2.3 1.2.3.0
1.2.3-4-gabcdef 1.2.3.4
1.2.3-rc1 1.2.3.0
255.255.65535-65535-g0 255.255.65535.65535
256.0.0 refused
1.2.3-65536-gabc refused
1.2 refused
EOF

# --- the MSI ------------------------------------------------------------------
say "MSI summary information"
msiinfo suminfo "$msi" | tee "$tmp/suminfo" | sed 's/^/  /' >&2
if grep -q '^Template: x64;1033$' "$tmp/suminfo"; then ok "x64 package, English"; else fail "summary Template is not x64;1033"; fi
if grep -Fq "Subject: Till $built_version point of sale" "$tmp/suminfo"; then
	ok "subject names $built_version"
else
	fail "summary Subject does not name $built_version"
fi

say "MSI tables"
msiinfo tables "$msi" >"$tmp/tables"
for t in File Component Directory Feature FeatureComponents Shortcut Registry RemoveFile Property Upgrade Icon Media InstallExecuteSequence LaunchCondition; do
	grep -qx "$t" "$tmp/tables" || fail "table $t is missing"
done
ok "all expected tables present: $(tr '\n' ' ' <"$tmp/tables")"

T=$'\t'
expect_row File "till.exe in component TillExe" "^TillExe${T}TillExe${T}([^${T}|]*\\|)?till\\.exe${T}[0-9]+${T}"
expect_row Component "TillExe, 64-bit, in INSTALLDIR, keyed by the file" "^TillExe${T}\\{[0-9A-F-]{36}\\}${T}INSTALLDIR${T}256${T}${T}TillExe$"
expect_row Component "TillShortcut, 64-bit, keyed by a registry value" "^TillShortcut${T}\\{[0-9A-F-]{36}\\}${T}TillMenuFolder${T}260${T}${T}reg[0-9A-F]+$"
expect_row Directory "INSTALLDIR = ProgramFiles64Folder\\Till" "^INSTALLDIR${T}ProgramFiles64Folder${T}Till$"
expect_row Directory "the Start-menu folder Till" "^TillMenuFolder${T}ProgramMenuFolder${T}Till$"
expect_row Shortcut "a Till shortcut to till.exe with the icon" "^TillStartMenuShortcut${T}TillMenuFolder${T}Till${T}TillShortcut${T}\\[INSTALLDIR\\]till\\.exe${T}.*${T}TillIcon\\.ico${T}"
expect_row Registry "the HKLM\\Software\\Till key, removed on uninstall" "^reg[0-9A-F]+${T}2${T}Software\\\\Till${T}\\*${T}${T}TillShortcut$"
expect_row Registry "the shortcut's key-path value" "^reg[0-9A-F]+${T}2${T}Software\\\\Till${T}StartMenuShortcut${T}#1${T}TillShortcut$"
expect_row RemoveFile "the Start-menu folder removed on uninstall" "^RemoveTillMenuFolder${T}TillShortcut${T}${T}TillMenuFolder${T}2$"
expect_row FeatureComponents "TillExe in feature Till" "^Till${T}TillExe$"
expect_row FeatureComponents "TillShortcut in feature Till" "^Till${T}TillShortcut$"
expect_row Property "ProductVersion $numver" "^ProductVersion${T}${numver//./\\.}$"
expect_row Property "UpgradeCode $UPGRADE_CODE" "^UpgradeCode${T}\\${UPGRADE_CODE%\}}\\}$"
expect_row Property "a per-machine install" "^ALLUSERS${T}1$"
expect_row Property "Manufacturer Till" "^Manufacturer${T}Till$"
expect_row Property "the ARP icon" "^ARPPRODUCTICON${T}TillIcon\\.ico$"
expect_row Property "the ARP URL" "^ARPURLINFOABOUT${T}https://"
expect_row Icon "the icon TillIcon.ico" "^TillIcon\\.ico${T}"
# Upgrade: older (and, with VersionMaxInclusive 0x200, equal) versions are
# removed; a newer one installed blocks this one (the downgrade row).
upgrade_rows=$(table Upgrade)
printf '%s\n' "$upgrade_rows" | sed 's/^/    /' >&2
if awk -F'\t' -v code="$UPGRADE_CODE" -v v="$numver" '
	$1 == code && $2 == "" && $3 == v && int($5 / 512) % 2 == 1 && $7 == "WIX_UPGRADE_DETECTED" { up = 1 }
	$1 == code && $2 == v && $3 == "" && int($5 / 2) % 2 == 1 && $7 == "WIX_DOWNGRADE_DETECTED" { down = 1 }
	END { exit !(up && down) }' <<<"$upgrade_rows"; then
	ok "Upgrade: replaces versions up to and including $numver, detects newer ones"
else
	fail "Upgrade: rows are not the expected major-upgrade pair for $UPGRADE_CODE $numver"
fi
expect_row InstallExecuteSequence "RemoveExistingProducts scheduled" "^RemoveExistingProducts${T}"
expect_row LaunchCondition "downgrades refused" "^NOT WIX_DOWNGRADE_DETECTED${T}"

say "msitools: dump every table, list the streams, extract the files"
# msidump writes binary columns (the Icon table) under its working
# directory whatever -d says: run it inside the dump directory.
mkdir -p "$tmp/dump"
if (cd "$tmp/dump" && msidump -d . -t "$msi_abs") >/dev/null 2>"$tmp/msidump.err"; then
	ok "msidump read every table ($(find "$tmp/dump" -name '*.idt' | wc -l) .idt files)"
else
	fail "msidump failed: $(cat "$tmp/msidump.err")"
fi
if icotool -l "$tmp/dump/Icon/Icon.TillIcon.ico" >"$tmp/icon.list" 2>&1; then
	ok "the ARP/shortcut icon is a valid .ico ($(grep -c -- --icon "$tmp/icon.list") images)"
else
	fail "the MSI's TillIcon.ico is not a valid icon: $(cat "$tmp/icon.list")"
fi
msiinfo streams "$msi" >"$tmp/streams"
if grep -q 'DigitalSignature' "$tmp/streams"; then
	ok "the MSI has a DigitalSignature stream"
else
	fail "the MSI has no DigitalSignature stream"
fi
mkdir -p "$tmp/extract"
msiextract -C "$tmp/extract" "$msi" >"$tmp/extract.list"
extracted=$(find "$tmp/extract" -type f -iname till.exe)
if [ "$(printf '%s\n' "$extracted" | grep -c .)" -ne 1 ]; then
	fail "msiextract did not yield exactly one till.exe: $(cat "$tmp/extract.list")"
	extracted=
elif [ "$extracted" != "$tmp/extract/Till/till.exe" ]; then
	# msiextract writes ProgramFiles64Folder as the extraction root.
	fail "till.exe extracts to ${extracted#"$tmp/extract/"}, not [ProgramFiles64Folder]/Till/till.exe"
else
	ok "msiextract: ${extracted#"$tmp/extract/"}"
fi
if [ -n "$extracted" ]; then
	if cmp -s "$extracted" "$exe"; then
		ok "the MSI carries exactly $exe (sha256 $(sha256sum <"$exe" | cut -c1-16)…)"
	else
		fail "the till.exe in the MSI differs from $exe"
	fi
fi

# --- signatures ---------------------------------------------------------------
ca=${TILL_SIGN_CAFILE:-/etc/ssl/certs/ca-certificates.crt}
if [ -f "$OUT/windows/test-signing-cert.pem" ]; then
	ca=$OUT/windows/test-signing-cert.pem
	say "Signatures (against the TEST certificate $ca — not for distribution)"
else
	say "Signatures (against $ca)"
fi

# verify_sig FILE: osslsigncode verify must pass.
verify_sig() {
	if osslsigncode verify -CAfile "$ca" -in "$1" >"$tmp/verify.log" 2>&1; then
		ok "signature of $1 verifies ($(grep -m1 -o 'Subject: .*' "$tmp/verify.log" || true))"
	else
		fail "signature of $1 does not verify:"
		sed 's/^/    /' "$tmp/verify.log" >&2
	fi
}
# verify_sig_fails FILE WHY: osslsigncode verify must fail.
verify_sig_fails() {
	local ca_file=${3:-$ca}
	if osslsigncode verify -CAfile "$ca_file" -in "$1" >"$tmp/verify.log" 2>&1; then
		fail "a $2 still verifies"
	else
		ok "a $2 is rejected ($(grep -m1 -E 'Signature verification: failed|MISMATCH|mismatch' "$tmp/verify.log" || true))"
	fi
}

verify_sig "$exe"
verify_sig "$msi"
[ -z "$extracted" ] || verify_sig "$extracted"

# Tamper: one byte of the exe's code, and one row of the MSI's tables.
cp "$exe" "$tmp/tampered.exe"
size=$(stat -c %s "$tmp/tampered.exe")
off=$((size / 3))
byte=$(od -An -tu1 -j "$off" -N1 "$tmp/tampered.exe" | tr -d ' ')
printf '%b' "\\$(printf '%03o' $(((byte + 1) % 256)))" | dd of="$tmp/tampered.exe" bs=1 seek="$off" conv=notrunc status=none
verify_sig_fails "$tmp/tampered.exe" "copy of till.exe with byte $off changed"

cp "$msi" "$tmp/tampered.msi"
{ (cd "$tmp/export" && msiinfo export "$msi_abs" Property) | tr -d '\r' | head -n 3; table Property | sed 's|^ARPURLINFOABOUT\t.*|ARPURLINFOABOUT\thttps://example.invalid/|'; } |
	sed 's/$/\r/' >"$tmp/Property.idt"
msibuild "$tmp/tampered.msi" -i "$tmp/Property.idt"
tampered_props=$( (cd "$tmp/export" && msiinfo export "$tmp/tampered.msi" Property))
grep -q 'example.invalid' <<<"$tampered_props" || fail "could not tamper with the MSI copy"
verify_sig_fails "$tmp/tampered.msi" "copy of the MSI with ARPURLINFOABOUT changed"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$tmp/other-key.pem" -out "$tmp/other-cert.pem" \
	-subj "/CN=Some other certificate" -addext "extendedKeyUsage=codeSigning" 2>/dev/null
verify_sig_fails "$exe" "till.exe checked against another certificate" "$tmp/other-cert.pem"

# --- the executables ----------------------------------------------------------
say "cmd/till-pecheck on the exe and on the exe from the MSI"
(unset GOOS GOARCH CGO_ENABLED CC CXX && go build -o "$tmp/till-pecheck" ./cmd/till-pecheck)
targets=("$exe")
[ -z "$extracted" ] || targets+=("$extracted")
if "$tmp/till-pecheck" -version "$built_version" -file-version "$numver" "${targets[@]}" >&2; then
	ok "till-pecheck"
else
	fail "till-pecheck (see above)"
fi
if command -v wrestool >/dev/null; then
	say "Resources (wrestool -l)"
	wrestool -l "$exe" | sed 's/^/  /' >&2
fi

if [ "$failures" -gt 0 ]; then
	die "$failures check(s) failed"
fi
say "All Windows checks passed"
