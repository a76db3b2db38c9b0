# shellcheck shell=bash
# A throwaway MariaDB server for the import tests and benchmark, like
# DynamoDB Local: Debian's mariadb-server, a fresh data directory per run,
# listening on 127.0.0.1 only, removed when stopped. No system service is
# used or needed. Source it after scripts/lib.sh; do not run it.
#
#   ensure_mariadb            install the pinned mariadb-server/-client if missing
#   start_mariadb PORT [OPT]  start a server on 127.0.0.1:PORT (OPT: more mariadbd
#                             options); exports MYSQL_URL
#                             (mysql://qnlive:PASS@127.0.0.1:PORT/qnlive),
#                             MARIADB_PID, MARIADB_DIR, MARIADB_CLIENT_CNF. TLS is on,
#                             with a throwaway self-signed certificate for 127.0.0.1
#                             (clients: ?require_ssl=true&verify_ca=false)
#   mariadb_client [ARGS]     the `mariadb` client as that user on that database
#   mariadb_admin [ARGS]      the `mariadb` client as the server's admin (socket)
#   stop_mariadb              stop it and delete its data directory
#
# Works as root (the server runs with --user=root) and as an ordinary user,
# also inside the private network namespace of scripts/test.sh.

if ! declare -F log >/dev/null; then
    # shellcheck source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

# Debian 12 (bookworm)'s MariaDB. deb.debian.org serves only the newest
# build of a package, so when a point release replaces this one,
# ensure_mariadb installs the newer build of the same 10.11 series (with a
# warning) rather than failing; update the pin then.
MARIADB_VERSION="1:10.11.14-0+deb12u2"
MARIADB_SERIES="1:10.11."
MARIADB_DATABASE="qnlive"
MARIADB_USER="qnlive"

_mariadb_installed() {
    command -v mariadb >/dev/null && command -v mariadb-install-db >/dev/null &&
        command -v mariadb-admin >/dev/null && [ -x "$(_mariadbd)" ]
}

# mariadbd lives in /usr/sbin, which is not on every user's PATH.
_mariadbd() {
    command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd
}

# Whether the package lists offer both packages at version $1
# (`apt-cache show pkg=version` succeeds even when they do not).
_mariadb_offered() {
    local package
    for package in mariadb-server mariadb-client; do
        apt-cache madison "$package" 2>/dev/null | awk -F ' [|] ' '{ print $2 }' | grep -qxF "$1" || return 1
    done
}

ensure_mariadb() {
    if _mariadb_installed; then
        return
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    local version="$MARIADB_VERSION"
    if ! _mariadb_offered "$version"; then
        log "updating the Debian package lists (mariadb-server $version is not in them)"
        $sudo apt-get update -qq -o DPkg::Lock::Timeout=300
    fi
    if ! _mariadb_offered "$version"; then
        local candidate
        candidate="$(apt-cache policy mariadb-server | awk '/Candidate:/ { print $2 }')"
        if [[ "$candidate" != "$MARIADB_SERIES"* ]]; then
            echo "mariadb-server $version is not available (Debian offers '${candidate:-nothing}'); update MARIADB_VERSION in scripts/mariadb.sh" >&2
            return 1
        fi
        log "warning: mariadb-server $version is gone from Debian; installing $candidate of the same series"
        version="$candidate"
    fi
    log "installing mariadb-server and mariadb-client $version (Debian)"
    # The package would start a system service where one can run; the
    # scripts never use it. --no-install-recommends leaves out Perl
    # helpers, Galera and the like, which nothing here needs.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        --no-install-recommends "mariadb-server=$version" "mariadb-client=$version" >/dev/null
}

# start_mariadb PORT [mariadbd options...]: a new server on 127.0.0.1:PORT
# with its own data directory, a database and a password user, and waits
# until it answers.
start_mariadb() {
    local port="$1"
    shift
    local started=$SECONDS
    MARIADB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/qnlive-mariadb.XXXXXX")"
    local os_user
    os_user="$(id -un)"
    # As root, both tools insist on being told which account to run as.
    local as_user=()
    [ "$(id -u)" -ne 0 ] || as_user=(--user=root)
    log "starting MariaDB on 127.0.0.1:$port (data in $MARIADB_DIR)"
    # The admin account is reachable only through the socket, by this OS
    # user (unix_socket authentication, no password).
    if ! mariadb-install-db --no-defaults "${as_user[@]}" --datadir="$MARIADB_DIR/data" \
        --auth-root-authentication-method=socket --auth-root-socket-user="$os_user" \
        --skip-test-db --skip-name-resolve >"$MARIADB_DIR/install.log" 2>&1; then
        cat "$MARIADB_DIR/install.log" >&2
        echo "mariadb-install-db failed" >&2
        return 1
    fi
    # TLS with a throwaway self-signed certificate, so that the import's
    # TLS path is tested too (P-256: quick to make).
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
        -keyout "$MARIADB_DIR/tls-key.pem" -out "$MARIADB_DIR/tls-cert.pem" >"$MARIADB_DIR/tls.log" 2>&1; then
        cat "$MARIADB_DIR/tls.log" >&2
        echo "openssl could not make the test certificate" >&2
        return 1
    fi
    # --no-defaults: nothing from /etc/mysql; so the character set is said
    # here (the compiled-in default is latin1). The data is throwaway: no
    # doublewrite, no flush per commit, no binary log.
    "$(_mariadbd)" --no-defaults "${as_user[@]}" --datadir="$MARIADB_DIR/data" \
        --socket="$MARIADB_DIR/mariadb.sock" --pid-file="$MARIADB_DIR/mariadb.pid" \
        --log-error="$MARIADB_DIR/error.log" \
        --skip-networking=0 --bind-address=127.0.0.1 --port="$port" --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --innodb-buffer-pool-size=128M --innodb-doublewrite=0 --innodb-flush-log-at-trx-commit=0 \
        --skip-log-bin --max-allowed-packet=64M \
        --ssl-cert="$MARIADB_DIR/tls-cert.pem" --ssl-key="$MARIADB_DIR/tls-key.pem" \
        "$@" >"$MARIADB_DIR/stderr.log" 2>&1 &
    MARIADB_PID=$!
    MARIADB_SOCKET="$MARIADB_DIR/mariadb.sock"
    export MARIADB_PID MARIADB_DIR MARIADB_SOCKET
    local ready=""
    for _ in $(seq 1 240); do
        if mariadb-admin --no-defaults --socket="$MARIADB_SOCKET" --user="$os_user" \
            --connect-timeout=2 ping >/dev/null 2>&1; then
            ready=1
            break
        fi
        if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
            tail -n 30 "$MARIADB_DIR/stderr.log" "$MARIADB_DIR/error.log" >&2
            echo "MariaDB exited during start-up" >&2
            return 1
        fi
        sleep 0.25
    done
    if [ -z "$ready" ]; then
        tail -n 30 "$MARIADB_DIR/error.log" >&2
        echo "MariaDB did not answer within 60 s" >&2
        return 1
    fi
    # Hex: nothing in it needs escaping in a URL or in SQL.
    MARIADB_PASSWORD="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
    mariadb_admin <<SQL
CREATE DATABASE \`$MARIADB_DATABASE\` CHARACTER SET utf8mb4;
CREATE USER '$MARIADB_USER'@'127.0.0.1' IDENTIFIED BY '$MARIADB_PASSWORD';
CREATE USER '$MARIADB_USER'@'localhost' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'127.0.0.1';
GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'localhost';
SQL
    # The client reads the password from this file, never from its
    # command line (which `ps` shows).
    MARIADB_CLIENT_CNF="$MARIADB_DIR/client.cnf"
    printf '[client]\nhost=127.0.0.1\nport=%s\nuser=%s\npassword=%s\ndatabase=%s\ndefault-character-set=utf8mb4\n' \
        "$port" "$MARIADB_USER" "$MARIADB_PASSWORD" "$MARIADB_DATABASE" >"$MARIADB_CLIENT_CNF"
    chmod 600 "$MARIADB_CLIENT_CNF"
    export MARIADB_CLIENT_CNF MARIADB_PASSWORD
    export MYSQL_URL="mysql://$MARIADB_USER:$MARIADB_PASSWORD@127.0.0.1:$port/$MARIADB_DATABASE"
    log "MariaDB ready in $((SECONDS - started)) s"
}

# The mariadb client, connected over TCP as the test user to the test
# database: `mariadb_client <file.sql`, `mariadb_client -e 'SELECT 1'`.
mariadb_client() {
    mariadb --defaults-file="$MARIADB_CLIENT_CNF" "$@"
}

# The mariadb client as the server's admin, over the socket (to kill
# connections, change grants, and the like).
mariadb_admin() {
    mariadb --no-defaults --socket="$MARIADB_SOCKET" --user="$(id -un)" --default-character-set=utf8mb4 "$@"
}

stop_mariadb() {
    if [ -n "${MARIADB_PID:-}" ] && kill -0 "$MARIADB_PID" 2>/dev/null; then
        kill "$MARIADB_PID" 2>/dev/null || true
        # mariadbd shuts down cleanly on TERM, in a second or two.
        for _ in $(seq 1 120); do
            kill -0 "$MARIADB_PID" 2>/dev/null || break
            sleep 0.25
        done
        kill -KILL "$MARIADB_PID" 2>/dev/null || true
        wait "$MARIADB_PID" 2>/dev/null || true
    fi
    MARIADB_PID=""
    if [ -n "${MARIADB_DIR:-}" ] && [ -d "$MARIADB_DIR" ]; then
        rm -rf "$MARIADB_DIR"
    fi
    MARIADB_DIR=""
}
