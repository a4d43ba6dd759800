#include "sort.h"

#include <string.h>

static void swap_elements(unsigned char *a, unsigned char *b, size_t size)
{
	unsigned char t[64];
	while (size > 0) {
		size_t n = size < sizeof t ? size : sizeof t;
		memcpy(t, a, n);
		memcpy(a, b, n);
		memcpy(b, t, n);
		a += n;
		b += n;
		size -= n;
	}
}

/* Moves the element at root down the heap of the first n elements until
 * neither child is greater. */
static void sift_down(unsigned char *base, size_t root, size_t n, size_t size,
		      int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
			child++;
		if (cmp(base + root * size, base + child * size) >= 0)
			return;
		swap_elements(base + root * size, base + child * size, size);
		root = child;
	}
}

void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	unsigned char *b = base;
	if (n < 2 || size == 0)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(b, i, n, size, cmp);
	for (size_t end = n - 1; end > 0; end--) {
		swap_elements(b, b + end * size, size);
		sift_down(b, 0, end, size, cmp);
	}
}
