/* aws_config_file.h: reading one profile from the AWS shared credentials and config files. */
#ifndef SP_AWS_CONFIG_FILE_H
#define SP_AWS_CONFIG_FILE_H

#include "store/creds.h"

/* A profile as the AWS CLI sees it: the [NAME] section of the credentials
 * file ($AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) over the
 * [profile NAME] (or [default]) section of the config file
 * ($AWS_CONFIG_FILE, else ~/.aws/config). Values live in secret memory
 * because the credentials file holds keys. */
typedef struct sp_aws_profile sp_aws_profile;

#define SP_AWS_PROFILE_ENTRIES_MAX 256
#define SP_AWS_FILE_MAX ((size_t)1 << 20)

/* Loads profile name (NULL: env->profile). SP_ERR_NOT_FOUND when neither
 * file has the section (err names the files looked at); SP_ERR_USAGE for a
 * file that exists but cannot be read or parsed. */
SP_MUST_USE sp_status sp_aws_profile_load(const sp_creds_env *env, const char *name, sp_aws_profile **out,
                                          sp_error *err);
/* A value by key, lower-case; keys of a nested section are "s3.addressing_style".
 * NULL if absent or empty. */
const char *sp_aws_profile_get(const sp_aws_profile *p, const char *key);
const char *sp_aws_profile_name(const sp_aws_profile *p);
void sp_aws_profile_free(sp_aws_profile *p);

#endif
