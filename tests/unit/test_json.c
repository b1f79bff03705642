/* test_json.c: the small JSON reader used on the Docker Engine API's answers (common/json.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/json.h"

Test(json, member_of_the_object_itself_not_of_nested_ones)
{
    const char *doc = "{\"Config\":{\"Id\":\"nested\"},\"Id\" : \"sha256:abc\",\"RepoTags\":[\"a:1\",\"b:2\"]}";
    char out[64];
    cr_assert_eq(sp_json_string(sp_json_member(doc, "Id"), out, sizeof(out)), 0);
    cr_assert_str_eq(out, "sha256:abc");
    const char *tags = sp_json_member(doc, "RepoTags");
    cr_assert(tags && *tags == '[');
    cr_assert_null(sp_json_member(doc, "Missing"));
    cr_assert_null(sp_json_member("[1,2]", "Id"), "not an object");
    cr_assert_null(sp_json_member(NULL, "Id"));
}

Test(json, string_escapes_and_truncation)
{
    char out[64];
    cr_assert_eq(sp_json_string("\"a\\\"b\\\\c\\n\\u00e9\\u20ac\"", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "a\"b\\c\n\xc3\xa9\xe2\x82\xac");
    char small[4];
    cr_assert_eq(sp_json_string("\"abcdef\"", small, sizeof(small)), 0);
    cr_assert_str_eq(small, "abc");
    cr_assert_eq(sp_json_string("42", out, sizeof(out)), -1, "not a string");
    cr_assert_eq(sp_json_string("\"unterminated", out, sizeof(out)), -1);
    cr_assert_eq(sp_json_string("\"bad \\x escape\"", out, sizeof(out)), -1);
}

Test(json, skip_validates_and_bounds_depth)
{
    const char *stream = "{\"stream\":\"Loaded image: x:1\\n\"}\n{\"error\":null}";
    const char *end = sp_json_skip(stream);
    cr_assert(end && *end == '\n', "first object of a JSON stream ends before the newline");
    cr_assert_not_null(sp_json_skip(end));
    cr_assert_null(sp_json_skip("{\"a\":}"));
    cr_assert_null(sp_json_skip("{\"a\":1,}"));
    cr_assert_null(sp_json_skip("[1 2]"));
    cr_assert_null(sp_json_skip("tru"));
    char deep[401];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    deep[400] = 0;
    cr_assert_null(sp_json_skip(deep), "200 balanced levels of nesting refused, not recursed into");
    deep[60] = 0;
    memset(deep + 30, ']', 30);
    cr_assert_not_null(sp_json_skip(deep), "30 levels are fine");
    cr_assert_not_null(sp_json_skip("[[[[1]]]]"));
    cr_assert_not_null(sp_json_skip(" -1.5e3"));
}
