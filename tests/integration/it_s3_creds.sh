#!/usr/bin/env bash
# it_s3_creds.sh: S3 as it is configured in the field, each case against a
# real radosgw. Credentials as the AWS CLI resolves them: the shared files
# (static keys, an AWS_PROFILE, credential_process), STS AssumeRole through
# role_arn + source_profile, the EC2 instance metadata service (IMDSv2) and
# the ECS/EKS container endpoint, the chain's message when nothing is found,
# and credentials that expire in seconds in the middle of a slowed upload.
# Then, on a gateway of our own (radosgw's STS, TLS with a private CA, a DNS
# name for virtual-hosted requests, a test KMS key): STS
# AssumeRoleWithWebIdentity with a token from an OpenID Connect issuer,
# AWS_CA_BUNDLE and the profile's ca_bundle, path-style and virtual-hosted
# addressing, SSE-KMS, storage class and tags.
#
# The EC2 metadata service and the container credentials endpoint exist only
# inside AWS: they are served by creds_endpoints.py on 127.0.0.1, which
# follows their documented protocols and hands out real radosgw keys. The
# identity provider that signs web identity tokens (EKS's service account
# issuer, GitHub Actions) is likewise a local stand-in, oidc_issuer.py.
# Every other party is real: STS is radosgw's, which fetches the issuer's
# keys and checks its tokens itself.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
use_s3_and_pg it-s3-creds
need_env SEALPUB_CEPH_CONF
command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null || need_env RADOSGW_FOR_THIS_TEST
HERE=$(cd "$(dirname "$0")" && pwd)
FP=$HERE/../faults/fault_proxy.py
RA=(radosgw-admin -c "$SEALPUB_CEPH_CONF")

head -c 3000 /dev/urandom >"$WORK/small.bin"
AK=$AWS_ACCESS_KEY_ID SK=$AWS_SECRET_ACCESS_KEY
# Nothing from the environment but what each case sets: no keys, an empty
# HOME (no ~/.aws), no metadata service.
export HOME=$WORK/home-empty
mkdir -p "$HOME"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export AWS_EC2_METADATA_DISABLED=true
PUB=("$B" publish --stage dev --arch amd64 --name obj --quiet)

UID_ROT=it-creds-rot-$$
UID_STS=it-creds-sts-$$
WI_SUB=system:serviceaccount:ci:sealpub-$$ WI_OTHER_SUB=system:serviceaccount:ci:other-$$
PIDS=()
OIDC_ARNS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${OIDC_ARNS[@]}"; do iam Action=DeleteOpenIDConnectProvider "OpenIDConnectProviderArn=$p" >/dev/null 2>&1; done
    [[ -n ${GW_PID:-} ]] && kill -KILL "$GW_PID" 2>/dev/null
    "${RA[@]}" user rm --uid "$UID_ROT" --purge-data --purge-keys >/dev/null 2>&1
    "${RA[@]}" role delete --role-name "itcreds$$" >/dev/null 2>&1
    "${RA[@]}" role-policy delete --role-name "itcreds$$" --policy-name all >/dev/null 2>&1
    "${RA[@]}" role delete --role-name "itcreds$$" >/dev/null 2>&1
    "${RA[@]}" role-policy delete --role-name "itwi$$" --policy-name all >/dev/null 2>&1
    "${RA[@]}" role delete --role-name "itwi$$" >/dev/null 2>&1
    # radosgw 16 keeps a shadow user for each web identity subject it saw.
    for p in "$WI_SUB" "$WI_OTHER_SUB"; do "${RA[@]}" user rm --uid "\$oidc\$$p" --purge-data >/dev/null 2>&1; done
    "${RA[@]}" user rm --uid "$UID_STS" --purge-data --purge-keys >/dev/null 2>&1
    psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_file() { local i; for ((i = 0; i < 200; i++)); do [[ -s $1 ]] && return 0; sleep 0.05; done; return 1; }
iam() { # PARAM=VALUE...: an IAM API call to the test gateway, signed as the STS user
    local p a=()
    for p in "$@"; do a+=(--data-urlencode "$p"); done
    curl -sS --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:iam" --user "$STS_KEY:$STS_SECRET" -X POST "${a[@]}" "$GW/"
}

# ---------------------------------------------------------------- nothing configured
expect_exit 2 "no credentials anywhere" -- "${PUB[@]}" "$WORK/small.bin" --version none
expect_err_contains "S3 credentials not found; tried environment (AWS_ACCESS_KEY_ID unset); web identity" "the chain says what it tried"
expect_err_contains "shared files (no profile 'default'" "  ... the shared files"
expect_err_contains "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)" "  ... and the metadata service"
expect_one_line "no credentials"

# ---------------------------------------------------------------- shared files
mkdir -p "$WORK/aws"
cat >"$WORK/aws/credentials" <<EOF
[default]
aws_access_key_id = NOTTHEONEWEWANT0001
aws_secret_access_key = wrong
[dev]
aws_access_key_id = $AK
aws_secret_access_key = $SK
EOF
cat >"$WORK/aws/config" <<EOF
# a config file as the AWS CLI writes it
[profile dev]
region = us-east-1
s3 =
    addressing_style = path
[profile proc]
credential_process = sh -c 'echo "{\\"Version\\": 1, \\"AccessKeyId\\": \\"$AK\\", \\"SecretAccessKey\\": \\"$SK\\"}"; date >> $WORK/proc.calls'
[profile procfail]
credential_process = sh -c 'echo oops >&2; exit 3'
[profile procjunk]
credential_process = echo not-json
[profile halfkeys]
aws_access_key_id = ONLYTHEKEY000000001
EOF
export AWS_SHARED_CREDENTIALS_FILE=$WORK/aws/credentials AWS_CONFIG_FILE=$WORK/aws/config
expect_exit 0 "AWS_PROFILE=dev: keys from the credentials file" -- env AWS_PROFILE=dev "${PUB[@]}" "$WORK/small.bin" --version profile
expect_exit 0 "  ... fetched back with the same profile" -- env AWS_PROFILE=dev "$B" fetch --name obj --stage dev --arch amd64 --version profile -o "$WORK/got.bin"
cmp -s "$WORK/small.bin" "$WORK/got.bin" && ok "  ... identical" || bad "fetched content differs"
expect_exit 7 "the default profile's wrong key is used without AWS_PROFILE" -- "${PUB[@]}" "$WORK/small.bin" --version default
expect_err_contains "InvalidAccessKeyId" "  ... and radosgw refuses it"
expect_exit 2 "AWS_PROFILE naming a missing profile" -- env AWS_PROFILE=nosuch "${PUB[@]}" "$WORK/small.bin" --version nosuch
expect_err_contains "AWS_PROFILE=nosuch: no profile 'nosuch'" "  ... named"
expect_exit 2 "a profile with only an access key id" -- env AWS_PROFILE=halfkeys "${PUB[@]}" "$WORK/small.bin" --version half
expect_err_contains "profile 'halfkeys' has only one of aws_access_key_id and aws_secret_access_key" "  ... named"
expect_exit 0 "credential_process" -- env AWS_PROFILE=proc "${PUB[@]}" "$WORK/small.bin" --version proc
[[ -s $WORK/proc.calls ]] && ok "  ... the process ran" || bad "the credential process never ran"
expect_exit 2 "credential_process that fails" -- env AWS_PROFILE=procfail "${PUB[@]}" "$WORK/small.bin" --version procfail
[[ $ERR == *"oops"* && $ERR == *"credential_process of profile 'procfail' failed (exit status 3)"* ]] &&
    ok "  ... its stderr shown, then one line naming the profile" || bad "procfail: $ERR"
expect_exit 2 "credential_process that prints no JSON" -- env AWS_PROFILE=procjunk "${PUB[@]}" "$WORK/small.bin" --version procjunk
expect_err_contains "credential_process of profile 'procjunk': unreadable credentials document" "  ... named"
expect_exit 0 "environment keys win over the profile" -- env AWS_PROFILE=procfail AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" "${PUB[@]}" "$WORK/small.bin" --version envwins
unset AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE

# ---------------------------------------------------------------- metadata endpoints
CE_LOG=$WORK/ce.log
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK python3 "$HERE/creds_endpoints.py" --port-file "$WORK/ce.port" \
    --log "$CE_LOG" --auth-token "Bearer it-token" >"$WORK/ce.out" 2>&1 &
PIDS+=($!)
wait_file "$WORK/ce.port" || { echo "FAIL - creds_endpoints.py did not start: $(cat "$WORK/ce.out")"; exit 1; }
CE=http://127.0.0.1:$(cat "$WORK/ce.port")

: >"$CE_LOG"
expect_exit 0 "EC2 instance metadata (IMDSv2, local stand-in)" -- env -u AWS_EC2_METADATA_DISABLED \
    AWS_EC2_METADATA_SERVICE_ENDPOINT="$CE" "${PUB[@]}" "$WORK/small.bin" --version imds
first=$(head -n1 "$CE_LOG" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["method"], r["path"], r.get("ttl"))')
[[ $first == "PUT /latest/api/token 21600" ]] && ok "  ... a session token first (PUT with a TTL)" || bad "first IMDS request: $first"
grep -q '"status": 401' "$CE_LOG" && bad "an IMDS request without a token (IMDSv1)" || ok "  ... no request without the token"
[[ $(grep -c 'security-credentials/sealpub-test-role' "$CE_LOG") -ge 1 ]] && ok "  ... the role's credentials read" || bad "role credentials never read"
expect_exit 2 "IMDS is not tried when disabled" -- env AWS_EC2_METADATA_DISABLED=true AWS_EC2_METADATA_SERVICE_ENDPOINT="$CE" "${PUB[@]}" "$WORK/small.bin" --version imdsoff

: >"$CE_LOG"
expect_exit 0 "container credentials (ECS/EKS, local stand-in)" -- env AWS_CONTAINER_CREDENTIALS_FULL_URI="$CE/ecs/creds" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer it-token" "${PUB[@]}" "$WORK/small.bin" --version ecs
[[ $(grep -c '"path": "/ecs/creds", "status": 200' "$CE_LOG") -ge 1 ]] && ok "  ... asked with the token" || bad "ECS endpoint not asked: $(cat "$CE_LOG")"
echo "Bearer it-token" >"$WORK/ecs.token"
expect_exit 0 "container credentials with the token in a file (EKS)" -- env AWS_CONTAINER_CREDENTIALS_FULL_URI="$CE/ecs/creds" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$WORK/ecs.token" "${PUB[@]}" "$WORK/small.bin" --version ecsfile
expect_exit 2 "container credentials with a wrong token" -- env AWS_CONTAINER_CREDENTIALS_FULL_URI="$CE/ecs/creds" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong "${PUB[@]}" "$WORK/small.bin" --version ecsbad
expect_err_contains "answered HTTP 401" "  ... named"
expect_exit 2 "container credentials over plain http to a non-local host" -- env AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.invalid/creds \
    "${PUB[@]}" "$WORK/small.bin" --version ecshttp
expect_err_contains "plain http is only allowed to loopback" "  ... refused before any request"

# ---------------------------------------------------------------- expiry mid-upload
# A user of our own owns a bucket of our own; the stand-in hands out a new
# key for it on every request, valid for 6 s, and removes it from radosgw
# when it expires. The upload goes through the fault proxy, which holds
# part 2 for 8 s and then drops it, so the upload outlives several sets of
# credentials: the resent part and the parts after it must be signed with
# fresh ones (a request signed with an expired key gets 403).
"${RA[@]}" user create --uid "$UID_ROT" --display-name "it_s3_creds rotation" --access-key "ROTBASE$$" \
    --secret-key "rot-secret-$$" >/dev/null 2>&1 || { bad "radosgw-admin user create"; finish; exit 1; }
ROT_BUCKET=it-creds-rot-$$
AWS_ACCESS_KEY_ID=ROTBASE$$ AWS_SECRET_ACCESS_KEY=rot-secret-$$ s3_curl -f -X PUT -H "x-amz-content-sha256: $EMPTY_SHA" \
    "$AWS_ENDPOINT_URL_S3/$ROT_BUCKET" >/dev/null && ok "own bucket created" || bad "cannot create $ROT_BUCKET"
"${RA[@]}" key rm --uid "$UID_ROT" --key-type s3 --access-key "ROTBASE$$" >/dev/null 2>&1
ROT_LOG=$WORK/rot.log
python3 "$HERE/creds_endpoints.py" --port-file "$WORK/rot.port" --log "$ROT_LOG" --ttl 6 --grace 0.5 \
    --rotate-uid "$UID_ROT" --ceph-conf "$SEALPUB_CEPH_CONF" >"$WORK/rot.out" 2>&1 &
PIDS+=($!)
wait_file "$WORK/rot.port" || { echo "FAIL - rotating stand-in did not start: $(cat "$WORK/rot.out")"; exit 1; }
RULES=$WORK/rules.json
echo '{"tag": "expiry", "rules": [{"op": "UploadPart", "part": 2, "times": 1, "action": "stall", "after_bytes": 1048576, "seconds": 8}]}' >"$RULES"
python3 "$FP" serve --upstream "$AWS_ENDPOINT_URL_S3" --rules "$RULES" --log "$WORK/proxy.jsonl" \
    --port-file "$WORK/proxy.port" >/dev/null 2>"$WORK/proxy.err" &
PIDS+=($!)
wait_file "$WORK/proxy.port" || { echo "FAIL - the proxy did not start: $(cat "$WORK/proxy.err")"; exit 1; }
head -c $((48 * 1048576)) /dev/urandom >"$WORK/big.bin"
expect_exit 0 "48 MiB upload outliving its credentials (6 s keys, part 2 held 8 s)" -- env -u AWS_EC2_METADATA_DISABLED \
    AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(cat "$WORK/rot.port")" AWS_ENDPOINT_URL_S3="http://127.0.0.1:$(cat "$WORK/proxy.port")" \
    SEALPUB_S3_PARTS_IN_FLIGHT=2 "${PUB[@]}" "$WORK/big.bin" --version expiry --content raw --store "s3://$ROT_BUCKET/p"
keys=$(grep -c '"access_key"' "$ROT_LOG")
revoked=$(grep -c '"revoked"' "$ROT_LOG")
((keys >= 2)) && ok "  ... credentials refreshed mid-upload ($keys sets)" || bad "only $keys set(s) of credentials handed out"
((revoked >= 1)) && ok "  ... and at least one expired and was removed from radosgw during the upload ($revoked)" ||
    bad "no key expired during the upload: the test did not test expiry"
[[ $(python3 "$FP" count "$WORK/proxy.jsonl" --op UploadPart --part 2 --action stall) -ge 1 ]] && ok "  ... part 2 was held" || bad "the stall never fired"
expect_exit 0 "  ... and the object reads back" -- env -u AWS_EC2_METADATA_DISABLED \
    AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(cat "$WORK/rot.port")" \
    "$B" fetch --name obj --stage dev --arch amd64 --version expiry --store "s3://$ROT_BUCKET/p" -o "$WORK/got.bin"
cmp -s "$WORK/big.bin" "$WORK/got.bin" && ok "  ... identical" || bad "fetched content differs"
rm -f "$WORK/big.bin" "$WORK/got.bin"

# ---------------------------------------------------------------- STS AssumeRole
# radosgw's STS is off in the shared gateway, so a second radosgw on the
# same cluster (as it_faults.sh starts one) runs with an STS key and
# "rgw s3 auth use sts", plus "rgw dns name" for virtual-hosted requests
# and a test KMS key for SSE-KMS.
GW_PORT=$(free_port) TLS_PORT=$(free_port)
mkdir -p "$WORK/gw"
# A self-signed certificate for 127.0.0.1 and localhost: the TLS endpoint
# is trusted only through AWS_CA_BUNDLE or a profile's ca_bundle.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=sealpub-it -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$WORK/gw/key.pem" -out "$WORK/gw/cert.pem" >/dev/null 2>&1 || bad "openssl could not make a certificate"
# Web identity (below) needs an OpenID Connect issuer whose https
# certificate the gateway trusts. radosgw 16 (libcurl-gnutls) checks it
# against the system trust store file and has no setting that adds a CA
# (rgw_verify_ssl only turns the check off), so the test gateway runs in a mount namespace of its own
# in which the store file is a copy with the issuer's certificate added;
# nothing changes for any other process. Where mount namespaces are not
# allowed (an unprivileged container) it runs with rgw_verify_ssl=false
# instead, says so, and the untrusted-issuer check is not run.
OI=$HERE/oidc_issuer.py
python3 "$OI" init "$WORK/oidc" && python3 "$OI" init "$WORK/oidc-untrusted" || bad "oidc_issuer.py could not make its keys"
SYS_TRUST=/etc/ssl/certs/ca-certificates.crt
cat "$SYS_TRUST" "$WORK/oidc/tls.crt" >"$WORK/gw/trust.crt" 2>/dev/null
# shellcheck disable=SC2016 # expanded by the inner sh
BIND_TRUST='mount --bind "$0" '$SYS_TRUST' && exec "$@"'
if unshare --mount --propagation private -- sh -c "$BIND_TRUST" "$WORK/gw/trust.crt" true 2>/dev/null; then
    GW_RUN=(unshare --mount --propagation private -- sh -c "$BIND_TRUST" "$WORK/gw/trust.crt") GW_TLS=()
else
    GW_RUN=() GW_TLS=(--rgw-verify-ssl false)
    echo "note: no mount namespace here: the test gateway runs with rgw_verify_ssl=false and does not check the OIDC issuer's certificate"
fi
"${GW_RUN[@]}" radosgw -f -c "$SEALPUB_CEPH_CONF" -n client.rgw.itcreds "${GW_TLS[@]}" \
    --rgw-frontends "beast endpoint=127.0.0.1:$GW_PORT ssl_endpoint=127.0.0.1:$TLS_PORT ssl_certificate=$WORK/gw/cert.pem ssl_private_key=$WORK/gw/key.pem" \
    --rgw-sts-key "itcredsstskey$$$$" --rgw-s3-auth-use-sts true --rgw-dns-name localhost \
    --rgw-crypt-s3-kms-backend testing --rgw-crypt-s3-kms-encryption-keys "it-kms-key=$(openssl rand -base64 32)" \
    --rgw-crypt-require-ssl false \
    --log-file "$WORK/gw/rgw.log" --admin-socket "$WORK/gw/rgw.asok" --pid-file "$WORK/gw/pid" \
    </dev/null >"$WORK/gw/out" 2>&1 &
GW_PID=$!
disown "$GW_PID" 2>/dev/null # its end at cleanup is expected, not a job to report
for ((i = 0; i < 300; i++)); do
    [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$GW_PORT/") != 000 ]] && break
    sleep 0.2
done
GW=http://127.0.0.1:$GW_PORT
export STS_BASE_KEY=STSBASE$$
STS_KEY=$STS_BASE_KEY STS_SECRET=sts-secret-$$ ROLE=itcreds$$ STS_BUCKET=it-creds-sts-$$
"${RA[@]}" user create --uid "$UID_STS" --display-name "it_s3_creds sts" --access-key "$STS_KEY" --secret-key "$STS_SECRET" >/dev/null 2>&1 &&
    "${RA[@]}" caps add --uid "$UID_STS" --caps "roles=*" >/dev/null 2>&1 &&
    "${RA[@]}" role create --role-name "$ROLE" --path / --assume-role-policy-doc \
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam:::user/$UID_STS\"]},\"Action\":[\"sts:AssumeRole\"]}]}" >/dev/null 2>&1 &&
    "${RA[@]}" role-policy put --role-name "$ROLE" --policy-name all --policy-doc \
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::*"}]}' >/dev/null 2>&1 &&
    ok "STS user and role created" || bad "radosgw-admin could not create the STS user and role"
AWS_ENDPOINT_URL_S3=$GW AWS_ACCESS_KEY_ID=$STS_KEY AWS_SECRET_ACCESS_KEY=$STS_SECRET s3_curl -f -X PUT \
    -H "x-amz-content-sha256: $EMPTY_SHA" "$GW/$STS_BUCKET" >/dev/null && ok "STS bucket created" || bad "cannot create $STS_BUCKET"
cat >"$WORK/aws/config" <<EOF
[profile base]
aws_access_key_id = $STS_KEY
aws_secret_access_key = $STS_SECRET
[profile assumed]
role_arn = arn:aws:iam:::role/$ROLE
source_profile = base
role_session_name = it-creds
[profile badrole]
role_arn = arn:aws:iam:::role/nosuchrole
source_profile = base
[profile loop1]
role_arn = arn:aws:iam:::role/$ROLE
source_profile = loop2
[profile loop2]
role_arn = arn:aws:iam:::role/$ROLE
source_profile = loop1
EOF
STS_ENV=(env AWS_CONFIG_FILE="$WORK/aws/config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws/none" AWS_ENDPOINT_URL_S3="$GW" AWS_ENDPOINT_URL_STS="$GW")
# Through the fault proxy, which flags every request whose head carries
# the base user's access key: the STS call must, no S3 request may (they
# are signed with the role's temporary credentials).
python3 "$FP" serve --upstream "$GW" --rules "$WORK/norules.json" --log "$WORK/sts-proxy.jsonl" \
    --port-file "$WORK/sts-proxy.port" --forbid-env STS_BASE_KEY >/dev/null 2>"$WORK/sts-proxy.err" &
PIDS+=($!)
echo '{"tag": "sts", "rules": []}' >"$WORK/norules.json"
wait_file "$WORK/sts-proxy.port" || { echo "FAIL - the STS proxy did not start: $(cat "$WORK/sts-proxy.err")"; exit 1; }
SP=http://127.0.0.1:$(cat "$WORK/sts-proxy.port")
expect_exit 0 "role_arn + source_profile: STS AssumeRole, then the upload as the role" -- "${STS_ENV[@]}" AWS_PROFILE=assumed \
    AWS_ENDPOINT_URL_S3="$SP" AWS_ENDPOINT_URL_STS="$SP" "${PUB[@]}" "$WORK/small.bin" --version assumed --store "s3://$STS_BUCKET/p"
read -r sts_with s3_with s3_without < <(python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sts = [r for r in recs if r["method"] == "POST" and r["path"] == "/"]
s3 = [r for r in recs if r not in sts]
print(sum(1 for r in sts if r.get("forbidden")), sum(1 for r in s3 if r.get("forbidden")), sum(1 for r in s3 if not r.get("forbidden")))
' "$WORK/sts-proxy.jsonl")
((sts_with >= 1)) && ok "  ... STS was called with the base profile's key" || bad "no STS call signed with the base key"
((s3_with == 0 && s3_without >= 2)) && ok "  ... and every S3 request ($s3_without) was signed with the role's credentials" ||
    bad "S3 requests with the base key: $s3_with, without: $s3_without"
expect_exit 2 "a role that does not exist" -- "${STS_ENV[@]}" AWS_PROFILE=badrole "${PUB[@]}" "$WORK/small.bin" --version badrole --store "s3://$STS_BUCKET/p"
expect_err_contains "STS AssumeRole at $GW/: HTTP" "  ... STS's answer named"
expect_exit 2 "source_profile loop" -- "${STS_ENV[@]}" AWS_PROFILE=loop1 "${PUB[@]}" "$WORK/small.bin" --version loop --store "s3://$STS_BUCKET/p"
expect_err_contains "source_profile chain longer than" "  ... named"
# Web identity, first with a token no issuer known to radosgw signed (it
# names none): radosgw's STS receives it and refuses it.
echo "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJpdCJ9.c2ln" >"$WORK/wi.token"
expect_exit 2 "web identity: the token goes to STS AssumeRoleWithWebIdentity" -- "${STS_ENV[@]}" \
    AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/wi.token" AWS_ROLE_ARN="arn:aws:iam:::role/$ROLE" "${PUB[@]}" "$WORK/small.bin" --version wi --store "s3://$STS_BUCKET/p"
expect_err_contains "S3 credentials from web identity: STS AssumeRoleWithWebIdentity at $GW/: HTTP 403 AccessDenied" "  ... and STS's refusal is named"

# ---------------------------------------------------------------- STS AssumeRoleWithWebIdentity
# Then as on EKS: a token signed by an OpenID Connect issuer that radosgw
# knows. oidc_issuer.py (the local stand-in for the identity provider)
# serves its discovery document and keys over https and signs the tokens.
# The issuer is registered with radosgw as an OIDC provider through the IAM
# API (radosgw-admin 16 has no command for it) by the STS user, given the
# oidc-provider caps; a role trusts that provider (the Federated principal)
# for one subject. radosgw fetches the keys from the issuer and checks the
# signature, the expiry and the audience (the provider's client ids)
# itself. The provider also takes a ThumbprintList (the SHA-1 of the key's
# x5c certificate in radosgw 16), but radosgw 16.2.15 accepts a token
# whatever thumbprint is registered, so no check here rests on it.
for d in oidc oidc-untrusted; do
    python3 "$OI" serve "$WORK/$d" --port-file "$WORK/$d.port" --log "$WORK/$d.log" >"$WORK/$d.out" 2>&1 &
    PIDS+=($!)
done
wait_file "$WORK/oidc.port" && wait_file "$WORK/oidc-untrusted.port" ||
    { echo "FAIL - oidc_issuer.py did not start: $(cat "$WORK/oidc.out" "$WORK/oidc-untrusted.out")"; exit 1; }
ISS_HOST=127.0.0.1:$(cat "$WORK/oidc.port") UNTRUSTED_HOST=127.0.0.1:$(cat "$WORK/oidc-untrusted.port")
WI_ROLE=itwi$$ WI_AUD=sts.amazonaws.com
"${RA[@]}" caps add --uid "$UID_STS" --caps "oidc-provider=*" >/dev/null 2>&1 || bad "radosgw-admin could not give the STS user the oidc-provider caps"
for d in oidc oidc-untrusted; do
    h=127.0.0.1:$(cat "$WORK/$d.port")
    arn=$(iam Action=CreateOpenIDConnectProvider "Url=https://$h" "ClientIDList.member.1=$WI_AUD" \
        "ThumbprintList.member.1=$(cat "$WORK/$d/thumbprint")" | sed -n 's:.*<OpenIDConnectProviderArn>\(.*\)</OpenIDConnectProviderArn>.*:\1:p')
    [[ $arn == "arn:aws:iam:::oidc-provider/$h" ]] && OIDC_ARNS+=("$arn") || bad "CreateOpenIDConnectProvider for https://$h answered '$arn'"
done
"${RA[@]}" role create --role-name "$WI_ROLE" --path / --assume-role-policy-doc \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":[\"arn:aws:iam:::oidc-provider/$ISS_HOST\"]},\"Action\":[\"sts:AssumeRoleWithWebIdentity\"],\"Condition\":{\"StringEquals\":{\"$ISS_HOST:sub\":\"$WI_SUB\"}}}]}" >/dev/null 2>&1 &&
    "${RA[@]}" role-policy put --role-name "$WI_ROLE" --policy-name all --policy-doc \
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::*"}]}' >/dev/null 2>&1 &&
    ok "OIDC providers registered and a role trusting one of them created" || bad "radosgw-admin could not create the web identity role"
python3 "$OI" token "$WORK/oidc" --iss "https://$ISS_HOST" --aud "$WI_AUD" --sub "$WI_SUB" >"$WORK/wi-good.token"
WI=(env AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/wi-good.token" AWS_ROLE_ARN="arn:aws:iam:::role/$WI_ROLE")
# Through relay.py, which records every byte both ways: radosgw's STS answer
# (the temporary key and session token it issued) and every request, so
# that what each S3 request was signed with can be checked.
python3 "$HERE/relay.py" tcp:0 "tcp:$GW_PORT" --port-file "$WORK/wi-relay.port" --record "$WORK/wi.rec" >/dev/null 2>"$WORK/wi-relay.err" &
PIDS+=($!)
wait_file "$WORK/wi-relay.port" || { echo "FAIL - relay.py did not start: $(cat "$WORK/wi-relay.err")"; exit 1; }
RL=http://127.0.0.1:$(cat "$WORK/wi-relay.port")
expect_exit 0 "web identity: STS AssumeRoleWithWebIdentity with the issuer's token, then the upload as the role" -- "${WI[@]}" \
    AWS_ROLE_SESSION_NAME=it-wi-session AWS_ENDPOINT_URL_S3="$RL" AWS_ENDPOINT_URL_STS="$RL" "${PUB[@]}" "$WORK/small.bin" \
    --version wiok --store "s3://$STS_BUCKET/p"
read -r wi_creds wi_token_sent wi_session wi_signed wi_other wi_unsigned < <(python3 -c '
import re, sys
rec = open(sys.argv[1], "rb").read()
token, session = sys.argv[2].encode(), sys.argv[3].encode()
issued = dict(zip(re.findall(rb"<AccessKeyId>([^<]+)</AccessKeyId>", rec), re.findall(rb"<SessionToken>([^<]+)</SessionToken>", rec)))
signed = other = unsigned = 0
for head in re.findall(rb"(?:GET|PUT|POST|HEAD|DELETE) \S+ HTTP/1\.1\r\n(.*?)\r\n\r\n", rec, re.S):
    key = re.search(rb"(?im)^authorization: AWS4-HMAC-SHA256 Credential=([^/]+)/", head)
    tok = re.search(rb"(?im)^x-amz-security-token: (\S+)", head)
    if not key:
        unsigned += 1
    elif key.group(1) in issued and tok and tok.group(1) == issued[key.group(1)]:
        signed += 1
    else:
        other += 1
print(len(issued), int(b"WebIdentityToken=" + token in rec), int(b"assumed-role/" + session + b"<" in rec), signed, other, unsigned)
' "$WORK/wi.rec" "$(cat "$WORK/wi-good.token")" "$WI_ROLE/it-wi-session")
((wi_creds >= 1 && wi_token_sent == 1)) && ok "  ... the token went to STS, and radosgw answered with temporary credentials" ||
    bad "web identity: $wi_creds set(s) of credentials from STS, token sent: $wi_token_sent"
((wi_signed >= 2 && wi_other == 0 && wi_unsigned == wi_creds)) &&
    ok "  ... every S3 request ($wi_signed) was signed with the key radosgw issued and carried its session token" ||
    bad "S3 requests with the issued credentials: $wi_signed, with others: $wi_other; unsigned requests: $wi_unsigned"
((wi_session == 1)) && ok "  ... for the session AWS_ROLE_SESSION_NAME named" || bad "no assumed-role/$WI_ROLE/it-wi-session in STS's answer"
grep -q '"path": "/.well-known/openid-configuration", "status": 200' "$WORK/oidc.log" &&
    grep -q '"path": "/keys", "status": 200' "$WORK/oidc.log" &&
    ok "  ... radosgw fetched the issuer's discovery document and keys over https" || bad "the issuer was never asked: $(cat "$WORK/oidc.log")"
expect_exit 0 "  ... and reads back with the same token" -- "${WI[@]}" AWS_ENDPOINT_URL_S3="$GW" AWS_ENDPOINT_URL_STS="$GW" \
    "$B" fetch --name obj --stage dev --arch amd64 --version wiok --store "s3://$STS_BUCKET/p" -o "$WORK/got.bin"
cmp -s "$WORK/small.bin" "$WORK/got.bin" && ok "  ... identical" || bad "fetched content differs"
printf '[profile wi]\nrole_arn = arn:aws:iam:::role/%s\nweb_identity_token_file = %s\n' "$WI_ROLE" "$WORK/wi-good.token" >"$WORK/aws/wicfg"
expect_exit 0 "web identity from a profile (role_arn + web_identity_token_file)" -- env AWS_CONFIG_FILE="$WORK/aws/wicfg" AWS_PROFILE=wi \
    AWS_ENDPOINT_URL_S3="$GW" AWS_ENDPOINT_URL_STS="$GW" "${PUB[@]}" "$WORK/small.bin" --version wiprofile --store "s3://$STS_BUCKET/p"

# Tokens radosgw must refuse, each for its own reason, which the gateway
# logs (at its default level): the refusal is the one the case is about.
gw_logged() { tail -c "+$(($1 + 1))" "$WORK/gw/rgw.log" | grep -qF -- "$2"; }
wi_refused() { # WHAT RADOSGW'S-REASON oidc_issuer.py token ARGS...
    local what=$1 why=$2 at
    shift 2
    python3 "$OI" token "$@" >"$WORK/wi-bad.token"
    at=$(stat -c %s "$WORK/gw/rgw.log")
    expect_exit 2 "web identity refused: $what" -- env AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/wi-bad.token" \
        AWS_ROLE_ARN="arn:aws:iam:::role/$WI_ROLE" AWS_ENDPOINT_URL_S3="$GW" AWS_ENDPOINT_URL_STS="$GW" \
        "${PUB[@]}" "$WORK/small.bin" --version wibad --store "s3://$STS_BUCKET/p"
    expect_err_contains "STS AssumeRoleWithWebIdentity at $GW/: HTTP 403 AccessDenied" "  ... STS's refusal named"
    [[ -z $why ]] && return 0
    wait_until 5 gw_logged "$at" "$why" && ok "  ... for that reason: radosgw logged '$why'" || bad "radosgw did not log '$why'"
}
wi_refused "a token signed with another key" "Signature validation failed" \
    "$WORK/oidc" --iss "https://$ISS_HOST" --aud "$WI_AUD" --sub "$WI_SUB" --key "$WORK/oidc-untrusted/sign.key"
wi_refused "an expired token" "token expired" "$WORK/oidc" --iss "https://$ISS_HOST" --aud "$WI_AUD" --sub "$WI_SUB" --ttl -60
wi_refused "an audience that is not the provider's client id" "Client id in token doesn't match" \
    "$WORK/oidc" --iss "https://$ISS_HOST" --aud someone-else --sub "$WI_SUB"
wi_refused "a subject the role's trust policy does not allow" "returned deny" \
    "$WORK/oidc" --iss "https://$ISS_HOST" --aud "$WI_AUD" --sub "$WI_OTHER_SUB"
if ((${#GW_RUN[@]})); then
    wi_refused "an issuer whose https certificate the gateway does not trust" "" \
        "$WORK/oidc-untrusted" --iss "https://$UNTRUSTED_HOST" --aud "$WI_AUD" --sub "$WI_SUB"
    if wait_until 5 grep -qs '"tls_error"' "$WORK/oidc-untrusted.log" && ! grep -q '"path"' "$WORK/oidc-untrusted.log"; then
        ok "  ... radosgw did not trust the issuer's certificate and asked it nothing ($(grep -m1 -o '"tls_error": "[^"]*"' "$WORK/oidc-untrusted.log"))"
    else
        bad "radosgw and the untrusted issuer: $(cat "$WORK/oidc-untrusted.log" 2>/dev/null)"
    fi
else
    not_run "web identity refused for an issuer the gateway does not trust" "no mount namespace: the test gateway does not verify the issuer's certificate"
fi

# ---------------------------------------------------------------- addressing
# Virtual-hosted requests (BUCKET.localhost:PORT) on the gateway with
# "rgw dns name = localhost"; curl resolves *.localhost to loopback.
VH=(env AWS_ENDPOINT_URL_S3="http://localhost:$GW_PORT" AWS_ACCESS_KEY_ID="$STS_KEY" AWS_SECRET_ACCESS_KEY="$STS_SECRET")
expect_exit 0 "virtual-hosted addressing (SEALPUB_S3_ADDRESSING_STYLE=virtual)" -- "${VH[@]}" SEALPUB_S3_ADDRESSING_STYLE=virtual \
    "${PUB[@]}" "$WORK/small.bin" --version vhost --store "s3://$STS_BUCKET/p"
expect_exit 0 "  ... and path-style from the profile's s3.addressing_style" -- "${VH[@]}" AWS_CONFIG_FILE="$WORK/aws/pathcfg" \
    bash -c "printf '[default]\ns3 =\n    addressing_style = path\n' >'$WORK/aws/pathcfg'; exec \"\$@\"" _ \
    "${PUB[@]}" "$WORK/small.bin" --version pathstyle --store "s3://$STS_BUCKET/p"
expect_exit 2 "an unknown addressing style" -- "${VH[@]}" SEALPUB_S3_ADDRESSING_STYLE=dns "${PUB[@]}" "$WORK/small.bin" --version x --store "s3://$STS_BUCKET/p"
expect_err_contains "SEALPUB_S3_ADDRESSING_STYLE must be auto, path or virtual, not 'dns'" "  ... named"

# ---------------------------------------------------------------- TLS and CA bundles
TLS=(env -u AWS_CA_BUNDLE AWS_ENDPOINT_URL_S3="https://127.0.0.1:$TLS_PORT" AWS_ACCESS_KEY_ID="$STS_KEY" AWS_SECRET_ACCESS_KEY="$STS_SECRET")
expect_exit 7 "https to a gateway with a private CA, without its bundle" -- "${TLS[@]}" "${PUB[@]}" "$WORK/small.bin" --version notrust --store "s3://$STS_BUCKET/p"
expect_err_contains "certificate" "  ... the certificate problem named"
expect_exit 0 "  ... with AWS_CA_BUNDLE" -- "${TLS[@]}" AWS_CA_BUNDLE="$WORK/gw/cert.pem" "${PUB[@]}" "$WORK/small.bin" --version cabundle --store "s3://$STS_BUCKET/p"
printf '[default]\nca_bundle = %s\n' "$WORK/gw/cert.pem" >"$WORK/aws/cacfg"
expect_exit 0 "  ... with the profile's ca_bundle" -- "${TLS[@]}" AWS_CONFIG_FILE="$WORK/aws/cacfg" "${PUB[@]}" "$WORK/small.bin" --version caprofile --store "s3://$STS_BUCKET/p"
expect_exit 7 "  ... AWS_CA_BUNDLE wins over SSL_CERT_FILE" -- "${TLS[@]}" AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE="$WORK/gw/cert.pem" \
    "${PUB[@]}" "$WORK/small.bin" --version caorder --store "s3://$STS_BUCKET/p"

# ---------------------------------------------------------------- object settings
# What real buckets ask of new objects: encryption, storage class, tags.
GWC=(env AWS_ENDPOINT_URL_S3="$GW" AWS_ACCESS_KEY_ID="$STS_KEY" AWS_SECRET_ACCESS_KEY="$STS_SECRET")
head -c $((12 * 1048576)) /dev/urandom >"$WORK/mid.bin"
for size in small mid; do
    expect_exit 0 "SSE-KMS, storage class, tags ($size: $([[ $size == small ]] && echo PutObject || echo multipart))" -- \
        "${GWC[@]}" SEALPUB_S3_SSE=aws:kms SEALPUB_S3_SSE_KMS_KEY_ID=it-kms-key SEALPUB_S3_STORAGE_CLASS=STANDARD \
        SEALPUB_S3_TAGS="team=ml,purpose=model weights" "${PUB[@]}" "$WORK/$size.bin" --version "obj-$size" --content raw --store "s3://$STS_BUCKET/p"
    key=p/dev/obj-amd64-obj-$size.enc
    heads=$(AWS_ACCESS_KEY_ID=$STS_KEY AWS_SECRET_ACCESS_KEY=$STS_SECRET s3_curl -f -I -H "x-amz-content-sha256: $EMPTY_SHA" "$GW/$STS_BUCKET/$key" | tr -d '\r')
    [[ $heads == *"x-amz-server-side-encryption: aws:kms"* && $heads == *"x-amz-server-side-encryption-aws-kms-key-id: it-kms-key"* ]] &&
        ok "  ... radosgw stored it encrypted with the KMS key" || bad "no SSE-KMS in HEAD: $heads"
    tags=$(AWS_ACCESS_KEY_ID=$STS_KEY AWS_SECRET_ACCESS_KEY=$STS_SECRET s3_curl -f -H "x-amz-content-sha256: $EMPTY_SHA" "$GW/$STS_BUCKET/$key?tagging=")
    [[ $tags == *"<Key>team</Key><Value>ml</Value>"* && $tags == *"<Key>purpose</Key><Value>model weights</Value>"* ]] &&
        ok "  ... with both tags" || bad "tags: $tags"
    expect_exit 0 "  ... and reads back" -- "${GWC[@]}" "$B" fetch --name obj --stage dev --arch amd64 --version "obj-$size" --store "s3://$STS_BUCKET/p" -o "$WORK/got.bin"
    cmp -s "$WORK/$size.bin" "$WORK/got.bin" && ok "  ... identical" || bad "fetched content differs"
done
expect_exit 7 "a storage class the gateway does not have" -- "${GWC[@]}" SEALPUB_S3_STORAGE_CLASS=GLACIER "${PUB[@]}" "$WORK/small.bin" --version glacier --store "s3://$STS_BUCKET/p"
expect_err_contains "InvalidArgument" "  ... S3's code named"
expect_exit 2 "SEALPUB_S3_SSE_KMS_KEY_ID without aws:kms" -- "${GWC[@]}" SEALPUB_S3_SSE=AES256 SEALPUB_S3_SSE_KMS_KEY_ID=k "${PUB[@]}" "$WORK/small.bin" --version kmsonly --store "s3://$STS_BUCKET/p"
expect_err_contains "SEALPUB_S3_SSE_KMS_KEY_ID needs SEALPUB_S3_SSE=aws:kms" "  ... named"

finish
