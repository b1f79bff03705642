#!/usr/bin/env bash
# Installs (or removes) the bucket lifecycle rule that aborts multipart
# uploads left incomplete under sealpub's store prefix: the backstop for
# publishes killed with SIGKILL (Woodpecker cancels and timeouts), which
# never get to abort their own upload. Other rules of the bucket are kept:
# the bucket's configuration is read, this prefix's rule replaced, and the
# whole configuration written back.
#
# Usage: scripts/s3-lifecycle.sh install s3://BUCKET[/PREFIX] [DAYS]   (default 1 day)
#        scripts/s3-lifecycle.sh remove  s3://BUCKET[/PREFIX]
#        scripts/s3-lifecycle.sh show    s3://BUCKET
#
# Credentials and endpoint as for sealpub: AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (default us-east-1),
# AWS_ENDPOINT_URL_S3 (path-style; unset means AWS), AWS_CA_BUNDLE. Needs
# curl (7.75+, for --aws-sigv4) and python3. The rule's ID is
# "sealpub-abort-incomplete-<prefix>". Needs s3:GetLifecycleConfiguration and
# s3:PutLifecycleConfiguration on the bucket.
set -euo pipefail

die() {
    echo "s3-lifecycle: $*" >&2
    exit 2
}

cmd=${1:-}
url=${2:-}
days=${3:-1}
[[ $cmd == install || $cmd == remove || $cmd == show ]] || die "usage: $0 install|remove|show s3://BUCKET[/PREFIX] [DAYS]"
[[ $url == s3://?* ]] || die "expected s3://BUCKET[/PREFIX], got '$url'"
[[ $days =~ ^[1-9][0-9]{0,3}$ ]] || die "DAYS must be a whole number of days from 1 to 9999, not '$days'"
: "${AWS_ACCESS_KEY_ID:?s3-lifecycle: AWS_ACCESS_KEY_ID is not set}"
: "${AWS_SECRET_ACCESS_KEY:?s3-lifecycle: AWS_SECRET_ACCESS_KEY is not set}"
rest=${url#s3://}
bucket=${rest%%/*}
prefix=
[[ $rest == */* ]] && prefix=${rest#*/}
prefix=${prefix%/}
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
if [[ -n ${AWS_ENDPOINT_URL_S3:-} ]]; then
    target=${AWS_ENDPOINT_URL_S3%/}/$bucket?lifecycle=
else
    target=https://$bucket.s3.$region.amazonaws.com/?lifecycle=
fi
# curl 7.88 signs "lifecycle" without its "=" but sends it with one: write "lifecycle=".
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl_s3() {
    local extra=()
    [[ -n ${AWS_SESSION_TOKEN:-} ]] && extra+=(-H "x-amz-security-token: $AWS_SESSION_TOKEN")
    [[ -n ${AWS_CA_BUNDLE:-} ]] && extra+=(--cacert "$AWS_CA_BUNDLE")
    curl -sS --aws-sigv4 "aws:amz:$region:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "${extra[@]}" "$@"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
code=$(curl_s3 -o "$tmp/current.xml" -w '%{http_code}' -H "x-amz-content-sha256: $EMPTY_SHA" "$target")
case $code in
200) ;;
404) : >"$tmp/current.xml" ;; # NoSuchLifecycleConfiguration
*) die "GET lifecycle of $bucket: HTTP $code: $(head -c 300 "$tmp/current.xml")" ;;
esac
if [[ $cmd == show ]]; then
    cat "$tmp/current.xml"
    echo
    exit 0
fi

# Writes the new configuration to new.xml; exit 3 when it has no rule left.
rc=0
python3 - "$tmp/current.xml" "$tmp/new.xml" "$cmd" "$prefix" "$days" <<'PY' || rc=$?
import sys
import xml.etree.ElementTree as ET

cur, out, cmd, prefix, days = sys.argv[1:6]
NS = "http://s3.amazonaws.com/doc/2006-03-01/"
ET.register_namespace("", NS)
q = lambda tag: "{%s}%s" % (NS, tag)
data = open(cur, "rb").read().strip()
root = ET.fromstring(data) if data else ET.Element(q("LifecycleConfiguration"))
rule_id = "sealpub-abort-incomplete-" + (prefix or "bucket")
for rule in list(root):
    rid = rule.find(q("ID"))
    if rid is not None and rid.text == rule_id:
        root.remove(rule)
if cmd == "install":
    rule = ET.SubElement(root, q("Rule"))
    ET.SubElement(rule, q("ID")).text = rule_id
    flt = ET.SubElement(rule, q("Filter"))
    ET.SubElement(flt, q("Prefix")).text = prefix + "/" if prefix else ""
    ET.SubElement(rule, q("Status")).text = "Enabled"
    abort = ET.SubElement(rule, q("AbortIncompleteMultipartUpload"))
    ET.SubElement(abort, q("DaysAfterInitiation")).text = days
if len(root) == 0:
    sys.exit(3)
open(out, "wb").write(ET.tostring(root, encoding="UTF-8", xml_declaration=True))
PY
if ((rc == 3)); then
    code=$(curl_s3 -o "$tmp/resp" -w '%{http_code}' -X DELETE -H "x-amz-content-sha256: $EMPTY_SHA" "$target")
    [[ $code == 204 || $code == 200 ]] || die "DELETE lifecycle of $bucket: HTTP $code: $(head -c 300 "$tmp/resp")"
    echo "s3-lifecycle: removed the rule for s3://$bucket/$prefix (no rule left: configuration deleted)"
    exit 0
fi
((rc == 0)) || die "could not build the lifecycle configuration"
md5=$(openssl dgst -md5 -binary "$tmp/new.xml" | base64)
sha=$(sha256sum "$tmp/new.xml" | cut -d' ' -f1)
code=$(curl_s3 -o "$tmp/resp" -w '%{http_code}' -X PUT -H "Content-MD5: $md5" -H "x-amz-content-sha256: $sha" \
    -H "Content-Type: application/xml" --data-binary "@$tmp/new.xml" "$target")
[[ $code == 200 ]] || die "PUT lifecycle of $bucket: HTTP $code: $(head -c 300 "$tmp/resp")"
if [[ $cmd == install ]]; then
    echo "s3-lifecycle: s3://$bucket/$prefix: incomplete multipart uploads are aborted $days day(s) after they start"
else
    echo "s3-lifecycle: removed the rule for s3://$bucket/$prefix"
fi
