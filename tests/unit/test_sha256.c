/* common/sha256.c (OpenSSL's low-level SHA-256, linked statically) against
 * FIPS 180-4's examples and OpenSSL's EVP interface, at every length around
 * the padding boundaries, and fed in pieces; common/hex.c, the form strata writes a
 * sha256 in and the one check of it; common/layer.c's check of a digest
 * ("sha256:" and that form). */
#include <check.h>
#include <openssl/evp.h>
#include <string.h>

#include "common/hex.h"
#include "common/layer.h"
#include "common/sha256.h"
#include "run_suite.h"

START_TEST(fips_examples)
{
	unsigned char d[32];
	char h[65];
	sha256("abc", 3, d);
	hex_encode(d, sizeof d, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256("", 0, d);
	hex_encode(d, sizeof d, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256(two, strlen(two), d);
	hex_encode(d, sizeof d, h);
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

/* The streaming interface, fed the same bytes in pieces of every size
 * from 1 to 200 (crossing block boundaries each way), gives the one-shot
 * digest; FIPS 180-4's million 'a's, fed in uneven pieces. */
START_TEST(pieces_hash_as_the_whole)
{
	unsigned char buf[3000], whole[32], part[32];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 31 + 3);
	sha256(buf, sizeof buf, whole);
	for (size_t piece = 1; piece <= 200; piece++) {
		struct sha256_ctx c;
		sha256_init(&c);
		for (size_t off = 0; off < sizeof buf; off += piece)
			sha256_update(&c, buf + off, off + piece <= sizeof buf ? piece : sizeof buf - off);
		sha256_final(&c, part);
		ck_assert_msg(!memcmp(whole, part, 32), "pieces of %zu", piece);
	}
	static char a[1000000];
	memset(a, 'a', sizeof a);
	struct sha256_ctx c;
	sha256_init(&c);
	for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step * 7 % 9973 + 1)
		sha256_update(&c, a + off, off + step <= sizeof a ? step : sizeof a - off);
	sha256_final(&c, part);
	char h[65];
	hex_encode(part, 32, h);
	ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(hex_encodes_every_byte_lowercase)
{
	unsigned char raw[256];
	char out[2 * sizeof raw + 1], want[3];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)i;
	memset(out, 'x', sizeof out);
	hex_encode(raw, sizeof raw, out);
	ck_assert_uint_eq(strlen(out), 2 * sizeof raw);
	for (size_t i = 0; i < sizeof raw; i++) {
		snprintf(want, sizeof want, "%02x", raw[i]);
		ck_assert_msg(!memcmp(out + 2 * i, want, 2), "byte %zu", i);
	}
	hex_encode(raw, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(hex_of_a_sha256_round_trips)
{
	unsigned char d[32], back[32];
	char h[65];
	sha256("abc", 3, d);
	hex_encode(d, sizeof d, h);
	ck_assert(hex_sha256_valid(h));
	for (int i = 0; i < 32; i++)
		ck_assert_int_eq(sscanf(h + 2 * i, "%2hhx", &back[i]), 1);
	ck_assert(!memcmp(d, back, 32));
}
END_TEST

START_TEST(hex_check_takes_only_64_lowercase_digits)
{
	const char *good = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char s[80];
	ck_assert(hex_sha256_valid(good));
	/* uppercase */
	ck_assert(!hex_sha256_valid("00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"));
	snprintf(s, sizeof s, "%s", good);
	s[63] = 'F';
	ck_assert(!hex_sha256_valid(s));
	/* wrong length: one short, one over, empty */
	snprintf(s, sizeof s, "%.63s", good);
	ck_assert(!hex_sha256_valid(s));
	snprintf(s, sizeof s, "%s0", good);
	ck_assert(!hex_sha256_valid(s));
	ck_assert(!hex_sha256_valid(""));
	/* not hex, and a prefixed digest */
	snprintf(s, sizeof s, "%s", good);
	s[10] = 'g';
	ck_assert(!hex_sha256_valid(s));
	s[10] = '/';
	ck_assert(!hex_sha256_valid(s));
	ck_assert(!hex_sha256_valid("../../../etc/passwd"));
	snprintf(s, sizeof s, "sha256:%s", good);
	ck_assert(!hex_sha256_valid(s));
	ck_assert(!hex_sha256_valid(NULL));
}
END_TEST

/* A digest is "sha256:" and 64 lowercase hex digits: other algorithms,
 * uppercase, short ones and paths are refused. */
START_TEST(digest_is_sha256_and_its_hex)
{
	ck_assert(digest_valid("sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"));
	ck_assert(!digest_valid("sha256:CA978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"));
	ck_assert(!digest_valid("sha256:ca97"));
	ck_assert(!digest_valid("sha512:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"));
	ck_assert(!digest_valid("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"));
	ck_assert(!digest_valid("sha256:../../../../etc/passwd"));
	ck_assert(!digest_valid(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("digest");
	tcase_add_test(tc, fips_examples);
	tcase_add_test(tc, matches_openssl_at_every_length);
	tcase_add_test(tc, pieces_hash_as_the_whole);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("hex");
	tcase_add_test(th, hex_encodes_every_byte_lowercase);
	tcase_add_test(th, hex_of_a_sha256_round_trips);
	tcase_add_test(th, hex_check_takes_only_64_lowercase_digits);
	tcase_add_test(th, digest_is_sha256_and_its_hex);
	suite_add_tcase(s, th);
	return run_suite(s);
}
