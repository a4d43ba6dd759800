/* common/sha256.c against FIPS 180-4's examples and OpenSSL, at every length
 * around the padding boundaries. */
#include <check.h>
#include <openssl/evp.h>
#include <string.h>

#include "common/sha256.h"

static void hex(const unsigned char d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

START_TEST(fips_examples)
{
	unsigned char d[32];
	char h[65];
	sha256("abc", 3, d);
	hex(d, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256("", 0, d);
	hex(d, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256(two, strlen(two), d);
	hex(d, h);
	ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(matches_openssl_at_every_length)
{
	unsigned char buf[5000], a[32], b[32];
	unsigned int n;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (size_t len = 0; len < sizeof buf; len += len < 300 ? 1 : 97) {
		sha256(buf, len, a);
		ck_assert_int_eq(EVP_Digest(buf, len, b, &n, EVP_sha256(), NULL), 1);
		ck_assert_msg(!memcmp(a, b, 32), "length %zu", len);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("digest");
	tcase_add_test(tc, fips_examples);
	tcase_add_test(tc, matches_openssl_at_every_length);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
