/* fetch_docker.h: `sealpub fetch --docker-load`: fetch and verify to a private temp file, then load it into the engine. */
#ifndef SEALPUB_CLI_FETCH_DOCKER_H
#define SEALPUB_CLI_FETCH_DOCKER_H

#include "sealpub/sealpub.h"

/* Runs sp_fetch with o->output set to a file in a fresh private folder under
 * $TMPDIR (default /tmp), which sp_fetch creates only once every check
 * passed; then unlinks it (the open descriptor keeps the data) and hands the
 * descriptor to sp_docker_load. Nothing unverified ever reaches the engine,
 * and nothing is left in $TMPDIR. loaded gets the engine's "Loaded image"
 * lines. */
sp_status cli_fetch_docker_load(sp_fetch_opts *o, sp_fetch_result *r, char *loaded, size_t cap, sp_error *err);

#endif
