/* layerfd: libstrata-client's layer calls, for tests/integration/install.sh,
 * which builds it against an installed library with `pkg-config --cflags
 * --libs strata-client` alone (it includes only the public headers).
 *
 *   layerfd apply KEY    applies the layer on stdin to active snapshot KEY
 *   layerfd diff KEY     writes KEY's changes as an uncompressed tar to stdout
 *
 * Connects to $STRATA_ADDRESS (or the default).  Prints the result on
 * stderr as `diff_id DIGEST entries N` and exits 0; on failure prints
 * `layerfd: STATUS: message` and exits 1 (2: usage). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <strata/client.h>

int main(int argc, char **argv)
{
	struct strata_error e;
	struct strata_layer l;
	struct strata_client *c;
	int rc = -1;
	if (argc != 3 || (strcmp(argv[1], "apply") != 0 && strcmp(argv[1], "diff") != 0)) {
		fprintf(stderr, "usage: layerfd apply|diff KEY\n");
		return 2;
	}
	if ((c = strata_connect(NULL, &e))) {
		if (strcmp(argv[1], "apply") == 0) {
			rc = strata_apply_layer(c, argv[2], STDIN_FILENO, NULL, &l, &e);
		} else {
			struct strata_diff_opts o = {.media_type = "application/vnd.oci.image.layer.v1.tar"};
			rc = strata_diff_layer(c, argv[2], STDOUT_FILENO, &o, &l, &e);
		}
		strata_disconnect(c);
	}
	if (rc < 0) {
		fprintf(stderr, "layerfd: %s: %s\n", strata_status_name(e.code), e.message);
		return 1;
	}
	fprintf(stderr, "diff_id %s entries %lld\n", l.diff_id, (long long)l.entries);
	return 0;
}
