#!/bin/sh
# Installs dsmr-datalogger as a supervisor program on Debian and Raspberry Pi OS, in one command that is safe to
# run again (files are only rewritten when their content changes):
#
#   curl -fsSL <release>/install.sh | sudo sh -s -- --api-url http://dsmr.local --api-key KEY
#   sudo sh install.sh --binary dist/dsmr-datalogger-linux-arm64 --api-url http://dsmr.local --api-key KEY
#
# See --help and docs/INSTALL.md.
#
# A download that breaks off must run nothing. Everything happens in main(), called on the last line, and the whole
# script is one brace group closed on that same line: sh reads a compound command to its end before running any of
# it, so a script cut anywhere is a syntax error (or only comments) and not even a command-name prefix runs.
{
set -eu

PROGRAM=dsmr-datalogger
SERVICE_USER=dsmr
BIN_PATH=/usr/local/bin/dsmr-datalogger
LIB_DIR=/usr/local/lib/dsmr-datalogger
CONF_DIR=/etc/dsmr-datalogger
ENV_FILE=/etc/dsmr-datalogger/datalogger.env
DATA_DIR=/var/lib/dsmr-datalogger
SUPERVISOR_CONF=/etc/supervisor/conf.d/dsmr-datalogger.conf
SUPERVISORD_CONF=/etc/supervisor/supervisord.conf
PROGRAM_LOG=/var/log/supervisor/dsmr-datalogger.log
# Where the release artifacts (and SHA256SUMS) are published; --url or DSMR_DATALOGGER_RELEASE_URL override it.
DEFAULT_RELEASE_URL=https://github.com/dsmr-datalogger/dsmr-datalogger/releases/latest/download
API_PATH=/api/v1/datalogger/dsmrreading
R=DSMRREADER_REMOTE_DATALOGGER_
D=DSMR_DATALOGGER_

usage() {
	cat <<EOF
Usage: sudo sh install.sh [options]

Installs (or upgrades) dsmr-datalogger: system user '$SERVICE_USER', $BIN_PATH,
settings in $ENV_FILE, state in $DATA_DIR, and the supervisor program '$PROGRAM'.
Safe to run again: only what changed is rewritten, and the program is restarted only then.

Where the program comes from (default: the latest release for this machine):
  --binary PATH        a local build: dsmr-datalogger-linux-x64, -linux-arm64, or -linux-arm.tar.gz
  --url URL            download it; a URL ending in / gets this machine's artifact name appended
  --sha256 HEX         expected checksum; without it, --url is checked against SHA256SUMS beside it

Settings (an upgrade keeps the current settings unless new ones are given):
  --api-url URL        DSMR-reader address, e.g. http://dsmr.local; repeat for more servers
  --api-key KEY        its API key; one per --api-url, in the same order
  --serial-port PATH   the P1 cable, default /dev/ttyUSB0
  --network HOST:PORT  read a P1-to-network bridge instead of a serial port
  --dsmr-version V     auto, 2.2, 3, 4, 5, be or lu (default auto)
  --interval SECONDS   forward at most one telegram per SECONDS (default 0: every telegram)

Actions:
  --no-start           install, but leave supervisor alone (nothing is started or restarted)
  --dry-run            print every action, change nothing
  --uninstall          stop and remove the program, its binary and its supervisor file
  --purge              with --uninstall: also remove $CONF_DIR, $DATA_DIR (the spool) and the log
  --help               this text

Every option can also come from the environment (the option wins): DSMR_DATALOGGER_BINARY, _URL, _SHA256,
_API_URL, _API_KEY (comma lists for several servers), _SERIAL_PORT, _NETWORK, _DSMR_VERSION, _INTERVAL,
_NO_START=1, _RELEASE_URL. Without a terminal it never asks anything.
EOF
}

say() {
	printf '%s\n' "$*"
}

warn() {
	printf 'install.sh: warning: %s\n' "$*" >&2
}

die() {
	printf 'install.sh: error: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'install.sh: %s (see --help)\n' "$*" >&2
	exit 2
}

# Runs a command that changes the system, or only shows it in a dry run. Secrets never pass through here:
# they only travel in files and environment variables.
act() {
	if [ "$DRY_RUN" = 1 ]; then
		printf 'would run: %s\n' "$*"
	else
		printf '+ %s\n' "$*"
		"$@"
	fi
}

is_true() {
	case ${1:-} in 1 | true | TRUE | True | yes | on) return 0 ;; *) return 1 ;; esac
}

# Number of items in a comma list.
count_items() (
	IFS=,
	set -f
	# shellcheck disable=SC2086 # splitting on commas is the point
	set -- $1
	echo $#
)

parse_args() {
	OPT_BINARY='' OPT_URL='' OPT_SHA256='' OPT_SERIAL_PORT='' OPT_NETWORK='' OPT_DSMR_VERSION='' OPT_INTERVAL=''
	OPT_API_URLS='' OPT_API_KEYS='' API_URL_FLAGS=0 API_KEY_FLAGS=0
	NO_START=0 DRY_RUN=0 UNINSTALL=0 PURGE=0
	while [ $# -gt 0 ]; do
		opt=$1
		shift
		has_value=0
		case $opt in
		--*=*)
			value=${opt#*=}
			opt=${opt%%=*}
			has_value=1
			;;
		esac
		case $opt in
		--binary | --url | --sha256 | --api-url | --api-key | --serial-port | --network | --dsmr-version | --interval)
			if [ $has_value = 0 ]; then
				[ $# -gt 0 ] || usage_error "$opt needs a value"
				value=$1
				shift
			fi
			;;
		--no-start | --dry-run | --uninstall | --purge | --help | -h)
			[ $has_value = 0 ] || usage_error "$opt takes no value"
			;;
		*) usage_error "unknown option: $opt" ;;
		esac
		case $opt in
		--api-url | --api-key)
			case $value in *,*) usage_error "$opt takes one value; repeat $opt for more servers" ;; esac
			;;
		esac
		case $opt in
		--binary) OPT_BINARY=$value ;;
		--url) OPT_URL=$value ;;
		--sha256) OPT_SHA256=$value ;;
		--api-url)
			OPT_API_URLS=${OPT_API_URLS:+$OPT_API_URLS,}$value
			API_URL_FLAGS=$((API_URL_FLAGS + 1))
			;;
		--api-key)
			OPT_API_KEYS=${OPT_API_KEYS:+$OPT_API_KEYS,}$value
			API_KEY_FLAGS=$((API_KEY_FLAGS + 1))
			;;
		--serial-port) OPT_SERIAL_PORT=$value ;;
		--network) OPT_NETWORK=$value ;;
		--dsmr-version) OPT_DSMR_VERSION=$value ;;
		--interval) OPT_INTERVAL=$value ;;
		--no-start) NO_START=1 ;;
		--dry-run) DRY_RUN=1 ;;
		--uninstall) UNINSTALL=1 ;;
		--purge) PURGE=1 ;;
		--help | -h)
			usage
			exit 0
			;;
		esac
	done

	# The environment fills in what the options left out.
	[ -n "$OPT_BINARY" ] || OPT_BINARY=${DSMR_DATALOGGER_BINARY:-}
	[ -n "$OPT_URL" ] || OPT_URL=${DSMR_DATALOGGER_URL:-}
	[ -n "$OPT_SHA256" ] || OPT_SHA256=${DSMR_DATALOGGER_SHA256:-}
	[ -n "$OPT_SERIAL_PORT" ] || OPT_SERIAL_PORT=${DSMR_DATALOGGER_SERIAL_PORT:-}
	[ -n "$OPT_NETWORK" ] || OPT_NETWORK=${DSMR_DATALOGGER_NETWORK:-}
	[ -n "$OPT_DSMR_VERSION" ] || OPT_DSMR_VERSION=${DSMR_DATALOGGER_DSMR_VERSION:-}
	[ -n "$OPT_INTERVAL" ] || OPT_INTERVAL=${DSMR_DATALOGGER_INTERVAL:-}
	if [ $API_URL_FLAGS = 0 ] && [ $API_KEY_FLAGS = 0 ]; then
		OPT_API_URLS=${DSMR_DATALOGGER_API_URL:-}
		OPT_API_KEYS=${DSMR_DATALOGGER_API_KEY:-}
	fi
	if is_true "${DSMR_DATALOGGER_NO_START:-}"; then NO_START=1; fi
	RELEASE_URL=${DSMR_DATALOGGER_RELEASE_URL:-$DEFAULT_RELEASE_URL}
}

validate_args() {
	[ $PURGE = 0 ] || [ $UNINSTALL = 1 ] || usage_error "--purge only goes with --uninstall"
	[ -z "$OPT_BINARY" ] || [ -z "$OPT_URL" ] || usage_error "give --binary or --url, not both"
	[ -z "$OPT_SERIAL_PORT" ] || [ -z "$OPT_NETWORK" ] || usage_error "give --serial-port or --network, not both"

	if [ -n "$OPT_SHA256" ]; then
		OPT_SHA256=$(printf '%s' "$OPT_SHA256" | tr 'A-F' 'a-f')
		case $OPT_SHA256 in *[!0-9a-f]*) usage_error "--sha256 must be 64 hexadecimal digits" ;; esac
		[ ${#OPT_SHA256} = 64 ] || usage_error "--sha256 must be 64 hexadecimal digits"
	fi

	if [ -n "$OPT_API_URLS$OPT_API_KEYS" ]; then
		urls=$(count_items "$OPT_API_URLS")
		keys=$(count_items "$OPT_API_KEYS")
		[ "$urls" = "$keys" ] || usage_error "--api-url and --api-key come in pairs: got $urls URL(s) and $keys key(s)"
		API_HOSTS=''
		# Split on commas only; nothing in the loops depends on IFS.
		old_ifs=$IFS
		IFS=,
		set -f
		for url in $OPT_API_URLS; do
			check_api_url "$url"
			API_HOSTS=${API_HOSTS:+$API_HOSTS,}$(normalize_api_url "$url")
		done
		for key in $OPT_API_KEYS; do
			case $key in
			'' | *[[:space:]\"\'\#]*) usage_error "--api-key must be a non-empty key without spaces, quotes or #" ;;
			esac
		done
		IFS=$old_ifs
		set +f
		API_KEYS=$OPT_API_KEYS
	fi

	case $OPT_SERIAL_PORT in
	'' | /*) ;;
	*) usage_error "--serial-port must be an absolute device path such as /dev/ttyUSB0 (got: $OPT_SERIAL_PORT)" ;;
	esac
	case $OPT_SERIAL_PORT in
	*[[:space:]\"\'\#,]*) usage_error "--serial-port must not contain spaces, quotes, commas or # (got: $OPT_SERIAL_PORT)" ;;
	esac

	NETWORK_HOST='' NETWORK_PORT=''
	if [ -n "$OPT_NETWORK" ]; then
		case $OPT_NETWORK in
		*:*) ;;
		*) usage_error "--network must be HOST:PORT, e.g. 192.168.1.50:8088 (got: $OPT_NETWORK)" ;;
		esac
		NETWORK_HOST=${OPT_NETWORK%:*}
		NETWORK_PORT=${OPT_NETWORK##*:}
		# [::1]:8088 style IPv6 addresses lose their brackets.
		case $NETWORK_HOST in \[*\]) NETWORK_HOST=${NETWORK_HOST#[}; NETWORK_HOST=${NETWORK_HOST%]} ;; esac
		case $NETWORK_HOST in
		'' | *[[:space:]\"\'\#,/]*) usage_error "--network must be HOST:PORT, e.g. 192.168.1.50:8088 (got: $OPT_NETWORK)" ;;
		esac
		case $NETWORK_PORT in
		'' | *[!0-9]*) usage_error "--network needs a port number 1-65535 after the colon (got: $OPT_NETWORK)" ;;
		esac
		if [ "$NETWORK_PORT" -lt 1 ] || [ "$NETWORK_PORT" -gt 65535 ]; then
			usage_error "--network needs a port number 1-65535 after the colon (got: $OPT_NETWORK)"
		fi
	fi

	case $OPT_DSMR_VERSION in
	'' | auto | 2.2 | 3 | 4 | 5 | be | lu) ;;
	*) usage_error "--dsmr-version must be auto, 2.2, 3, 4, 5, be or lu (got: $OPT_DSMR_VERSION)" ;;
	esac

	case $OPT_INTERVAL in
	'') ;;
	*[!0-9.]* | *.*.* | .) usage_error "--interval must be a number of seconds, e.g. 5 or 0.5 (got: $OPT_INTERVAL)" ;;
	esac
}

check_api_url() {
	case $1 in
	http://?* | https://?*) ;;
	*) usage_error "--api-url must start with http:// or https://, e.g. http://dsmr.local (got: $1)" ;;
	esac
	case $1 in
	*[[:space:]\"\'\#]*) usage_error "--api-url must not contain spaces, quotes or # (got: $1)" ;;
	esac
}

# DSMR-reader's setting holds the server address; the program adds the API path itself.
normalize_api_url() {
	url=${1%/}
	url=${url%"$API_PATH"}
	url=${url%/}
	printf '%s' "$url"
}

require_root() {
	[ "$(id -u)" = 0 ] && return 0
	if [ "$DRY_RUN" = 1 ]; then
		warn "not running as root: the dry run cannot read the current settings, so it may show changes that are none"
		return 0
	fi
	die "install.sh must be run as root, e.g.: sudo sh install.sh --api-url ... --api-key ... (or: curl -fsSL URL | sudo sh -s -- ...)"
}

# A Raspberry Pi often runs a 64-bit kernel under a 32-bit userland: uname then says aarch64, but only 32-bit
# programs run, so it gets the portable bundle run by Debian's nodejs.
detect_arch() {
	machine=$(uname -m)
	case $machine in
	x86_64 | amd64) ARCH=x64 ;;
	aarch64 | arm64)
		if [ "$(getconf LONG_BIT 2>/dev/null || echo 64)" = 32 ]; then ARCH=arm; else ARCH=arm64; fi
		;;
	armv6* | armv7* | armv8l | armhf) ARCH=arm ;;
	*) die "this machine is $machine; dsmr-datalogger is built for x86_64, aarch64 and 32-bit ARM" ;;
	esac
	case $ARCH in
	arm) ARTIFACT_NAME=$PROGRAM-linux-arm.tar.gz ;;
	*) ARTIFACT_NAME=$PROGRAM-linux-$ARCH ;;
	esac
}

download() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed: install one (apt-get install curl) or use --binary"
	fi
}

sha256_of() {
	sha256sum "$1" | awk '{ print $1 }'
}

verify_sha256() {
	actual=$(sha256_of "$1")
	[ "$actual" = "$2" ] || die "checksum mismatch for $3: expected $2, got $actual; nothing was installed"
	say "verified: $3 has SHA-256 $actual"
}

# Gets the program to install and checks it, before anything on the system is changed.
fetch_artifact() {
	if [ -n "$OPT_BINARY" ]; then
		[ -f "$OPT_BINARY" ] || die "--binary $OPT_BINARY: no such file"
		ARTIFACT=$OPT_BINARY
		ARTIFACT_LABEL=$OPT_BINARY
		if [ -n "$OPT_SHA256" ]; then verify_sha256 "$ARTIFACT" "$OPT_SHA256" "$OPT_BINARY"; fi
	else
		url=${OPT_URL:-$RELEASE_URL/}
		case $url in */) url=$url$ARTIFACT_NAME ;; esac
		name=${url##*/}
		ARTIFACT_LABEL=$url
		if [ "$DRY_RUN" = 1 ]; then
			say "would download $url and check it against ${OPT_SHA256:-the SHA256SUMS beside it}"
			ARTIFACT=
			ARTIFACT_KIND=$(kind_by_name "$name")
			return 0
		fi
		say "downloading $url"
		download "$url" "$WORK/$name" || die "cannot download $url"
		if [ -n "$OPT_SHA256" ]; then
			expected=$OPT_SHA256
		else
			sums_url=${url%/*}/SHA256SUMS
			download "$sums_url" "$WORK/SHA256SUMS" || die "cannot download $sums_url to check $name: give --sha256 HEX instead"
			expected=$(awk -v name="$name" '$2 == name || $2 == "*" name { print tolower($1); exit }' "$WORK/SHA256SUMS")
			[ -n "$expected" ] || die "$sums_url has no checksum for $name; nothing was installed"
		fi
		verify_sha256 "$WORK/$name" "$expected" "$name"
		ARTIFACT=$WORK/$name
	fi
	ARTIFACT_KIND=$(kind_of_file "$ARTIFACT")
	check_artifact_fits
}

kind_by_name() {
	case $1 in *.tar.gz | *.tgz) echo bundle ;; *) echo binary ;; esac
}

# bundle (portable tar.gz for nodejs) or binary (single executable, or a script with #!).
kind_of_file() {
	magic=$(od -An -tx1 -N4 "$1" | tr -d ' \n')
	case $magic in
	1f8b*) echo bundle ;;
	7f454c46) echo binary ;;
	2321*) echo script ;;
	*) die "$ARTIFACT_LABEL is neither a Linux executable nor a .tar.gz bundle" ;;
	esac
}

check_artifact_fits() {
	[ "$ARTIFACT_KIND" = binary ] || return 0
	# ELF e_machine, little-endian, at offset 18.
	case $(od -An -tx1 -j18 -N2 "$ARTIFACT" | tr -d ' \n') in
	3e00) built_for=x64 ;;
	b700) built_for=arm64 ;;
	2800) built_for=arm ;;
	*) built_for=unknown ;;
	esac
	[ "$built_for" = "$ARCH" ] && return 0
	if [ "$ARCH" = arm ]; then
		die "$ARTIFACT_LABEL is built for $built_for, but this machine runs 32-bit programs ($(uname -m) kernel, 32-bit userland): use $PROGRAM-linux-arm.tar.gz"
	fi
	die "$ARTIFACT_LABEL is built for $built_for, but this machine needs $ARTIFACT_NAME"
}

tty_available() {
	[ -t 2 ] && (: </dev/tty) 2>/dev/null
}

# A first install needs a server to forward to. Ask only when someone is at a terminal (not stdin: under
# `curl | sh` stdin is the script itself).
ask_for_api_settings() {
	if ! tty_available; then
		usage_error "a first install needs --api-url and --api-key (or DSMR_DATALOGGER_API_URL and DSMR_DATALOGGER_API_KEY)"
	fi
	printf 'DSMR-reader address (e.g. http://dsmr.local): ' >/dev/tty
	IFS= read -r OPT_API_URLS </dev/tty || true
	printf 'DSMR-reader API key: ' >/dev/tty
	stty -echo </dev/tty 2>/dev/null || true
	ECHO_OFF=1
	IFS= read -r OPT_API_KEYS </dev/tty || true
	stty echo </dev/tty 2>/dev/null || true
	ECHO_OFF=0
	printf '\n' >/dev/tty
	if [ -z "$OPT_API_URLS" ] || [ -z "$OPT_API_KEYS" ]; then usage_error "both the address and the API key are needed"; fi
	validate_args
}

ensure_packages() {
	missing=
	command -v supervisorctl >/dev/null 2>&1 || missing=supervisor
	if [ "$ARTIFACT_KIND" = bundle ] && ! command -v node >/dev/null 2>&1; then missing="$missing nodejs"; fi
	if [ -n "$missing" ]; then
		command -v apt-get >/dev/null 2>&1 || die "please install $missing first: this installer only knows apt-get"
		# Word splitting of the package list is intended.
		# shellcheck disable=SC2086
		{
			act env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
			act env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing </dev/null
		}
	fi
	if [ "$ARTIFACT_KIND" = bundle ] && [ "$DRY_RUN" = 0 ]; then
		node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
			die "the portable bundle needs Node.js 18 or newer; $(command -v node) is $(node --version)"
	fi
}

ensure_user() {
	if ! getent group "$SERVICE_USER" >/dev/null 2>&1 && ! getent passwd "$SERVICE_USER" >/dev/null 2>&1; then
		act groupadd --system "$SERVICE_USER"
	fi
	if getent passwd "$SERVICE_USER" >/dev/null 2>&1; then
		say "user $SERVICE_USER exists"
	else
		USER_CREATED=1
		act useradd --system --gid "$SERVICE_USER" --groups dialout --home-dir "$DATA_DIR" --no-create-home \
			--shell /usr/sbin/nologin --comment "dsmr-datalogger" "$SERVICE_USER"
	fi
	# An existing user (e.g. from a DSMR-reader install) keeps its home and shell; it only needs the serial ports.
	if [ "${USER_CREATED:-0}" = 0 ] && ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx dialout; then
		act usermod -a -G dialout "$SERVICE_USER"
	fi
}

# Makes path a directory with the given owner and mode, touching it only when needed.
ensure_dir() {
	if [ ! -d "$1" ]; then
		act mkdir -p "$1"
		act chown "$2" "$1"
		act chmod "$3" "$1"
		return 0
	fi
	ensure_owner_mode "$1" "$2" "$3"
}

ensure_owner_mode() {
	current=$(stat -c '%U:%G %a' "$1")
	want_mode=$(echo "$3" | sed 's/^0*//')
	[ "${current%% *}" = "$2" ] || act chown "$2" "$1"
	[ "${current##* }" = "$want_mode" ] || act chmod "$3" "$1"
}

# Installs file $1 as $2 with owner $3 and mode $4 by an atomic rename, only when the content differs.
# Sets CHANGED=1 when it wrote the file. $5 (optional) makes the dry run print the content with this sed filter.
install_file() {
	CHANGED=0
	if [ -f "$2" ] && [ ! -L "$2" ] && cmp -s "$1" "$2" 2>/dev/null; then
		ensure_owner_mode "$2" "$3" "$4"
		say "unchanged: $2"
		return 0
	fi
	CHANGED=1
	if [ "$DRY_RUN" = 1 ]; then
		say "would write $2 ($3, mode $4)"
		if [ -n "${5:-}" ]; then sed "$5" "$1" | sed 's/^/    | /'; fi
		return 0
	fi
	STAGED=$(dirname "$2")/.$(basename "$2").new.$$
	# Private until its owner and mode are set: it may hold the API keys.
	(umask 077 && cp "$1" "$STAGED")
	chown "$3" "$STAGED"
	chmod "$4" "$STAGED"
	mv -f "$STAGED" "$2"
	STAGED=''
	say "wrote $2"
}

install_program() {
	PROGRAM_CHANGED=0
	if [ "$ARTIFACT_KIND" = bundle ]; then
		install_bundle
	elif [ -z "$ARTIFACT" ]; then
		say "would install $ARTIFACT_LABEL as $BIN_PATH (root:root, mode 0755)"
		PROGRAM_CHANGED=1
	else
		install_file "$ARTIFACT" "$BIN_PATH" root:root 0755
		PROGRAM_CHANGED=$CHANGED
		# A previous portable install is replaced by the single executable.
		if [ -d "$LIB_DIR" ]; then act rm -rf "$LIB_DIR"; fi
	fi
}

# The portable bundle lives in $LIB_DIR; $BIN_PATH becomes a launcher. The archive's checksum, kept beside it,
# tells whether a rerun has anything to do.
install_bundle() {
	if [ -z "$ARTIFACT" ]; then
		say "would unpack $ARTIFACT_LABEL into $LIB_DIR and write the launcher $BIN_PATH"
		PROGRAM_CHANGED=1
		return 0
	fi
	sum=$(sha256_of "$ARTIFACT")
	if [ -f "$LIB_DIR/.archive-sha256" ] && [ "$(cat "$LIB_DIR/.archive-sha256")" = "$sum" ]; then
		say "unchanged: $LIB_DIR"
		find_bundle_root "$LIB_DIR"
	else
		mkdir "$WORK/bundle"
		tar -xzf "$ARTIFACT" -C "$WORK/bundle" --no-same-owner
		find_bundle_root "$WORK/bundle"
		[ -n "$BUNDLE_ROOT" ] || die "$ARTIFACT_LABEL holds neither bin/$PROGRAM nor a .cjs bundle"
		printf '%s\n' "$sum" >"$BUNDLE_ROOT/.archive-sha256"
		if [ "$DRY_RUN" = 1 ]; then
			say "would unpack $ARTIFACT_LABEL into $LIB_DIR"
		else
			STAGED=$(dirname "$LIB_DIR")/.$PROGRAM.new.$$
			mkdir -p "$(dirname "$LIB_DIR")"
			cp -R "$BUNDLE_ROOT" "$STAGED"
			chown -R root:root "$STAGED"
			chmod -R u=rwX,go=rX "$STAGED"
			if [ -f "$STAGED/bin/$PROGRAM" ]; then chmod 0755 "$STAGED/bin/$PROGRAM"; fi
			if [ -d "$LIB_DIR" ]; then mv "$LIB_DIR" "$STAGED.old"; fi
			mv "$STAGED" "$LIB_DIR"
			rm -rf "$STAGED.old"
			STAGED=''
			say "unpacked $ARTIFACT_LABEL into $LIB_DIR"
		fi
		PROGRAM_CHANGED=1
	fi
	{
		echo '#!/bin/sh'
		echo "# Written by install.sh: runs the portable dsmr-datalogger bundle in $LIB_DIR with Node.js."
		if [ -n "$BUNDLE_CJS" ]; then
			# "--": Node takes an --env-file anywhere on its command line for itself (nodejs/node#54232), but not after it.
			echo "exec node -- $LIB_DIR/$BUNDLE_CJS \"\$@\""
		else
			echo "exec $LIB_DIR/bin/$PROGRAM \"\$@\""
		fi
	} >"$WORK/launcher"
	install_file "$WORK/launcher" "$BIN_PATH" root:root 0755
	if [ "$CHANGED" = 1 ]; then PROGRAM_CHANGED=1; fi
}

# The unpacked tree may be the bundle itself or hold it in one top-level folder. Sets BUNDLE_ROOT, and BUNDLE_CJS
# when the tree has no launcher of its own.
find_bundle_root() {
	BUNDLE_ROOT='' BUNDLE_CJS=''
	for candidate in "$1" "$1"/*/; do
		candidate=${candidate%/}
		if [ -f "$candidate/bin/$PROGRAM" ]; then
			BUNDLE_ROOT=$candidate
			return 0
		fi
	done
	for candidate in "$1" "$1"/*/; do
		candidate=${candidate%/}
		for cjs in "$candidate"/*.cjs; do
			if [ -f "$cjs" ]; then
				BUNDLE_ROOT=$candidate
				BUNDLE_CJS=${cjs##*/}
				return 0
			fi
		done
	done
}

# The settings this run gives, as KEY=VALUE lines; on a first install with the defaults before them.
collect_settings() {
	SETTINGS=
	if [ ! -f "$ENV_FILE" ]; then
		add_setting "${R}INPUT_METHOD" serial
		if [ -z "$OPT_NETWORK" ]; then add_setting "${R}SERIAL_PORT" /dev/ttyUSB0; fi
		add_setting "${D}DSMR_VERSION" auto
		add_setting "${D}DATA_DIR" "$DATA_DIR"
	fi
	if [ -n "$OPT_API_URLS" ]; then
		add_setting "${R}API_HOSTS" "$API_HOSTS"
		add_setting "${R}API_KEYS" "$API_KEYS"
	fi
	if [ -n "$OPT_SERIAL_PORT" ]; then
		add_setting "${R}INPUT_METHOD" serial
		add_setting "${R}SERIAL_PORT" "$OPT_SERIAL_PORT"
	fi
	if [ -n "$OPT_NETWORK" ]; then
		add_setting "${R}INPUT_METHOD" ipv4
		add_setting "${R}NETWORK_HOST" "$NETWORK_HOST"
		add_setting "${R}NETWORK_PORT" "$NETWORK_PORT"
	fi
	if [ -n "$OPT_DSMR_VERSION" ]; then add_setting "${D}DSMR_VERSION" "$OPT_DSMR_VERSION"; fi
	if [ -n "$OPT_INTERVAL" ]; then add_setting "${R}SLEEP" "$OPT_INTERVAL"; fi
}

add_setting() {
	SETTINGS="$SETTINGS$1=$2
"
}

# New content of the env file: the current file with the given settings replaced in place (comments, order and
# hand-made additions stay), settings it lacked appended. The keys reach awk through the environment, not argv.
render_env_file() {
	if [ -f "$ENV_FILE" ]; then
		[ -r "$ENV_FILE" ] || die "cannot read $ENV_FILE"
		base=$ENV_FILE
	else
		base=$WORK/env.template
		cat >"$base" <<EOF
# dsmr-datalogger settings, read by: $BIN_PATH --env-file $ENV_FILE
# The only place the API keys are written (root:$SERVICE_USER, mode 0640). Setting names: $PROGRAM --help.
# After a change: sudo supervisorctl restart $PROGRAM
EOF
	fi
	DSMR_INSTALL_SETTINGS=$SETTINGS awk '
		BEGIN {
			n = split(ENVIRON["DSMR_INSTALL_SETTINGS"], lines, "\n")
			for (i = 1; i <= n; i++) {
				eq = index(lines[i], "=")
				if (eq == 0) continue
				k = substr(lines[i], 1, eq - 1)
				if (!(k in value)) order[++count] = k
				value[k] = substr(lines[i], eq + 1)
			}
		}
		{
			line = $0
			sub(/^[ \t]*(export[ \t]+)?/, "", line)
			eq = index(line, "=")
			if (eq > 0 && line !~ /^#/) {
				k = substr(line, 1, eq - 1)
				sub(/[ \t]+$/, "", k)
				if (k in value) {
					if (!(k in done)) print k "=" value[k]
					done[k] = 1
					next
				}
			}
			print $0
		}
		END {
			for (i = 1; i <= count; i++) if (!(order[i] in done)) print order[i] "=" value[order[i]]
		}
	' "$base" >"$WORK/datalogger.env"
}

write_supervisor_conf() {
	cat >"$WORK/supervisor.conf" <<EOF
; Written by install.sh. Settings and API keys are in $ENV_FILE, not here.
[program:$PROGRAM]
command=$BIN_PATH --env-file $ENV_FILE
user=$SERVICE_USER
directory=$DATA_DIR
umask=027
; HOME for the program's state; the single executable unpacks its serialport addon into the cache's pkg/ folder.
environment=HOME="$DATA_DIR",PKG_NATIVE_CACHE_PATH="$DATA_DIR/.cache"
autostart=true
autorestart=true
startsecs=3
startretries=1000
stopsignal=TERM
; The program exits within 10 s of SIGTERM; it must never need a SIGKILL, which could cost a telegram.
stopwaitsecs=20
redirect_stderr=true
stdout_logfile=$PROGRAM_LOG
stdout_logfile_maxbytes=1MB
stdout_logfile_backups=3
EOF
	install_file "$WORK/supervisor.conf" "$SUPERVISOR_CONF" root:root 0644 b
}

# supervisorctl on supervisord's own config; stdin closed so it never turns interactive.
supervisorctl_() {
	if [ -f "$SUPERVISORD_CONF" ]; then
		supervisorctl -c "$SUPERVISORD_CONF" "$@" </dev/null
	else
		supervisorctl "$@" </dev/null
	fi
}

supervisord_reachable() {
	supervisorctl_ pid >/dev/null 2>&1
}

# Without systemd (containers, some minimal systems) nothing starts supervisord after apt-get installs it.
ensure_supervisord() {
	supervisord_reachable && return 0
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		act systemctl enable --now supervisor
	elif command -v service >/dev/null 2>&1 && [ -x /etc/init.d/supervisor ]; then
		act service supervisor start
	else
		act supervisord -c "$SUPERVISORD_CONF"
	fi
	[ "$DRY_RUN" = 0 ] || return 0
	tries=0
	until supervisord_reachable; do
		tries=$((tries + 1))
		[ $tries -le 30 ] || die "supervisord does not answer: see /var/log/supervisor/supervisord.log"
		sleep 0.5 2>/dev/null || sleep 1
	done
}

# supervisorctl as an action: shown, and skipped in a dry run.
sv() {
	if [ "$DRY_RUN" = 1 ]; then
		printf 'would run: supervisorctl %s\n' "$*"
		return 0
	fi
	printf '+ supervisorctl %s\n' "$*"
	supervisorctl_ "$@"
}

program_state() {
	supervisorctl_ status "$PROGRAM" 2>/dev/null | awk -v p="$PROGRAM" '$1 == p { print $2 }' || true
}

apply_supervisor() {
	if [ "$NO_START" = 1 ]; then
		say "not starting (--no-start): run 'supervisorctl reread && supervisorctl update' to start $PROGRAM"
		return 0
	fi
	ensure_supervisord
	state=$(program_state)
	if [ "$CONF_CHANGED" = 1 ] || [ -z "$state" ]; then
		# update adds a new program, or restarts it under its changed supervisor file.
		sv reread
		sv update
	elif [ "$PROGRAM_CHANGED" = 1 ] || [ "$ENV_CHANGED" = 1 ]; then
		sv restart "$PROGRAM" || true
	elif [ "$state" != RUNNING ] && [ "$state" != STARTING ] && [ "$state" != BACKOFF ]; then
		sv start "$PROGRAM" || true
	fi
	[ "$DRY_RUN" = 0 ] || return 0
	# startsecs=3: supervisor calls the program RUNNING once it has stayed up that long.
	tries=0
	state=$(program_state)
	while { [ "$state" = STARTING ] || [ "$state" = BACKOFF ]; } && [ $tries -lt 30 ]; do
		sleep 1
		tries=$((tries + 1))
		state=$(program_state)
	done
	if [ "$state" = RUNNING ]; then
		say "$PROGRAM is RUNNING under supervisor"
	else
		warn "$PROGRAM is ${state:-not known to supervisor}; its log ($PROGRAM_LOG) ends with:"
		tail -n 20 "$PROGRAM_LOG" >&2 2>/dev/null || true
		exit 1
	fi
}

do_install() {
	detect_arch
	# A first install without a server to forward to would only produce a program that cannot do its job.
	if [ -z "$OPT_API_URLS" ] && [ ! -f "$ENV_FILE" ]; then ask_for_api_settings; fi
	fetch_artifact
	ensure_packages
	ensure_user
	ensure_dir "$CONF_DIR" "root:$SERVICE_USER" 0750
	ensure_dir "$DATA_DIR" "$SERVICE_USER:$SERVICE_USER" 0750
	install_program
	offer_detect
	collect_settings
	render_env_file
	install_file "$WORK/datalogger.env" "$ENV_FILE" "root:$SERVICE_USER" 0640 "s/^\(${R}API_KEYS\)=.*/\1=(hidden)/"
	ENV_CHANGED=$CHANGED
	write_supervisor_conf
	CONF_CHANGED=$CHANGED
	apply_supervisor
	warn_about_python_datalogger
	if [ "$DRY_RUN" = 1 ]; then
		say "dry run: nothing was changed"
		return 0
	fi
	say "done. Settings: $ENV_FILE; log: $PROGRAM_LOG; status: supervisorctl status $PROGRAM"
}

# Without --dsmr-version the program finds the serial settings itself (auto); someone at a terminal can have the meter
# checked now instead, and see its header, version and CRCs before the service starts.
offer_detect() {
	[ -z "$OPT_DSMR_VERSION" ] && [ -z "$OPT_NETWORK" ] && [ ! -f "$ENV_FILE" ] || return 0
	port=${OPT_SERIAL_PORT:-/dev/ttyUSB0}
	if [ "$DRY_RUN" = 1 ] || ! tty_available; then
		say "no --dsmr-version: the program detects the serial settings itself; to check the meter now: $BIN_PATH detect --serial-port $port"
		return 0
	fi
	printf 'No --dsmr-version given. Listen to the meter on %s now to find its settings (up to a minute)? [Y/n] ' "$port" >/dev/tty
	answer=
	IFS= read -r answer </dev/tty || true
	case $answer in [Nn]*) return 0 ;; esac
	if report=$("$BIN_PATH" detect --json --serial-port "$port" </dev/null); then
		found=$(printf '%s\n' "$report" | sed -n 's/.*"dsmrVersionSetting": *"\([^"]*\)".*/\1/p' | sed -n 1p)
		if [ -n "$found" ]; then
			say "meter found: --dsmr-version $found"
			OPT_DSMR_VERSION=$found
		fi
	else
		warn "no meter answered on $port; keeping --dsmr-version auto (run '$BIN_PATH detect --serial-port $port' to look again)"
	fi
}

# DSMR-reader's manual "datalogger only" set-up reads the same serial port; two readers split the telegrams.
warn_about_python_datalogger() {
	old=/etc/supervisor/conf.d/dsmr-client.conf
	[ -f "$old" ] || return 0
	warn "$old (DSMR-reader's Python datalogger) is still there and reads the same meter; when $PROGRAM works, remove it:"
	warn "  sudo supervisorctl stop dsmr_client_datalogger && sudo rm $old && sudo supervisorctl reread && sudo supervisorctl update"
}

do_uninstall() {
	if command -v supervisorctl >/dev/null 2>&1 && supervisord_reachable; then
		case $(program_state) in RUNNING | STARTING | BACKOFF) sv stop "$PROGRAM" || true ;; esac
		if [ -f "$SUPERVISOR_CONF" ]; then act rm -f "$SUPERVISOR_CONF"; fi
		sv reread
		sv update
	else
		if [ -f "$SUPERVISOR_CONF" ]; then act rm -f "$SUPERVISOR_CONF"; fi
	fi
	if [ -e "$BIN_PATH" ] || [ -L "$BIN_PATH" ]; then act rm -f "$BIN_PATH"; fi
	if [ -d "$LIB_DIR" ]; then act rm -rf "$LIB_DIR"; fi
	if [ "$PURGE" = 1 ]; then
		if [ -d "$CONF_DIR" ]; then act rm -rf "$CONF_DIR"; fi
		if [ -d "$DATA_DIR" ]; then act rm -rf "$DATA_DIR"; fi
		for log in "$PROGRAM_LOG" "$PROGRAM_LOG".*; do
			if [ -f "$log" ]; then act rm -f "$log"; fi
		done
		say "kept: user $SERVICE_USER (remove it with: userdel $SERVICE_USER) and the supervisor package"
	else
		say "kept: $CONF_DIR (settings) and $DATA_DIR (spool); --uninstall --purge removes them"
	fi
	if [ "$DRY_RUN" = 1 ]; then say "dry run: nothing was changed"; else say "$PROGRAM is uninstalled"; fi
}

# Also removes a half-written file or bundle when the run is interrupted.
cleanup() {
	if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi
	if [ -n "${STAGED:-}" ]; then rm -rf "$STAGED"; fi
	if [ "${ECHO_OFF:-0}" = 1 ]; then stty echo </dev/tty 2>/dev/null || true; fi
}

main() {
	parse_args "$@"
	validate_args
	require_root
	umask 022
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/dsmr-datalogger-install.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [ "$UNINSTALL" = 1 ]; then do_uninstall; else do_install; fi
}

main "$@"; }
