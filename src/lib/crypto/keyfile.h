/* keyfile.h: the one reader of 32-byte key files (open --key-file, SEALPUB_KEK_FILE). */
#ifndef SP_KEYFILE_H
#define SP_KEYFILE_H

#include "common/sp_common.h"

/* Reads a file holding exactly 32 raw bytes, or their standard base64
 * (whitespace ignored). `what` names the source in messages ("key file",
 * "SEALPUB_KEK_FILE"), which never echo the content. SP_ERR_USAGE on any
 * failure. Key bytes pass only through wiped buffers. */
sp_status sp_key_file_read(const char *path, const char *what, uint8_t key[32], sp_error *err) SP_MUST_USE;

#endif
