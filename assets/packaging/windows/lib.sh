# shellcheck shell=bash
# lib.sh — helpers shared by build.sh and verify.sh (sourced, not run).

# say prints a step to stderr, so that stdout stays for values.
say() { printf '==> %s\n' "$*" >&2; }

# die prints an error and exits non-zero.
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_ensure installs the listed Debian packages that are not installed yet,
# as root or with sudo; it does nothing where dpkg is absent. Same pattern as
# the Makefile's apt_ensure.
apt_ensure() {
	command -v dpkg-query >/dev/null 2>&1 || return 0
	local p missing=()
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	say "Installing missing packages: ${missing[*]}"
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# numeric_version maps a Till version string to the four-part numeric
# version used for the Windows version resource and the MSI ProductVersion:
#
#   1.2.3            -> 1.2.3.0
#   v1.2.3           -> 1.2.3.0
#   1.2.3-4-gabcdef  -> 1.2.3.4   (git describe: 4 commits after tag 1.2.3)
#   0.0.0-dev        -> 0.0.0.0   (any other suffix is dropped)
#
# Windows Installer compares only the first three fields (major <= 255,
# minor <= 255, build <= 65535); the fourth (<= 65535) is kept for the exe's
# file version and for people, and the MSI allows same-version upgrades so a
# 1.2.3-5 package still replaces 1.2.3-4.
numeric_version() {
	local v=${1#v} major minor patch extra=0
	if [[ $v =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)(-([0-9]+)-g[0-9a-f]+)?([-+].*)?$ ]]; then
		major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} patch=${BASH_REMATCH[3]}
		[ -n "${BASH_REMATCH[5]}" ] && extra=${BASH_REMATCH[5]}
	else
		die "version '$1' is not MAJOR.MINOR.PATCH[-N-gHASH][-suffix]"
	fi
	# Strip leading zeros (10# forces base ten) and check the MSI ranges.
	major=$((10#$major)) minor=$((10#$minor)) patch=$((10#$patch)) extra=$((10#$extra))
	((major <= 255 && minor <= 255 && patch <= 65535 && extra <= 65535)) ||
		die "version '$1' is out of the Windows Installer range (255.255.65535.65535)"
	printf '%d.%d.%d.%d\n' "$major" "$minor" "$patch" "$extra"
}
