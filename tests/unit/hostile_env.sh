#!/usr/bin/env bash
# hostile_env.sh: runs the server-free unit suites once more with a shell
# environment that points every setting sealpub or libpq/libcurl reads at a
# wrong server or a bad value; they must still pass (tests/unit/hermetic.c).
# The server suites (registry_pg, s3_live, s3_faults) take their server from
# DATABASE_URL / AWS_ENDPOINT_URL_S3 by design and are left out.
# Usage: hostile_env.sh BUILD_DIR   (cd, not --test-dir: CTest 3.18 on Debian 11)
set -uo pipefail
build=${1:?usage: hostile_env.sh BUILD_DIR}
wrong=http://127.0.0.1:1
env_args=(
    PGHOST=127.0.0.1 PGPORT=1 PGUSER=hostile PGDATABASE=hostile PGPASSWORD=hostile PGSERVICE=hostile
    PGOPTIONS="-c search_path=hostile" PGSSLMODE=require PGCONNECT_TIMEOUT=1
    DATABASE_URL="postgresql://hostile@127.0.0.1:1/hostile"
    AWS_ENDPOINT_URL_S3=$wrong AWS_ENDPOINT_URL=$wrong AWS_ACCESS_KEY_ID=HOSTILE AWS_SECRET_ACCESS_KEY=hostile
    AWS_SESSION_TOKEN=hostile AWS_REGION=hostile-1 AWS_DEFAULT_REGION=hostile-1 AWS_PROFILE=hostile
    AWS_CONFIG_FILE=/nonexistent/aws-config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/aws-credentials
    AWS_CA_BUNDLE=/nonexistent AWS_EC2_METADATA_SERVICE_ENDPOINT=$wrong AWS_CONTAINER_CREDENTIALS_FULL_URI=$wrong/x
    AWS_WEB_IDENTITY_TOKEN_FILE=/nonexistent AWS_ROLE_ARN=arn:aws:iam::1:role/hostile AWS_ENDPOINT_URL_STS=$wrong
    SEALPUB_S3_TAGS=bad SEALPUB_S3_CHECKSUM=bad SEALPUB_S3_SSE=bad SEALPUB_S3_ADDRESSING_STYLE=bad
    SEALPUB_STORE=s3://hostile-bucket/x SEALPUB_REGISTRY="postgresql://hostile@127.0.0.1:1/hostile"
    SEALPUB_HOME=/nonexistent/sealpub XDG_DATA_HOME=/nonexistent SEALPUB_KEK=not-base64 SEALPUB_KEK_FILE=/nonexistent
    SEALPUB_LEVEL=99 SEALPUB_THREADS=0x SEALPUB_CHUNK_SIZE=1 SEALPUB_REGISTRY_RETRY_SECONDS=nan
    SEALPUB_S3_PART_SIZE=1 SEALPUB_S3_PARTS_IN_FLIGHT=999 SEALPUB_S3_MAX_ATTEMPTS=x SEALPUB_S3_STALL_SECONDS=0
    SEALPUB_TEST_URING_FAIL=1 SEALPUB_DEBUG=1 SEALPUB_TEST_S3=s3://hostile-bucket SEALPUB_ALLOW_HTTP=1
    http_proxy=$wrong https_proxy=$wrong HTTPS_PROXY=$wrong ALL_PROXY=$wrong SSL_CERT_FILE=/nonexistent
)
echo "== unit suites with a hostile environment: ${env_args[*]}"
cd "$build" || exit 1
env "${env_args[@]}" ctest --output-on-failure -L unit \
    -E 'unit\.test_(registry_pg|s3_live|s3_faults)$'
