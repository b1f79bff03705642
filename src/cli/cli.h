/* cli.h: what the command files of the sealpub CLI share (defined in main.c); the CLI uses only sealpub.h. */
#ifndef SEALPUB_CLI_H
#define SEALPUB_CLI_H

#include <signal.h>
#include <stdio.h>

#include "sealpub/sealpub.h"

#define EXIT_USAGE 2

/* Set by SIGINT/SIGTERM once install_signals ran; handed to the library as its cancel flag. */
extern volatile sig_atomic_t g_cancel;
void install_signals(void);

/* "sealpub CMD: WHAT (see 'sealpub CMD --help')" on stderr; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One command's options: the getopt_long loop every command shares.
 *     int c, opt_rc = OPTIONS_START;
 *     while ((c = next_option(argc, argv, ":", opts, "list", list_help, &opt_rc)) != -1)
 *         switch (c) { the command's own options }
 *     if (opt_rc != OPTIONS_DONE) return opt_rc;
 * The first call starts getopt afresh. --help (the long option whose value
 * is 'H', and -h where shortopts has it) prints help: opt_rc 0. An unknown
 * option or a missing value is one usage line naming it: opt_rc
 * EXIT_USAGE. After the last option opt_rc is OPTIONS_DONE; optind is the
 * first operand. */
#define OPTIONS_START (-2)
#define OPTIONS_DONE (-1)
struct option;
int next_option(int argc, char **argv, const char *shortopts, const struct option *opts, const char *cmd,
                const char *help, int *opt_rc);
/* A usage error naming the first operand past the allowed count (returns
 * EXIT_USAGE), or 0 when there are at most allowed operands from optind. */
int extra_operands(const char *cmd, int argc, char **argv, int allowed);
/* "sealpub CMD: error: WHAT" on stderr; returns the exit code. */
int report(const char *cmd, const sp_error *err);
/* ,"warnings":[...] */
void json_warnings(const char (*warnings)[256], unsigned n);
/* The failure object of --json: envelope, code, status, message, retryable,
 * warnings, then extra (JSON members starting with a comma, or NULL). */
void json_error(const char *cmd, int code, const sp_error *err, const char (*warnings)[256], unsigned nwarnings,
                const char *extra);
/* report(), plus the failure as one JSON object on stdout (--json). */
int report_json(const char *cmd, const sp_error *err, const char (*warnings)[256], unsigned nwarnings);
/* s as a JSON string literal. */
void json_string(FILE *f, const char *s);
/* ,"key":"value" (null when value is NULL). */
void json_member(FILE *f, const char *key, const char *value);
/* The identity members every command names alike: name, stage, architecture, version. */
void json_identity(FILE *f, const char *name, const char *stage, const char *arch, const char *version);
/* Machine output's envelope (docs/CLI.md, "Machine output"): opens the
 * object with {"schema":1,"command":CMD,"ok":OK; the caller adds its fields
 * (each starting with a comma) and the closing brace. */
#define SP_JSON_SCHEMA 1
void json_begin(const char *cmd, int ok);
/* ,"store":DESC,"store_parts":{scheme,bucket,prefix,region,endpoint,path}. */
void json_store(const char *desc);
/* ,"public_url":... for an object key: $SEALPUB_PUBLIC_BASE_URL/KEY (the
 * CDN in front of the store), or null when it is not set. */
void json_public_url(FILE *f, const char *object_key);
/* An integer flag or variable in lo..hi, else a usage error (returns non-zero). */
int parse_uint_env_or_arg(const char *cmd, const char *what, const char *text, long lo, long hi, long *out);

/* Commands defined outside main.c (cmd_registry.c). */
int cmd_list(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_rewrap(int argc, char **argv);

#endif
