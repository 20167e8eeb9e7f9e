#!/usr/bin/env bash
# The store broker's certificates: a store CA, the broker's server certificate, one client certificate per
# device (CN = its device.id) and one for the central platform (CN = platform). See README, "Fence the store
# broker", and deploy/mosquitto/.
#
#   scripts/store-pki.sh [--days N] DIR ca                  CA key and certificate (EC P-256, 10 years)
#   scripts/store-pki.sh [--days N] DIR broker HOST...      server certificate naming every HOST (DNS or IP)
#   scripts/store-pki.sh [--days N] DIR device ID           client certificate CN=ID
#   scripts/store-pki.sh [--days N] DIR platform            client certificate CN=platform
#   scripts/store-pki.sh DIR revoke ID                      revoke device ID's certificate, retire its key
#   scripts/store-pki.sh DIR crl                            the CRL, re-issued when due (or missing)
#
# Files: DIR/ca.{key,crt}, DIR/broker.{key,crt}, DIR/platform.{key,crt}, DIR/devices/ID.{key,crt}, DIR/crl.pem
# (the revocation list the broker loads; `ca` and `broker` write it when missing), DIR/ca-db/ (openssl ca's
# index and CRL number, made on first need so older DIRs keep working) and DIR/revoked/ID.SERIAL.crt.
# The CRL is valid for 365 days: Mosquitto refuses every client once it has expired (TLS alert "certificate
# expired"), and it reads the file from its own disk, so a shorter life buys no freshness, only outage risk.
# `crl` re-issues it 30 days before then; `revoke` always does. After either, copy crl.pem to the broker and
# restart Mosquitto (README, "A lost or stolen device").
# --days sets the validity of leaf certificates (default 825, the longest browsers accept; CA: 10 years).
# Idempotent: an existing key is kept, and an existing certificate is kept while it is signed by DIR's CA,
# names the same subject (and, for the broker, the same hosts), is not revoked and is not due for renewal (30 days before
# it expires, or half its validity for shorter ones); otherwise it is issued again, so a monthly run renews. Keys are written mode 0600. Keep ca.key off the broker: whoever holds it can
# mint any identity, `platform` included. Never reads stdin.
set -euo pipefail
exec </dev/null
umask 077

PROG="store-pki.sh"
CA_DAYS=3650
DEVICE_ID_RE='^[a-z0-9][a-z0-9._-]{0,63}$'
RESERVED_ID="platform"
RENEW_BEFORE_S=$((30 * 86400))
CRL_DAYS=365

usage() {
  sed -n '6,11p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
  exit 2
}

die() {
  echo "$PROG: $*" >&2
  exit 1
}

days=825
args=()
while (($#)); do
  case "$1" in
    --days)
      (($# >= 2)) || usage
      days="$2"
      shift 2
      ;;
    --days=*)
      days="${1#--days=}"
      shift
      ;;
    -h | --help) usage ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done
[[ "$days" =~ ^[1-9][0-9]{0,4}$ ]] || die "--days must be a positive number of days, got '$days'"
((${#args[@]} >= 2)) || usage
dir="${args[0]}"
kind="${args[1]}"
rest=("${args[@]:2}")

command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install openssl)"
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A private key, made once: EC P-256, mode 0600 (umask 077, and chmod for a key copied in by hand).
ensure_key() {
  local key="$1"
  if [[ ! -s "$key" ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
    echo "wrote $key"
  fi
  chmod 0600 "$key"
}

# The sorted subjectAltName entries of a certificate, one a line (empty for none).
sans_of() {
  openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
    tail -n +2 | tr ',' '\n' | sed 's/^ *//; s/IP Address:/IP:/' | grep -v '^$' | sort || true
}

# Keep a certificate only while it still says what was asked, for its key, under DIR's CA, and is not due.
cert_current() {
  local crt="$1" key="$2" cn="$3" sans="$4" valid_days="$5" renew_s
  renew_s=$((valid_days * 86400 / 2))
  ((renew_s <= RENEW_BEFORE_S)) || renew_s=$RENEW_BEFORE_S
  [[ -s "$crt" ]] || return 1
  [[ "$(openssl x509 -in "$crt" -noout -pubkey 2>/dev/null)" == "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ]] ||
    return 1
  openssl x509 -in "$crt" -noout -checkend "$renew_s" >/dev/null 2>&1 || return 1
  [[ "$(openssl x509 -in "$crt" -noout -subject -nameopt multiline 2>/dev/null |
    sed -n 's/^ *commonName *= *//p')" == "$cn" ]] || return 1
  if [[ "$crt" != "$dir/ca.crt" ]]; then
    openssl verify -CAfile "$dir/ca.crt" "$crt" >/dev/null 2>&1 || return 1
    ! revoked "$(serial_of "$crt")" || return 1
  fi
  [[ "$(sans_of "$crt")" == "$sans" ]]
}

# A certificate's serial as openssl ca's index writes it: upper-case hex, no leading zeros.
serial_of() {
  openssl x509 -in "$1" -noout -serial | sed 's/^serial=//; s/^0*//' | tr a-f A-F
}

# The serials DIR's CA database lists as revoked, one a line, in serial_of's form.
revoked_serials() {
  [[ -s "$dir/ca-db/index.txt" ]] || return 0
  awk -F'\t' '$1 == "R" { x = toupper($4); sub(/^0+/, "", x); print x }' "$dir/ca-db/index.txt"
}

revoked() {
  revoked_serials | grep -qx "$1"
}

# openssl ca's state under DIR/ca-db (made on first need, so a DIR from an older version of this script
# works) and its config in $tmp. unique_subject=no: a replacement device gets a certificate for the same CN.
ca_config() {
  [[ -s "$dir/ca.key" && -s "$dir/ca.crt" ]] || die "no CA in $dir: run '$PROG $dir ca' first"
  mkdir -p "$dir/ca-db"
  [[ -e "$dir/ca-db/index.txt" ]] || : >"$dir/ca-db/index.txt"
  [[ -s "$dir/ca-db/index.txt.attr" ]] || echo "unique_subject = no" >"$dir/ca-db/index.txt.attr"
  [[ -s "$dir/ca-db/crlnumber" ]] || echo 01 >"$dir/ca-db/crlnumber"
  cat >"$tmp/ca.cnf" <<EOF
[ca]
default_ca = store
[store]
database = $dir/ca-db/index.txt
crlnumber = $dir/ca-db/crlnumber
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_crl_days = $CRL_DAYS
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
EOF
}

# The CRL is kept while it is signed by DIR's CA, lists every revocation in the database and is not due.
crl_current() {
  local crl="$dir/crl.pem" next listed
  [[ -s "$crl" ]] || return 1
  openssl crl -in "$crl" -CAfile "$dir/ca.crt" -noout 2>&1 | grep -q '^verify OK' || return 1
  next="$(openssl crl -in "$crl" -noout -nextupdate 2>/dev/null | sed 's/^nextUpdate=//')"
  [[ -n "$next" ]] || return 1
  (($(date -d "$next" +%s) - $(date +%s) > RENEW_BEFORE_S)) || return 1
  listed="$(openssl crl -in "$crl" -noout -text | sed -n 's/^ *Serial Number: *0*//p' | sort)"
  [[ "$listed" == "$(revoked_serials | sort)" ]]
}

write_crl() {
  ca_config
  openssl ca -config "$tmp/ca.cnf" -gencrl -out "$tmp/crl.pem" 2>/dev/null
  mv "$tmp/crl.pem" "$dir/crl.pem"
  chmod 0644 "$dir/crl.pem"
  echo "wrote $dir/crl.pem (CRL, $CRL_DAYS days, $(revoked_serials | grep -c . || true) revoked)"
}

ensure_crl() {
  ca_config
  if crl_current; then
    echo "kept $dir/crl.pem"
  else
    write_crl
  fi
}

# revoke ID: revoke devices/ID.crt in the database, archive it and delete its key (the thief holds a copy of
# that key: a replacement device must get a new one), then write the CRL. Again for a revoked ID: a no-op.
revoke_device() {
  local id="$1" crt="$dir/devices/$1.crt" serial
  ca_config
  if [[ ! -s "$crt" ]]; then
    awk -F'\t' -v cn="/CN=$id" '$1 == "R" && $6 == cn { found = 1 } END { exit !found }' "$dir/ca-db/index.txt" ||
      die "no certificate $crt to revoke"
    echo "no current certificate for $id: already revoked"
    ensure_crl
    return
  fi
  openssl verify -CAfile "$dir/ca.crt" -no_check_time "$crt" >/dev/null 2>&1 ||
    die "$crt is not signed by the CA in $dir: this CA cannot revoke it"
  serial="$(serial_of "$crt")"
  if ! revoked "$serial"; then
    openssl ca -config "$tmp/ca.cnf" -revoke "$crt" -crl_reason keyCompromise 2>/dev/null
  fi
  mkdir -p "$dir/revoked"
  mv "$crt" "$dir/revoked/$id.$serial.crt"
  rm -f "$dir/devices/$id.key"
  echo "revoked $crt (serial $serial; kept as $dir/revoked/$id.$serial.crt, its key deleted)"
  write_crl
}

make_ca() {
  ensure_key "$dir/ca.key"
  if cert_current "$dir/ca.crt" "$dir/ca.key" "edge-agent store CA" "" "$CA_DAYS"; then
    echo "kept $dir/ca.crt"
    return
  fi
  openssl req -new -x509 -key "$dir/ca.key" -sha256 -days "$CA_DAYS" \
    -subj "/O=edge-agent/CN=edge-agent store CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$dir/ca.crt"
  chmod 0644 "$dir/ca.crt"
  echo "wrote $dir/ca.crt (CA, $CA_DAYS days)"
}

# issue NAME CN EKU [SAN]: DIR/NAME.key (kept if present) and DIR/NAME.crt signed by the CA.
issue() {
  local name="$1" cn="$2" eku="$3" san="${4:-}"
  local key="$dir/$name.key" crt="$dir/$name.crt" want_sans=""
  [[ -s "$dir/ca.key" && -s "$dir/ca.crt" ]] || die "no CA in $dir: run '$PROG $dir ca' first"
  if [[ -n "$san" ]]; then
    want_sans="$(tr ',' '\n' <<<"$san" | sort)"
  fi
  mkdir -p "$(dirname "$key")"
  ensure_key "$key"
  if cert_current "$crt" "$key" "$cn" "$want_sans" "$days"; then
    echo "kept $crt"
    return
  fi
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    if [[ -n "$san" ]]; then
      echo "subjectAltName=$san"
    fi
  } >"$tmp/ext.cnf"
  openssl req -new -key "$key" -subj "/CN=$cn" -out "$tmp/req.csr"
  openssl x509 -req -in "$tmp/req.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
    -extfile "$tmp/ext.cnf" -out "$crt" 2>/dev/null
  chmod 0644 "$crt"
  echo "wrote $crt (CN=$cn, $days days${san:+, $san})"
}

case "$kind" in
  ca)
    ((${#rest[@]} == 0)) || usage
    make_ca
    ensure_crl
    ;;
  broker)
    ((${#rest[@]} >= 1)) || die "broker needs at least one HOST (the names or IPs devices connect to)"
    sans=()
    for host in "${rest[@]}"; do
      if [[ "$host" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || "$host" == *:* ]]; then
        sans+=("IP:$host")
      elif [[ "$host" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$ ]]; then
        sans+=("DNS:$host")
      else
        die "not a host name or IP address: '$host'"
      fi
    done
    issue broker "${rest[0]}" serverAuth "$(IFS=,; echo "${sans[*]}")"
    ensure_crl
    ;;
  device | revoke)
    ((${#rest[@]} == 1)) || die "$kind needs exactly one ID (the device.id)"
    id="${rest[0]}"
    [[ "$id" != "$RESERVED_ID" ]] || die "'$RESERVED_ID' is the central platform's identity, not a device id"
    [[ "$id" =~ $DEVICE_ID_RE ]] || die "device id '$id' does not match $DEVICE_ID_RE"
    if [[ "$kind" == device ]]; then
      issue "devices/$id" "$id" clientAuth
    else
      revoke_device "$id"
    fi
    ;;
  platform)
    ((${#rest[@]} == 0)) || usage
    issue platform "$RESERVED_ID" clientAuth
    ;;
  crl)
    ((${#rest[@]} == 0)) || usage
    ensure_crl
    ;;
  *) usage ;;
esac
