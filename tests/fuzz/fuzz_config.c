/* libFuzzer target over the configuration file as the parent reads it
 * (`stratad --config FILE`): config_load_file() (common/config.c, libinih)
 * over the defaults.  The file is the administrator's, but its bytes come
 * from wherever they wrote it.  What the parent then does with a loaded
 * configuration, hand every setting to its children as a flag, must give
 * the same configuration: each value config_get() spells is taken back by
 * config_set() unchanged, and each tenant the broker is handed as a spec
 * (tenant_spec) is parsed back the same.
 * Input: the file. */
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"
#include "fuzz.h"

static int g_fd = -1;
static char g_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (g_fd < 0) {
		g_fd = fuzz_memfd("stratad.conf");
		snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
	}
	fuzz_file_put(g_fd, data, size);
	struct config c, again;
	struct tenants t, back;
	struct err e = {0};
	config_defaults(&c);
	tenants_init(&t);
	if (config_load_file(&c, &t, g_path, &e) < 0) {
		fuzz_check_refusal("config_load_file", &e);
		tenants_free(&t);
		config_free(&c);
		return 0;
	}
	tenants_init(&back);
	for (size_t i = 0; i < t.n; i++) {
		cleanup_free char *spec = tenant_spec(&t.v[i]);
		if (tenant_parse_spec(&back, spec, &e) < 0)
			fuzz_fail("tenant `%s` as the parent passes it on is refused: %s", t.v[i].name,
				  e.msg);
		cleanup_free char *again_spec = tenant_spec(&back.v[i]);
		if (strcmp(spec, again_spec))
			fuzz_fail("a tenant changed on its way to the broker: `%s`, `%s`", spec, again_spec);
	}
	if (back.n != t.n || back.configured != t.configured)
		fuzz_fail("the tenant table changed on its way to the broker");
	tenants_free(&back);
	tenants_free(&t);
	config_defaults(&again);
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[k];
		cleanup_free char *v = config_get(&c, s);
		if (config_set(&again, s->key, v, &e) < 0)
			fuzz_fail("`%s` as the parent passes it on is refused: %s", s->key, e.msg);
		cleanup_free char *w = config_get(&again, s);
		if (strcmp(v, w))
			fuzz_fail("`%s` changed on its way to a child: `%s`, `%s`", s->key, v, w);
	}
	config_free(&again);
	config_free(&c);
	return 0;
}
