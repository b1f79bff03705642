/* journal.h: the local recovery journal: rows whose object was committed but not yet recorded. */
#ifndef SP_JOURNAL_H
#define SP_JOURNAL_H

#include "registry/registry.h"

/* The journal folder: $SEALPUB_RECOVERY_DIR, else <default home>/recovery;
 * created 0700 if missing. */
sp_status sp_journal_dir(char *out, size_t cap, sp_error *err);

/* Writes row (its key as the registry would hold it: wrapped when a KEK is
 * set) and the store it went to as "<dir>/<artifact_id>.row", mode 0600,
 * durably (temp file, fsync, rename, fsync of the folder). path gets the
 * file's name. */
sp_status sp_journal_write(const sp_row *row, const char *store_desc, char *path, size_t cap, sp_error *err);

/* Reads one journal file back; store_desc gets the store it names. */
sp_status sp_journal_read(const char *path, sp_row *row, char *store_desc, size_t cap, sp_error *err);

/* Removes a journal entry (its row is in the registry, or it is obsolete). */
void sp_journal_remove(const char *path);

#endif
