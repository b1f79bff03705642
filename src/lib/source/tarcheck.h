/* tarcheck.h: streaming validation that a tar archive (e.g. `docker save` output) is complete. */
#ifndef SP_TARCHECK_H
#define SP_TARCHECK_H

#include "common/sp_common.h"

typedef struct sp_tarcheck sp_tarcheck;

sp_tarcheck *sp_tarcheck_new(void);
void sp_tarcheck_free(sp_tarcheck *t);
/* Does data[0..len) look like the start of a tar archive (ustar/gnu magic or a
 * valid header checksum)? len is at least 512 when used. */
int sp_tarcheck_sniff(const uint8_t *data, size_t len);
/* Feeds the next bytes of the stream, in order, any split. Returns SP_OK, or
 * SP_ERR_INPUT with a message naming the byte offset and the problem (bad
 * header checksum, data after the end marker that is not zero). */
sp_status sp_tarcheck_update(sp_tarcheck *t, const uint8_t *data, size_t len, sp_error *err);
/* At end of input: SP_OK only if every member was complete and the archive
 * ended with the two zero blocks of the end-of-archive marker; otherwise
 * SP_ERR_INPUT: "input is a truncated tar archive: ...". */
sp_status sp_tarcheck_finish(sp_tarcheck *t, sp_error *err);

#endif
