/* json.h: just enough JSON reading for the Docker Engine API's answers (no allocation, bounded depth). */
#ifndef SP_JSON_H
#define SP_JSON_H

#include <stddef.h>

/* Returns a pointer just past the JSON value that starts at p (leading
 * whitespace allowed), or NULL if it is malformed or nested deeper than 64. */
const char *sp_json_skip(const char *p);

/* Finds key among the members of the object that starts at obj and returns
 * a pointer to its value (whitespace skipped), or NULL if obj is not an
 * object or has no such member. Only the object's own members are looked
 * at, never nested ones. */
const char *sp_json_member(const char *obj, const char *key);

/* Decodes the JSON string at p into out (always terminated, truncated to
 * cap-1 bytes). Returns 0, or -1 if p is not a string. */
int sp_json_string(const char *p, char *out, size_t cap);

#endif
