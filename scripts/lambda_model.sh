# shellcheck shell=bash
# What scripts/bench.sh needs for its Lambda model (BENCHMARKS.md) beyond
# DynamoDB Local: DynamoDB over TLS, as a function on Lambda reaches it, and
# a CPU quota like the share of a core Lambda gives a small function. Source
# it after scripts/lib.sh; do not run it.
#
#   ensure_socat                 install the pinned socat from Debian if missing
#   start_dynamodb_tls UPSTREAM  a TLS terminator on 127.0.0.1 in front of the
#                                plain-HTTP DynamoDB Local at 127.0.0.1:UPSTREAM,
#                                with a certificate from a throwaway CA; exports
#                                DYNAMODB_TLS_URL (https://localhost:PORT) and
#                                DYNAMODB_TLS_CA_BUNDLE (a copy of the system
#                                bundle with that CA appended; the system's own
#                                trust store is never touched)
#   start_secrets_manager_tls UPSTREAM
#                                the same, with the same certificate, in front of
#                                a local Secrets Manager (moto) at
#                                127.0.0.1:UPSTREAM, after start_dynamodb_tls;
#                                exports SECRETS_MANAGER_TLS_URL
#   stop_dynamodb_tls            stop both and delete the keys and the bundle
#   make_cpu_quota_cgroups MB PERIOD_US...
#                                one cgroup per period whose CPU quota is MB/1769
#                                of a core per period; exports LAMBDA_CPU_CGROUPS
#                                (their directories, space-separated), or leaves
#                                it empty and says why where cgroups cannot be
#                                written (not root)
#   remove_cpu_quota_cgroups     end anything left in them, and remove them

# Debian 12 (bookworm)'s socat; see scripts/mariadb.sh for why a newer
# build of the same series is taken with a warning rather than failing.
SOCAT_VERSION="1.7.4.4-2"
SOCAT_SERIES="1.7.4."

ensure_socat() {
    if command -v socat >/dev/null; then
        return
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    local version="$SOCAT_VERSION"
    if ! apt-cache madison socat 2>/dev/null | awk -F ' [|] ' '{ print $2 }' | grep -qxF "$version"; then
        $sudo apt-get update -qq -o DPkg::Lock::Timeout=300
        local candidate
        candidate="$(apt-cache policy socat | awk '/Candidate:/ { print $2 }')"
        if [ "$candidate" != "$version" ]; then
            if [[ "$candidate" != "$SOCAT_SERIES"* ]]; then
                echo "socat $version is not available (Debian offers '${candidate:-nothing}'); update SOCAT_VERSION in scripts/lambda_model.sh" >&2
                return 1
            fi
            log "warning: socat $version is gone from Debian; installing $candidate of the same series"
            version="$candidate"
        fi
    fi
    log "installing socat $version (Debian)"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        --no-install-recommends "socat=$version" >/dev/null
}

# The certificates are shaped like DynamoDB's: RSA-2048 keys, and the
# server sends its certificate and an intermediate, so the function checks
# a chain of two signatures up to a root in its bundle, as it does against
# dynamodb.REGION.amazonaws.com (Amazon Root CA 1, Amazon RSA 2048 M0x).
start_dynamodb_tls() {
    local upstream="$1" port
    port="$(free_port)"
    DYNAMODB_TLS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/qnlive-dynamodb-tls.XXXXXX")"
    local dir="$DYNAMODB_TLS_DIR"
    local system_bundle=/etc/ssl/certs/ca-certificates.crt
    if [ ! -f "$system_bundle" ]; then
        echo "no system CA bundle at $system_bundle (Debian's ca-certificates)" >&2
        return 1
    fi
    if ! {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=qnlive bench root CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$dir/root.key" -out "$dir/root.pem" &&
            openssl req -newkey rsa:2048 -nodes -subj "/CN=qnlive bench intermediate CA" \
                -keyout "$dir/intermediate.key" -out "$dir/intermediate.csr" &&
            openssl x509 -req -in "$dir/intermediate.csr" -CA "$dir/root.pem" -CAkey "$dir/root.key" \
                -CAcreateserial -days 2 -out "$dir/intermediate.pem" \
                -extfile <(printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n') &&
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
                -keyout "$dir/server.key" -out "$dir/server.csr" &&
            openssl x509 -req -in "$dir/server.csr" -CA "$dir/intermediate.pem" -CAkey "$dir/intermediate.key" \
                -CAcreateserial -days 2 -out "$dir/server.pem" \
                -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n')
    } >"$dir/openssl.log" 2>&1; then
        cat "$dir/openssl.log" >&2
        echo "openssl could not make the throwaway CA and certificate" >&2
        return 1
    fi
    cat "$dir/server.pem" "$dir/intermediate.pem" >"$dir/server-chain.pem"
    cp "$system_bundle" "$dir/ca-bundle.crt"
    cat "$dir/root.pem" >>"$dir/ca-bundle.crt"
    export DYNAMODB_TLS_CA_BUNDLE="$dir/ca-bundle.crt"
    export DYNAMODB_TLS_URL="https://localhost:$port"
    start_tls_terminator "$port" "$upstream" dynamodb DYNAMODB_TLS_PID
}

# start_secrets_manager_tls UPSTREAM: moto behind TLS, with the certificate
# start_dynamodb_tls made (the functions trust its CA through the same
# bundle), as a function on Lambda reaches Secrets Manager.
start_secrets_manager_tls() {
    local upstream="$1" port
    if [ -z "${DYNAMODB_TLS_DIR:-}" ]; then
        echo "start_secrets_manager_tls: start_dynamodb_tls first (its CA signs this certificate too)" >&2
        return 1
    fi
    port="$(free_port)"
    export SECRETS_MANAGER_TLS_URL="https://localhost:$port"
    start_tls_terminator "$port" "$upstream" secretsmanager SECRETS_MANAGER_TLS_PID
}

# start_tls_terminator PORT UPSTREAM NAME PID_VARIABLE: socat on
# 127.0.0.1:PORT with the certificate in DYNAMODB_TLS_DIR, forwarding to
# 127.0.0.1:UPSTREAM; its process id in PID_VARIABLE.
start_tls_terminator() {
    local port="$1" upstream="$2" name="$3" pid_variable="$4" dir="$DYNAMODB_TLS_DIR" pid
    log "starting a TLS terminator (socat) on 127.0.0.1:$port for $name on port $upstream"
    # One process per connection (fork); setsid puts them in a group of
    # their own, which stop_dynamodb_tls ends as a whole. nodelay on both
    # sides: without it Nagle's algorithm meets the delayed ACK (40 ms).
    setsid socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay,verify=0,cert=$dir/server-chain.pem,key=$dir/server.key" \
        "TCP:127.0.0.1:$upstream,nodelay" 2>"$dir/socat-$name.log" &
    pid=$!
    printf -v "$pid_variable" '%s' "$pid"
    for _ in $(seq 1 40); do
        if curl -s -o /dev/null --cacert "$dir/root.pem" "https://localhost:$port"; then
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$dir/socat-$name.log" >&2
            echo "socat exited during start-up" >&2
            return 1
        fi
        sleep 0.25
    done
    cat "$dir/socat-$name.log" >&2
    echo "$name did not answer through TLS on port $port within 10 s" >&2
    return 1
}

stop_dynamodb_tls() {
    local pid
    for pid in "${DYNAMODB_TLS_PID:-}" "${SECRETS_MANAGER_TLS_PID:-}"; do
        if [ -n "$pid" ]; then
            kill -- "-$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    DYNAMODB_TLS_PID=""
    SECRETS_MANAGER_TLS_PID=""
    if [ -n "${DYNAMODB_TLS_DIR:-}" ] && [ -d "$DYNAMODB_TLS_DIR" ]; then
        rm -rf "$DYNAMODB_TLS_DIR"
    fi
    DYNAMODB_TLS_DIR=""
}

# make_cpu_quota_cgroups MB PERIOD_US...: one cgroup per period, each with
# the CPU quota of MB/1769 of a core per period. cgroup v1 (a cpu
# hierarchy) or v2 (the unified one with the cpu controller), whichever the
# machine has; processes join through cgroup.procs, which bench/bench.py
# writes, and it reads the quota back from the cgroup.
make_cpu_quota_cgroups() {
    local memory_mb="$1" period quota dir
    shift
    LAMBDA_CPU_CGROUPS=""
    export LAMBDA_CPU_CGROUPS
    local v1=/sys/fs/cgroup/cpu v2=/sys/fs/cgroup version
    if [ -w "$v1" ] && [ -f "$v1/cpu.cfs_quota_us" ]; then
        version=1
    elif [ -w "$v2" ] && grep -qw cpu "$v2/cgroup.controllers" 2>/dev/null; then
        version=2
    else
        log "no writable cgroup cpu controller (run as root): the model is not checked against a real CPU quota"
        return
    fi
    for period in "$@"; do
        quota=$(((period * memory_mb + 1769 / 2) / 1769))
        if [ "$version" = 1 ]; then
            dir="$v1/qnlive-bench-$$-$period"
            mkdir "$dir"
            LAMBDA_CPU_CGROUPS="${LAMBDA_CPU_CGROUPS:+$LAMBDA_CPU_CGROUPS }$dir"
            echo "$period" >"$dir/cpu.cfs_period_us"
            echo "$quota" >"$dir/cpu.cfs_quota_us"
        else
            grep -qw cpu "$v2/cgroup.subtree_control" || echo +cpu >"$v2/cgroup.subtree_control"
            dir="$v2/qnlive-bench-$$-$period"
            mkdir "$dir"
            LAMBDA_CPU_CGROUPS="${LAMBDA_CPU_CGROUPS:+$LAMBDA_CPU_CGROUPS }$dir"
            echo "$quota $period" >"$dir/cpu.max"
        fi
        log "cgroup $dir: $quota us of CPU per $period us ($memory_mb MB of 1769)"
    done
}

remove_cpu_quota_cgroups() {
    local dir pid
    for dir in ${LAMBDA_CPU_CGROUPS:-}; do
        [ -d "$dir" ] || continue
        # Normally empty: bench.py ends the functions it starts. Whatever is
        # left (bench.py itself killed) is one of them: end it, since a
        # cgroup with processes cannot be removed.
        while read -r pid; do
            kill -KILL "$pid" 2>/dev/null || true
        done <"$dir/cgroup.procs"
        for _ in $(seq 1 20); do
            rmdir "$dir" 2>/dev/null && break
            sleep 0.1
        done
        [ ! -d "$dir" ] || log "could not remove $dir"
    done
    LAMBDA_CPU_CGROUPS=""
}
