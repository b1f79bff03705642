#!/usr/bin/env bash
# it_lifecycle.sh: scripts/s3-lifecycle.sh against the real radosgw: the
# AbortIncompleteMultipartUpload rule for a store prefix is installed, read
# back, replaced (not duplicated) when installed again, other rules of the
# bucket are kept, and removing the last rule deletes the configuration.
# (Whether radosgw then aborts uploads after a day is radosgw's own lifecycle
# processing; a day cannot be waited for here.)
source "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
need_env AWS_ENDPOINT_URL_S3 SEALPUB_TEST_BUCKET AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
LC=$src/scripts/s3-lifecycle.sh
bucket=$SEALPUB_TEST_BUCKET
a=it-lc-a-$$-$RANDOM
b=it-lc-b-$$-$RANDOM
trap '"$LC" remove "s3://$bucket/$a" >/dev/null 2>&1; "$LC" remove "s3://$bucket/$b" >/dev/null 2>&1; rm -rf "$WORK"' EXIT

# rules FILE: "ID PREFIX DAYS" per rule of the configuration.
rules() {
    # stderr: a `grep -q` downstream may stop reading early (EPIPE).
    python3 - "$1" 2>/dev/null <<'PY'
import sys
import xml.etree.ElementTree as ET
data = open(sys.argv[1], "rb").read().strip()
if data:
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    for r in ET.fromstring(data).iter(ns + "Rule"):
        print(r.findtext(ns + "ID"), r.findtext(ns + "Filter/" + ns + "Prefix"),
              r.findtext(ns + "AbortIncompleteMultipartUpload/" + ns + "DaysAfterInitiation"))
PY
}
show() { "$LC" show "s3://$bucket" >"$WORK/cfg.xml" && rules "$WORK/cfg.xml"; }

expect_exit 0 "install the rule for prefix a" -- "$LC" install "s3://$bucket/$a" 1
show | grep -qx "sealpub-abort-incomplete-$a $a/ 1" && ok "rule for a read back from radosgw" || bad "rule a: $(show)"
expect_exit 0 "install again with 3 days" -- "$LC" install "s3://$bucket/$a" 3
[[ $(show | grep -c "^sealpub-abort-incomplete-$a ") == 1 ]] && show | grep -qx "sealpub-abort-incomplete-$a $a/ 3" &&
    ok "installing again replaces the rule" || bad "rule a after reinstall: $(show)"
expect_exit 0 "install the rule for prefix b" -- "$LC" install "s3://$bucket/$b/" 2
show | grep -qx "sealpub-abort-incomplete-$a $a/ 3" && show | grep -qx "sealpub-abort-incomplete-$b $b/ 2" &&
    ok "the other prefix's rule is kept" || bad "rules a and b: $(show)"
expect_exit 0 "remove the rule for a" -- "$LC" remove "s3://$bucket/$a"
! show | grep -q "^sealpub-abort-incomplete-$a " && show | grep -q "^sealpub-abort-incomplete-$b " &&
    ok "a removed, b kept" || bad "after removing a: $(show)"
expect_exit 0 "remove the rule for b" -- "$LC" remove "s3://$bucket/$b"
! show | grep -q "sealpub-abort-incomplete-$b" && ok "b removed" || bad "after removing b: $(show)"
expect_exit 2 "0 days refused" -- "$LC" install "s3://$bucket/$a" 0
expect_exit 2 "a non-s3 URL refused" -- "$LC" install "file:///tmp/x" 1
finish
