#!/usr/bin/env bash
# it_s3_settings.sh: publish's S3 object settings as flags (issue 15) against
# the real radosgw: --tag and --storage-class reach the object, the identity
# and artifact id are its x-amz-meta-* metadata, --json reports the settings,
# and bad values are refused before anything is uploaded. (SSE needs a TLS
# gateway with a KMS key: it_s3_creds.sh covers it through SEALPUB_S3_SSE.)
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
use_s3_and_pg it-s3-settings
head -c 2000000 /dev/urandom >"$WORK/in.bin"
P=("$B" publish "$WORK/in.bin" --name obj --stage dev --arch amd64 --content raw)
key=$bucket/$prefix/dev/obj-amd64-1.enc
expect_exit 0 "publish with --tag x2 and --storage-class" -- "${P[@]}" --version 1 --tag team=ml --tag build=7 \
    --storage-class STANDARD --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["tags"]=="team=ml,build=7" and d["storage_class"]=="STANDARD" and d["sse"] is None, d' \
    "$WORK/stdout" && ok "--json reports the settings" || bad "json: $(cat "$WORK/stdout")"
tags=$(s3_curl -f -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$key?tagging=")
[[ $tags == *"<Key>team</Key><Value>ml</Value>"* && $tags == *"<Key>build</Key><Value>7</Value>"* ]] &&
    ok "the object carries both tags" || bad "tags: $tags"
head=$(s3_curl -f -I -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$key" | tr -d '\r')
aid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifact_id"])' "$WORK/stdout")
grep -qi "^x-amz-meta-sealpub-identity: obj/dev/amd64/1$" <<<"$head" && ok "x-amz-meta-sealpub-identity" || bad "identity metadata: $head"
grep -qi "^x-amz-meta-sealpub-artifact-id: $aid$" <<<"$head" && ok "x-amz-meta-sealpub-artifact-id" || bad "artifact metadata: $head"
expect_exit 2 "--sse with an unknown mode" -- "${P[@]}" --version 2 --sse none
expect_one_line "--sse"
expect_exit 2 "--tag without =" -- "${P[@]}" --version 2 --tag nokey
expect_exit 2 "--storage-class malformed" -- "${P[@]}" --version 2 --storage-class "standard ia"
expect_exit 11 "nothing was published by the refused ones" -- "$B" fetch --name obj --stage dev --arch amd64 --version 2 --verify
finish
