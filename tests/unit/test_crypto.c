/* test_crypto.c: AES-256-GCM against a published vector, tag failures, HKDF (RFC 5869), key wrap. */
#include <criterion/criterion.h>

#include "crypto/crypto.h"
#include "crypto/kek.h"

static void unhex(const char *h, uint8_t *out, size_t n) { cr_assert_eq(sp_unhex(h, out, n), 0, "%s", h); }

/* McGrew & Viega GCM spec, test case 16 (AES-256, 12-byte IV, AAD). */
Test(crypto, gcm_known_answer)
{
    uint8_t key[32], iv[12], aad[20], pt[60], ct[60], tag[16], buf[60];
    unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
    unhex("cafebabefacedbaddecaf888", iv, 12);
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aed"
          "f5aa0de657ba637b39",
          pt, 60);
    unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e"
          "6393ba7a0abcc9f662",
          ct, 60);
    uint8_t want_tag[16];
    unhex("76fc6ece0f4e1768cddf8853bb2d551b", want_tag, 16);
    sp_aead *a;
    sp_error err;
    cr_assert_eq(sp_aead_new(key, &a, &err), SP_OK);
    memcpy(buf, pt, 60);
    cr_assert_eq(sp_aead_seal(a, iv, aad, 20, buf, 60, tag, &err), SP_OK);
    cr_assert_eq(memcmp(buf, ct, 60), 0);
    cr_assert_eq(memcmp(tag, want_tag, 16), 0);
    cr_assert_eq(sp_aead_open(a, iv, aad, 20, buf, 60, tag, &err), SP_OK);
    cr_assert_eq(memcmp(buf, pt, 60), 0);
    /* Any change to ciphertext, tag, AAD or nonce fails, and wipes the output. */
    memcpy(buf, ct, 60);
    buf[0] ^= 1;
    cr_assert_eq(sp_aead_open(a, iv, aad, 20, buf, 60, tag, &err), SP_ERR_AUTH);
    for (int i = 0; i < 60; i++) cr_assert_eq(buf[i], 0);
    memcpy(buf, ct, 60);
    tag[15] ^= 0x80;
    cr_assert_eq(sp_aead_open(a, iv, aad, 20, buf, 60, tag, &err), SP_ERR_AUTH);
    tag[15] ^= 0x80;
    memcpy(buf, ct, 60);
    aad[0] ^= 1;
    cr_assert_eq(sp_aead_open(a, iv, aad, 20, buf, 60, tag, &err), SP_ERR_AUTH);
    aad[0] ^= 1;
    memcpy(buf, ct, 60);
    iv[11] ^= 1;
    cr_assert_eq(sp_aead_open(a, iv, aad, 20, buf, 60, tag, &err), SP_ERR_AUTH);
    sp_aead_free(a);
}

/* RFC 5869 test case 1: the first 32 bytes of its 42-byte OKM. */
Test(crypto, hkdf_rfc5869_case1)
{
    uint8_t ikm[22], salt[13], out[32], want[32];
    memset(ikm, 0x0b, sizeof(ikm));
    unhex("000102030405060708090a0b0c", salt, 13);
    unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf", want, 32);
    sp_error err;
    /* info is 0xf0..0xf9, passed as a C string. */
    char info[11] = {(char)0xf0, (char)0xf1, (char)0xf2, (char)0xf3, (char)0xf4, (char)0xf5,
                     (char)0xf6, (char)0xf7, (char)0xf8, (char)0xf9, 0};
    cr_assert_eq(sp_hkdf_sha256(ikm, 22, salt, 13, info, out, &err), SP_OK);
    cr_assert_eq(memcmp(out, want, 32), 0);
}

Test(crypto, sha256_streaming_equals_one_shot)
{
    uint8_t data[1000], a[32], b[32];
    for (int i = 0; i < 1000; i++) data[i] = (uint8_t)(i * 7);
    sp_sha256 *h = sp_sha256_new();
    sp_sha256_update(h, data, 1);
    sp_sha256_update(h, data + 1, 998);
    sp_sha256_update(h, data + 999, 1);
    sp_sha256_final(h, a);
    sp_sha256_free(h);
    sp_sha256_once(data, 1000, b);
    cr_assert_eq(memcmp(a, b, 32), 0);
    char hex[65];
    sp_sha256_once("abc", 3, a);
    sp_hex(a, 32, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* RFC 5649 section 6, second example (7-byte key) with the 192-bit KEK is
 * not AES-256; so: round trip, wrong-KEK failure, and the RFC's size rule. */
Test(crypto, key_wrap_round_trip_and_wrong_kek)
{
    uint8_t kek[32], kek2[32], key[32], wrapped[64], back[64];
    size_t wlen = 0, blen = 0;
    sp_error err;
    memset(kek, 1, 32);
    memset(kek2, 2, 32);
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
    cr_assert_eq(sp_key_wrap(kek, key, 32, wrapped, sizeof(wrapped), &wlen, &err), SP_OK);
    cr_assert_eq(wlen, 40);
    cr_assert_eq(sp_key_unwrap(kek, wrapped, wlen, 32, back, sizeof(back), &err), SP_OK);
    cr_assert_eq(memcmp(back, key, 32), 0);
    cr_assert_eq(sp_key_unwrap(kek2, wrapped, wlen, 32, back, sizeof(back), &err), SP_ERR_AUTH);
    wrapped[5] ^= 1;
    cr_assert_eq(sp_key_unwrap(kek, wrapped, wlen, 32, back, sizeof(back), &err), SP_ERR_AUTH);
    (void)blen;
}

Test(crypto, kek_from_environment)
{
    uint8_t kek[32];
    char id[SP_KEK_ID_LEN + 1];
    int present = -1;
    sp_error err;
    unsetenv("SEALPUB_KEK_FILE");
    unsetenv("SEALPUB_KEK");
    cr_assert_eq(sp_kek_load(kek, &present, id, &err), SP_OK);
    cr_assert_eq(present, 0);
    setenv("SEALPUB_KEK", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    cr_assert_eq(sp_kek_load(kek, &present, id, &err), SP_OK);
    cr_assert_eq(present, 1);
    cr_assert_eq(kek[31], 31);
    cr_assert_eq(strlen(id), SP_KEK_ID_LEN);
    setenv("SEALPUB_KEK", "c2hvcnQ=", 1);
    cr_assert_eq(sp_kek_load(kek, &present, id, &err), SP_ERR_USAGE);
    cr_assert_null(strstr(err.msg, "c2hvcnQ"), "the error must not echo the KEK: %s", err.msg);
    setenv("SEALPUB_KEK", "not base64 at all!", 1);
    cr_assert_eq(sp_kek_load(kek, &present, id, &err), SP_ERR_USAGE);
    unsetenv("SEALPUB_KEK");
}

Test(crypto, random_is_not_constant)
{
    uint8_t a[32], b[32];
    sp_error err;
    cr_assert_eq(sp_random(a, 32, &err), SP_OK);
    cr_assert_eq(sp_random(b, 32, &err), SP_OK);
    cr_assert_neq(memcmp(a, b, 32), 0);
}
