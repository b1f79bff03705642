/* curl_compat.h: libcurl calls whose spelling changed between Debian 11's 7.74 and 7.85+. */
#ifndef SP_CURL_COMPAT_H
#define SP_CURL_COMPAT_H

#include <curl/curl.h>

/* Only http and https, redirects never followed elsewhere. 7.85 added the
 * string form and deprecated the bitmask (a warning, hence an error with
 * -Werror, on newer libcurl); 7.74 knows only the bitmask. */
#if LIBCURL_VERSION_NUM >= 0x075500
#define SP_CURL_HTTP_ONLY(e) curl_easy_setopt((e), CURLOPT_PROTOCOLS_STR, "http,https")
#else
#define SP_CURL_HTTP_ONLY(e) curl_easy_setopt((e), CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))
#endif

#endif
