/* source_docker.h: an image's `docker save` stream, pulled from the Docker Engine API (the docker-daemon: input). */
#ifndef SP_SOURCE_DOCKER_H
#define SP_SOURCE_DOCKER_H

#include "common/sp_common.h"

/* The input prefix, as in skopeo and containers-transports(5). */
#define SP_DOCKER_DAEMON_PREFIX "docker-daemon:"

typedef struct sp_docker_stream sp_docker_stream;

/* Connects to the engine (see sp_docker_connect), looks the image up
 * (GET /images/REF/json: its ID and repository tags) and starts
 * GET /images/get?names=REF. Nothing is buffered beyond what one read of
 * the socket brings. Errors (one line each): SP_ERR_USAGE for a reference
 * that is not plain; SP_ERR_INPUT for no such image, an engine that is not
 * running, a socket we may not open, an API version it refuses. */
SP_MUST_USE sp_status sp_docker_stream_open(const char *ref, volatile const int *cancel, sp_docker_stream **out,
                                            sp_error *err);

/* Fills buf with up to cap bytes of the archive: *got < cap only at the end
 * (0 once everything was read). The end counts only if the engine finished
 * the response properly; an engine that dies, or closes the connection
 * early, or answers with an error, is SP_ERR_INPUT naming the image and how
 * many bytes had arrived. */
SP_MUST_USE sp_status sp_docker_stream_read(sp_docker_stream *s, uint8_t *buf, size_t cap, size_t *got,
                                            sp_error *err);

/* "sha256:..." and the repository tags, separated by '\n'. */
const char *sp_docker_stream_image_id(const sp_docker_stream *s);
const char *sp_docker_stream_repo_tags(const sp_docker_stream *s);

/* Ends the transfer if it is still running. NULL does nothing. */
void sp_docker_stream_close(sp_docker_stream *s);

#endif
