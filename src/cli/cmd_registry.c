/* cmd_registry.c: the commands that operate the registry: list, delete and rewrap. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char list_help[] =
    "usage: sealpub list [--name N] [--stage S] [--arch A] [--since T] [--limit N] [--offset N]\n"
    "                    [--registry URL] [--json]\n"
    "\n"
    "Lists published artifacts from the registry, newest first: name, stage,\n"
    "architecture, version, sizes, times, key wrapping and object key. Never\n"
    "prints a key. T is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or an age (90m,\n"
    "36h, 7d, 2w). --limit (default 100; 0 = all) and --offset page through a\n"
    "large table; --json gives next_offset for the next page.\n"
    "\n"
    "examples:\n"
    "  sealpub list --name api --stage prod\n"
    "  sealpub list --since 7d --json\n";

static const char delete_help[] =
    "usage: sealpub delete --name N --stage S [--arch A] (--version V | --older-than T | --keep-last N)\n"
    "                      [--yes] [--store URL] [--registry URL] [--lock-timeout SEC] [--json]\n"
    "\n"
    "Deletes published artifacts: the registry row first, then the object, each\n"
    "under the same claim as publish, so a delete never races a publish of that\n"
    "version and no row ever names a missing object. Without --yes nothing is\n"
    "deleted: the artifacts that would be are listed. --older-than T deletes\n"
    "versions created before T; --keep-last N keeps the newest N of\n"
    "name/stage/arch; together, only versions beyond the newest N that are also\n"
    "older than T. A fetch already downloading a deleted version fails cleanly\n"
    "(it never writes unverified output).\n"
    "\n"
    "examples:\n"
    "  sealpub delete --name api --stage dev --arch arm64 --version 1.4.2 --yes\n"
    "  sealpub delete --name api --stage dev --arch arm64 --keep-last 10 --older-than 30d --yes\n";

static void print_size(uint64_t n, char *out, size_t cap)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) v /= 1024, u++;
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void artifact_json(FILE *f, const sp_artifact *a)
{
    fprintf(f, "{\"object_key\":");
    json_string(f, a->object_key);
    json_identity(f, a->name, a->stage, a->arch, a->version);
    fprintf(f, ",\"sha256\":\"%s\",\"artifact_id\":\"%s\",\"stored_size\":%" PRIu64 ",\"plain_size\":%" PRIu64,
            a->sha256, a->artifact_id, a->size_bytes, a->plain_size);
    json_member(f, "key_wrap", a->key_wrap);
    json_member(f, "kek_id", a->kek_id[0] ? a->kek_id : NULL);
    json_member(f, "format", a->format);
    json_member(f, "created_at", a->created_at);
    json_member(f, "updated_at", a->updated_at);
    json_public_url(f, a->object_key);
    fputc('}', f);
}

/* The artifacts a command reports. In JSON mode they are gathered in memory
 * and printed with the envelope at the end, so a failure part-way still
 * prints exactly one JSON object. */
typedef struct artifact_rows {
    int json, dry_run;
    uint64_t n;
    FILE *buf;
    char *text;
    size_t len;
} artifact_rows;

/* 0, or the exit code of a failure to set up (out of memory). */
static int rows_open(artifact_rows *r, int json, const char *cmd)
{
    memset(r, 0, sizeof(*r));
    r->json = json;
    if (json && !(r->buf = open_memstream(&r->text, &r->len))) {
        sp_error e = {.status = SP_ERR_NOMEM};
        snprintf(e.msg, sizeof(e.msg), "out of memory");
        return report(cmd, &e);
    }
    return 0;
}

/* In JSON mode, a's object; 1 when it was (the caller prints text otherwise). */
static int rows_add_json(artifact_rows *r, const sp_artifact *a)
{
    if (!r->json) return 0;
    if (r->n) fputc(',', r->buf);
    artifact_json(r->buf, a);
    r->n++;
    return 1;
}

/* The gathered JSON objects, comma-separated ("" when none); freed by rows_free. */
static const char *rows_close(artifact_rows *r)
{
    if (r->buf) fclose(r->buf);
    r->buf = NULL;
    return r->text ? r->text : "";
}

static void rows_free(artifact_rows *r) { free(r->text); }

static int list_row(void *ctx, const sp_artifact *a)
{
    artifact_rows *lo = ctx;
    if (!rows_add_json(lo, a)) {
        char size[32];
        if (lo->n == 0)
            printf("%-24s %-10s %-8s %-20s %10s  %-20s  %-20s %s\n", "NAME", "STAGE", "ARCH", "VERSION", "STORED",
                   "CREATED", "KEY WRAP", "OBJECT KEY");
        print_size(a->size_bytes, size, sizeof(size));
        printf("%-24s %-10s %-8s %-20s %10s  %s  %-20s %s\n", a->name, a->stage, a->arch, a->version, size,
               a->created_at, a->key_wrap, a->object_key);
        lo->n++;
    }
    return 0;
}

int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},     {"stage", required_argument, 0, 's'},
        {"arch", required_argument, 0, 'a'},     {"since", required_argument, 0, 'S'},
        {"limit", required_argument, 0, 'l'},    {"offset", required_argument, 0, 'o'},
        {"registry", required_argument, 0, 'R'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'H'},           {0, 0, 0, 0},
    };
    sp_list_opts o;
    sp_list_opts_init(&o);
    o.limit = 100;
    int json = 0, c;
    long v;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":h", opts, "list", list_help, &opt_rc)) != -1) {
        switch (c) {
        case 'n': o.name = optarg; break;
        case 's': o.stage = optarg; break;
        case 'a': o.arch = optarg; break;
        case 'S': o.since = optarg; break;
        case 'l':
            if (parse_uint_env_or_arg("list", "--limit", optarg, 0, 1000000, &v)) return EXIT_USAGE;
            o.limit = (uint64_t)v;
            break;
        case 'o':
            if (parse_uint_env_or_arg("list", "--offset", optarg, 0, 2000000000L, &v)) return EXIT_USAGE;
            o.offset = (uint64_t)v;
            break;
        case 'R': o.registry_url = optarg; break;
        case 'j': json = 1; break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (extra_operands("list", argc, argv, 0)) return EXIT_USAGE;
    artifact_rows lo;
    int rc = rows_open(&lo, json, "list");
    if (rc) return rc;
    sp_error err = {0};
    sp_status s = sp_list(&o, list_row, &lo, &err);
    const char *rows = rows_close(&lo);
    if (s != SP_OK) {
        rows_free(&lo);
        return json ? report_json("list", &err, NULL, 0) : report("list", &err);
    }
    if (json) {
        json_begin("list", 1);
        printf(",\"artifacts\":[%s],\"count\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"next_offset\":", rows, lo.n,
               o.offset);
        rows_free(&lo);
        if (o.limit && lo.n == o.limit) printf("%" PRIu64 "}\n", o.offset + lo.n);
        else printf("null}\n");
    } else if (lo.n == 0) {
        fprintf(stderr, "sealpub list: no artifacts match\n");
    } else if (o.limit && lo.n == o.limit) {
        fprintf(stderr, "sealpub list: %" PRIu64 " shown; more with --offset %" PRIu64 "\n", lo.n, o.offset + lo.n);
    }
    return 0;
}

static int delete_row(void *ctx, const sp_artifact *a)
{
    artifact_rows *d = ctx;
    if (!rows_add_json(d, a)) {
        fprintf(stderr, "%s %s/%s/%s/%s (%s)\n", d->dry_run ? "would delete" : "deleted", a->name, a->stage, a->arch,
                a->version, a->object_key);
        d->n++;
    }
    return 0;
}

int cmd_delete(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},        {"stage", required_argument, 0, 's'},
        {"arch", required_argument, 0, 'a'},        {"version", required_argument, 0, 'v'},
        {"older-than", required_argument, 0, 'O'},  {"keep-last", required_argument, 0, 'K'},
        {"yes", no_argument, 0, 'y'},               {"store", required_argument, 0, 'S'},
        {"registry", required_argument, 0, 'R'},    {"lock-timeout", required_argument, 0, 'L'},
        {"json", no_argument, 0, 'j'},              {"help", no_argument, 0, 'H'},
        {0, 0, 0, 0},
    };
    sp_delete_opts o;
    sp_delete_opts_init(&o);
    o.dry_run = 1;
    int json = 0, c;
    long v;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":h", opts, "delete", delete_help, &opt_rc)) != -1) {
        switch (c) {
        case 'n': o.name = optarg; break;
        case 's': o.stage = optarg; break;
        case 'a': o.arch = optarg; break;
        case 'v': o.version = optarg; break;
        case 'O': o.older_than = optarg; break;
        case 'K':
            if (parse_uint_env_or_arg("delete", "--keep-last", optarg, 0, 1000000, &v)) return EXIT_USAGE;
            o.keep_last = v;
            break;
        case 'y': o.dry_run = 0; break;
        case 'S': o.store_url = optarg; break;
        case 'R': o.registry_url = optarg; break;
        case 'L':
            if (parse_uint_env_or_arg("delete", "--lock-timeout", optarg, 0, 86400, &v)) return EXIT_USAGE;
            o.lock_timeout = (double)v;
            break;
        case 'j': json = 1; break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (extra_operands("delete", argc, argv, 0)) return EXIT_USAGE;
    if (!o.name) return usage_error("delete", "--name is required");
    if (!o.stage) return usage_error("delete", "--stage is required");
    if (!o.version && !o.older_than && o.keep_last < 0)
        return usage_error("delete", "give --version, or --older-than and/or --keep-last");
    install_signals();
    o.cancel = (volatile const int *)&g_cancel;
    artifact_rows d;
    int rc = rows_open(&d, json, "delete");
    if (rc) return rc;
    d.dry_run = o.dry_run;
    unsigned count = 0;
    sp_error err = {0};
    sp_status s = sp_delete(&o, delete_row, &d, &count, &err);
    /* Success or failure, the same members: what was (or would be) deleted. */
    char *tail = NULL;
    size_t tail_len = 0;
    FILE *t = json ? open_memstream(&tail, &tail_len) : NULL;
    if (t) {
        fprintf(t, ",\"dry_run\":%s,\"artifacts\":[%s],\"count\":%u", o.dry_run ? "true" : "false", rows_close(&d),
                count);
        fclose(t);
    }
    rows_free(&d);
    if (s != SP_OK) {
        int code = report("delete", &err);
        if (json) json_error("delete", code, &err, NULL, 0, tail); /* what was deleted before the failure too */
        free(tail);
        return code;
    }
    if (json) {
        json_begin("delete", 1);
        printf("%s}\n", tail ? tail : "");
    }
    free(tail);
    if (!json && o.dry_run)
        fprintf(stderr, "dry run: %u artifact(s) would be deleted; nothing changed (pass --yes to delete)\n", count);
    else if (!json)
        fprintf(stderr, "deleted %u artifact(s)\n", count);
    return 0;
}

static const char rewrap_help[] =
    "usage: sealpub rewrap --to-kek FILE [--from-kek FILE] [--name N] [--stage S] [--arch A]\n"
    "                      [--limit N] [--dry-run] [--registry URL] [--json]\n"
    "\n"
    "Re-wraps registry keys under a new key-encryption key: rows wrapped under\n"
    "--from-kek, or, without it, rows that hold their key unwrapped. Each row is\n"
    "one compare-and-swap update, so it is always readable by exactly one of the\n"
    "two KEKs; an interrupted run resumes where it stopped (rows already under\n"
    "--to-kek are skipped). --limit rewraps at most N rows this run; --dry-run\n"
    "counts. KEK files hold 32 raw bytes or their base64. Afterwards readers\n"
    "need SEALPUB_KEK/SEALPUB_KEK_FILE set to the new KEK.\n"
    "\n"
    "examples:\n"
    "  sealpub rewrap --from-kek old.kek --to-kek new.kek --dry-run\n"
    "  sealpub rewrap --to-kek new.kek            # wrap every unwrapped key\n";

int cmd_rewrap(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from-kek", required_argument, 0, 'f'}, {"to-kek", required_argument, 0, 't'},
        {"name", required_argument, 0, 'n'},     {"stage", required_argument, 0, 's'},
        {"arch", required_argument, 0, 'a'},     {"limit", required_argument, 0, 'l'},
        {"dry-run", no_argument, 0, 'D'},        {"registry", required_argument, 0, 'R'},
        {"json", no_argument, 0, 'j'},           {"help", no_argument, 0, 'H'},
        {0, 0, 0, 0},
    };
    sp_rewrap_opts o;
    memset(&o, 0, sizeof(o));
    int json = 0, c;
    long v;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":h", opts, "rewrap", rewrap_help, &opt_rc)) != -1) {
        switch (c) {
        case 'f': o.from_kek_file = optarg; break;
        case 't': o.to_kek_file = optarg; break;
        case 'n': o.name = optarg; break;
        case 's': o.stage = optarg; break;
        case 'a': o.arch = optarg; break;
        case 'l':
            if (parse_uint_env_or_arg("rewrap", "--limit", optarg, 1, 2000000000L, &v)) return EXIT_USAGE;
            o.limit = (uint64_t)v;
            break;
        case 'D': o.dry_run = 1; break;
        case 'R': o.registry_url = optarg; break;
        case 'j': json = 1; break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (extra_operands("rewrap", argc, argv, 0)) return EXIT_USAGE;
    if (!o.to_kek_file) return usage_error("rewrap", "--to-kek FILE is required");
    install_signals();
    o.cancel = (volatile const int *)&g_cancel;
    sp_rewrap_result r;
    sp_error err = {0};
    sp_status s = sp_rewrap(&o, &r, &err);
    if (json && s == SP_OK) {
        json_begin("rewrap", 1);
        printf(",\"dry_run\":%s,\"rewrapped\":%u,\"already\":%u,\"other\":%u,\"changed\":%u,\"from_kek_id\":",
               o.dry_run ? "true" : "false", r.rewrapped, r.already, r.other, r.changed);
        if (r.from_kek_id[0]) json_string(stdout, r.from_kek_id);
        else printf("null");
        json_member(stdout, "to_kek_id", r.to_kek_id);
        printf("}\n");
    }
    if (s != SP_OK) {
        fflush(stdout);
        return json ? report_json("rewrap", &err, NULL, 0) : report("rewrap", &err);
    }
    if (!json)
        fprintf(stderr, "%s %u row(s) to KEK %s; %u already under it; %u under another KEK or unselected; %u changed "
                        "meanwhile\n",
                o.dry_run ? "would rewrap" : "rewrapped", r.rewrapped, r.to_kek_id, r.already, r.other, r.changed);
    return 0;
}
