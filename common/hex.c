#include "hex.h"

void hex_encode(const void *raw, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = raw;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_sha256_valid(const char *s)
{
	if (!s)
		return 0;
	for (int i = 0; i < SHA256_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[SHA256_HEX_LEN] == '\0';
}
